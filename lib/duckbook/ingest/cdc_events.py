"""Change events of PostgreSQL logical decoding (wal2json format version 2), parsed and tabled.

Pure: no database, no files. :func:`decode` turns the ``data`` column of
``pg_logical_slot_peek_changes`` into whole :class:`Transaction` s; :func:`events_table` lays a
batch of them out as the Arrow table the raw zone stores (see :data:`EVENT_SCHEMA`).

Values keep PostgreSQL's own text form (the output function's text; numbers are the exact digits
wal2json wrote, never a float), so ``numeric(38, 10)`` keeps every digit and the apply step casts
with the column's recorded type. An update carries only the columns it has: PostgreSQL leaves
unchanged TOAST values out, and :func:`decode` names them in ``unchanged`` so the apply step keeps
the old value instead of writing a null.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from duckbook.errors import DuckbookError

#: the operations of a landed event: insert, update, delete, truncate, and a snapshot row
OPS = ("I", "U", "D", "T", "S")

_TEXT_MAP = pa.map_(pa.string(), pa.string())

#: the columns of a landed batch; (commit_lsn, seq) is the unique key of an event
EVENT_SCHEMA = pa.schema(
    [
        ("commit_lsn", pa.int64()),  # LSN of the commit record (the snapshot's consistent point for "S")
        ("seq", pa.int32()),  # position of the event in its transaction (COPY events share an lsn)
        ("lsn", pa.int64()),  # LSN of the change record itself
        ("xid", pa.int64()),
        ("commit_time", pa.timestamp("us", tz="UTC")),
        ("op", pa.string()),  # one of OPS
        ("table_name", pa.string()),  # "schema.table"
        ("values", _TEXT_MAP),  # new row (I, U, S): column -> PostgreSQL text, null for SQL NULL
        ("identity", _TEXT_MAP),  # old key (U when the key changed, D); the old row under REPLICA IDENTITY FULL
        ("unchanged", pa.list_(pa.string())),  # U: unchanged TOAST columns left out of values: keep the old value
    ]
)


class ChangeStreamError(DuckbookError):
    """The change stream holds something this consumer cannot read (a broken transaction)."""


def parse_lsn(text: str) -> int:
    """An LSN ``"X/Y"`` as one integer (bytes into the WAL).

    >>> parse_lsn("0/192C070")
    26394736
    >>> parse_lsn("1/0")
    4294967296
    """
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(lsn: int) -> str:
    """The ``"X/Y"`` form PostgreSQL prints.

    >>> format_lsn(parse_lsn("A/1B2C"))
    'A/1B2C'
    """
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


@dataclass(frozen=True, slots=True)
class Event:
    """One row change: ``op`` (I, U, D, T), the table, the change's LSN, and its values."""

    op: str
    table: str
    lsn: int
    values: dict[str, str | None] | None = None
    identity: dict[str, str | None] | None = None
    unchanged: tuple[str, ...] = ()


@dataclass(slots=True)
class Transaction:
    """A committed transaction: its id, commit LSN, end LSN (``nextlsn``), time and events."""

    xid: int
    commit_lsn: int
    end_lsn: int
    commit_time: datetime
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class TableSchema:
    """The columns (name -> PostgreSQL type, in table order) and key of a captured table."""

    columns: dict[str, str]
    key: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the position file and a batch's metadata."""
        return {"columns": [[n, t] for n, t in self.columns.items()], "key": list(self.key)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableSchema:
        """Inverse of :meth:`to_json`."""
        return cls(dict(data["columns"]), tuple(data["key"]))


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """A column that appeared (``added``) or disappeared (``dropped``) in the stream of a table.

    ``fill`` is the value an added column has in the rows that existed before it (``ADD COLUMN
    ... DEFAULT 3`` sends no change for them); PostgreSQL keeps it as the column's missing value.
    """

    table: str
    column: str
    type: str
    change: str
    commit_lsn: int
    fill: str | None = None


def _text(value: Any) -> str | None:
    # numbers arrive as their exact text (parse_int / parse_float = str); booleans as JSON literals
    if value is None or isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value)


def _row(items: list[dict[str, Any]]) -> dict[str, str | None]:
    return {c["name"]: _text(c["value"]) for c in items}


# one decoder for every message: numbers stay text, so no float ever rounds a numeric
_loads = json.JSONDecoder(parse_int=str, parse_float=str).decode


_Seen = dict[tuple[str, tuple[str, ...], bool], tuple[str, ...]]


def _track(
    schemas: dict[str, TableSchema],
    table: str,
    columns: list[dict[str, Any]],
    full: bool,
    commit_lsn: int,
    seen: _Seen,
) -> tuple[tuple[str, ...], list[SchemaChange]]:
    """Update the known columns of ``table`` from an event; return the columns it left out and
    the schema changes it shows (an insert carries every column, so a missing one was dropped).
    ``seen`` remembers the answer per column list until a schema changes (most events repeat one)."""
    names = tuple(c["name"] for c in columns)
    hit = seen.get((table, names, full))
    if hit is not None:
        return hit, []
    schema = schemas.get(table)
    if schema is None:
        schema = schemas[table] = TableSchema({}, ())
    changes = []
    present = set()
    for c in columns:
        name = c["name"]
        present.add(name)
        if name not in schema.columns:
            schema.columns[name] = c["type"]
            changes.append(SchemaChange(table, name, c["type"], "added", commit_lsn))
    missing = tuple(n for n in schema.columns if n not in present)
    if full and missing:
        for name in missing:
            changes.append(SchemaChange(table, name, schema.columns.pop(name), "dropped", commit_lsn))
        missing = ()
    if changes:
        seen.clear()
    seen[(table, names, full)] = missing
    return missing, changes


def decode(lines: Iterable[str], schemas: dict[str, TableSchema]) -> tuple[list[Transaction], list[SchemaChange]]:
    """Parse wal2json v2 messages (B, I, U, D, T, C) into whole transactions.

    ``schemas`` (table -> :class:`TableSchema`) is updated in place as columns appear or go.
    Transactions without a row change of a captured table (wal2json sends B/C for every
    transaction) are returned with no events: they still move the position.

    >>> msgs = [
    ...     '{"action":"B","xid":7,"timestamp":"2026-01-02 03:04:05.5+00","lsn":"0/20","nextlsn":"0/28"}',
    ...     '{"action":"U","xid":7,"lsn":"0/10","schema":"s","table":"t","columns":'
    ...     '[{"name":"id","type":"integer","value":2},{"name":"n","type":"numeric(9,4)","value":1.5000}],'
    ...     '"identity":[{"name":"id","type":"integer","value":1}]}',
    ...     '{"action":"C","xid":7,"timestamp":"2026-01-02 03:04:05.5+00","lsn":"0/20","nextlsn":"0/28"}',
    ... ]
    >>> known = {"s.t": TableSchema({"id": "integer", "n": "numeric(9,4)", "doc": "text"}, ("id",))}
    >>> [tx], changes = decode(msgs, known)
    >>> tx.commit_lsn, tx.end_lsn, changes
    (32, 40, [])
    >>> e = tx.events[0]
    >>> e.op, e.values, e.identity, e.unchanged
    ('U', {'id': '2', 'n': '1.5000'}, {'id': '1'}, ('doc',))
    """
    out: list[Transaction] = []
    changes: list[SchemaChange] = []
    tx: Transaction | None = None
    seen: _Seen = {}
    for line in lines:
        msg = _loads(line)
        action = msg["action"]
        if action == "B":
            tx = Transaction(
                int(msg["xid"]),
                parse_lsn(msg["lsn"]),
                parse_lsn(msg["nextlsn"]),
                datetime.fromisoformat(msg["timestamp"]),
            )
            continue
        if tx is None:
            raise ChangeStreamError(f"wal2json message {action!r} outside a transaction: {line[:200]}")
        if action == "C":
            out.append(tx)
            tx = None
        elif action in ("I", "U"):
            table = f"{msg['schema']}.{msg['table']}"
            left_out, found = _track(schemas, table, msg["columns"], action == "I", tx.commit_lsn, seen)
            changes.extend(found)
            identity = _row(msg["identity"]) if "identity" in msg else None
            tx.events.append(Event(action, table, parse_lsn(msg["lsn"]), _row(msg["columns"]), identity, left_out))
        elif action == "D":
            table = f"{msg['schema']}.{msg['table']}"
            tx.events.append(Event("D", table, parse_lsn(msg["lsn"]), None, _row(msg["identity"])))
        elif action == "T":
            tx.events.append(Event("T", f"{msg['schema']}.{msg['table']}", parse_lsn(msg["lsn"])))
        elif action != "M":  # logical messages (pg_logical_emit_message) are not table changes
            raise ChangeStreamError(f"unknown wal2json action {action!r}: {line[:200]}")
    if tx is not None:
        raise ChangeStreamError(f"transaction {tx.xid} has no commit in this batch (peek cut a transaction)")
    return out, changes


def _text_maps(rows: list[dict[str, str | None] | None]) -> pa.Array:
    """A ``map<string, string>`` array built from flat keys, items and offsets (fast)."""
    offsets = [0]
    keys: list[str] = []
    items: list[str | None] = []
    valid = []
    for row in rows:
        if row is not None:
            keys.extend(row)
            items.extend(row.values())
        offsets.append(len(keys))
        valid.append(row is not None)
    mask = None if all(valid) else pa.array([not v for v in valid])
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(items, pa.string()), mask=mask
    )


def events_table(transactions: Iterable[Transaction]) -> pa.Table:
    """The landed form of ``transactions``' events (:data:`EVENT_SCHEMA`), in commit order."""
    cols: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names}
    for tx in transactions:
        n = len(tx.events)
        cols["commit_lsn"] += [tx.commit_lsn] * n
        cols["seq"] += range(n)
        cols["xid"] += [tx.xid] * n
        cols["commit_time"] += [tx.commit_time] * n
        for e in tx.events:
            cols["lsn"].append(e.lsn)
            cols["op"].append(e.op)
            cols["table_name"].append(e.table)
            cols["values"].append(e.values)
            cols["identity"].append(e.identity)
            cols["unchanged"].append(e.unchanged)
    arrays = {
        name: _text_maps(cols[name])
        if name in ("values", "identity")
        else pa.array(cols[name], EVENT_SCHEMA.field(name).type)
        for name in EVENT_SCHEMA.names
    }
    return pa.table(arrays, schema=EVENT_SCHEMA)


def snapshot_table(
    table: str, names: list[str], rows: Iterable[tuple[str | None, ...]], lsn: int, taken: datetime
) -> pa.Table:
    """Rows of the initial snapshot as ``S`` events at the slot's consistent point ``lsn``.

    >>> t = snapshot_table("public.c", ["id", "name"], [("1", "ann"), ("2", None)], 0x10, datetime(2026, 1, 1))
    >>> t.column("values").to_pylist(), t.column("seq").to_pylist(), t.column("identity").null_count
    ([[('id', '1'), ('name', 'ann')], [('id', '2'), ('name', None)]], [0, 1], 2)
    """
    rows = list(rows)
    n, k = len(rows), len(names)
    items = [value for row in rows for value in row]
    values = pa.MapArray.from_arrays(
        pa.array(range(0, n * k + 1, k or 1) if k else [0] * (n + 1), pa.int32()),
        pa.array(names * n, pa.string()),
        pa.array(items, pa.string()),
    )
    return pa.table(
        {
            "commit_lsn": [lsn] * n,
            "seq": list(range(n)),
            "lsn": [lsn] * n,
            "xid": [0] * n,
            "commit_time": [taken] * n,
            "op": ["S"] * n,
            "table_name": [table] * n,
            "values": values,
            "identity": pa.nulls(n, EVENT_SCHEMA.field("identity").type),
            "unchanged": [[]] * n,
        },
        schema=EVENT_SCHEMA,
    )
