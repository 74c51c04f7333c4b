"""A CDC source's VERSIONS: one table's landed events turned into one row per (key, transaction).

A landed file (:mod:`duckbook.ingest.cdc_store`) holds events (``I``, ``U``, ``D``, ``T``, ``S``) of
every table of a slot. For one table, :class:`Fold` makes its versions: for each transaction and
each key it touched, the row as it stood after the transaction (PostgreSQL text), with

* ``_cdc_lsn``: the commit LSN (snapshot rows: the slot's consistent point),
* ``_cdc_seq``: the position in the transaction of the last event that touched the key,
* ``_cdc_committed_at``: the commit time (naive UTC; snapshot rows: the snapshot time),
* ``_cdc_op``: ``upsert``, ``delete`` (key columns only) or ``truncate`` (every column null:
  every row before it is gone).

A primary-key change is a ``delete`` of the old key and an ``upsert`` of the new one. An update
carries only the columns it changed among unchanged TOAST values (``unchanged`` names those left
out): they come from the row before, so the fold is seeded with the current rows of the keys a
file touches (``seed``: the raw table's rows as text) and keeps its state from file to file.
A column added mid-stream takes its ``fill`` (PostgreSQL's missing value) in rows no event
carried it for. Rolled-back transactions never reach us: wal2json sends commits only.

Pure: Arrow in, Arrow out, no engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

Key = tuple[str | None, ...]
Row = dict[str, str | None]
#: the columns a version carries besides the table's, and their Arrow types
VERSION_FIELDS = (
    pa.field("_cdc_lsn", pa.int64()),
    pa.field("_cdc_seq", pa.int64()),
    pa.field("_cdc_committed_at", pa.timestamp("us")),
    pa.field("_cdc_op", pa.string()),
)
VERSION_COLUMNS = tuple(f.name for f in VERSION_FIELDS)
OPS = ("upsert", "delete", "truncate")
_GONE = -1  # the event index of a re-snapshot's deletes: they come before its first row


def table_events(events: pa.Table, table: str) -> pa.Table:
    """The events of ``table`` (``schema.table``) in apply order: commit LSN, snapshot rows first, seq."""
    mine = events.filter(pc.equal(events["table_name"], table))
    # snapshot rows carry the slot's consistent point as commit LSN: they come before its changes
    flagged = mine.append_column("_change", pc.not_equal(mine["op"], "S"))
    order = [("commit_lsn", "ascending"), ("_change", "ascending"), ("seq", "ascending")]
    return flagged.sort_by(order).drop(["_change"])


def _key(row: Mapping[str, str | None], key: Sequence[str]) -> Key:
    return tuple(row.get(k) for k in key)


def _rows(maps: pa.ChunkedArray) -> list[Row | None]:
    """A ``map<string, string>`` column as dicts, built from its flat keys and items (several
    times faster than ``to_pylist``)."""
    out: list[Row | None] = []
    for chunk in maps.chunks:
        offsets, keys, items = chunk.offsets.to_pylist(), chunk.keys.to_pylist(), chunk.items.to_pylist()
        valid = chunk.is_valid().to_pylist()
        out += [
            dict(zip(keys[offsets[i] : offsets[i + 1]], items[offsets[i] : offsets[i + 1]], strict=True))
            if valid[i]
            else None
            for i in range(len(chunk))
        ]
    return out


def _touched(values: list[Row | None], identities: list[Row | None], key: Sequence[str]) -> list[Key]:
    seen: dict[Key, None] = {}
    for rows in (values, identities):
        for row in rows:
            if row:
                seen.setdefault(_key(row, key), None)
    return list(seen)


def touched_keys(events: pa.Table, table: str, key: Sequence[str]) -> list[Key]:
    """Every key the events of ``table`` name (new rows and old identities), in first-seen order.

    >>> from duckbook.ingest.cdc_events import snapshot_table
    >>> import datetime as dt
    >>> touched_keys(snapshot_table("s.t", ["id", "n"], [("1", "a"), ("2", "b")], 5, dt.datetime(2026, 1, 1)), "s.t", ["id"])
    [('1',), ('2',)]
    """
    mine = events.filter(pc.equal(events["table_name"], table))
    return _touched(_rows(mine["values"]), _rows(mine["identity"]), key)


class Fold:
    """One table's rows as text, carried from landed file to landed file while versions are made.

    ``key`` is the contract's key columns; ``fills`` the text an added column takes in rows no
    event carried it for; ``seed`` reads the current rows of keys the fold has not seen (from the
    raw table; keys it lacks are absent). After a truncate the seed is never read again.
    """

    def __init__(
        self,
        table: str,
        key: Sequence[str],
        *,
        seed: Callable[[list[Key]], Mapping[Key, Row]] | None = None,
        fills: Mapping[str, str | None] | None = None,
    ) -> None:
        self.table, self.key = table, tuple(key)
        self.fills = dict(fills or {})
        self._seed = seed
        self.state: dict[Key, Row | None] = {}  # None: known absent

    def _prime(self, values: list[Row | None], identities: list[Row | None]) -> None:
        """Read the seed rows of the keys the events touch that the fold does not know yet."""
        if self._seed is None:
            return
        unknown = [k for k in _touched(values, identities, self.key) if k not in self.state]
        if unknown:
            found = self._seed(unknown)
            for k in unknown:
                self.state[k] = found.get(k)

    def versions(
        self,
        events: pa.Table,
        columns: Sequence[str],
        *,
        gone: Iterable[Key] = (),
        gone_at: tuple[int, dt.datetime] | None = None,
    ) -> pa.Table:
        """The versions of one landed file's events of the table (see the module docstring), as
        text ``columns`` then :data:`VERSION_COLUMNS`, in (``_cdc_lsn``, ``_cdc_seq``) order.

        ``gone``: keys a new snapshot no longer has (a re-snapshot after a lost slot), deleted
        before its rows at ``gone_at`` (its consistent point and time)."""
        mine = table_events(events, self.table)
        lsns = mine["commit_lsn"].to_pylist()
        seqs = mine["seq"].to_pylist()
        ops = mine["op"].to_pylist()
        values, identities = _rows(mine["values"]), _rows(mine["identity"])
        self._prime(values, identities)
        out = _Out(columns, self.key, self.fills, gone_at)
        for k in gone:
            self.state[k] = None
            out.delete(k, _GONE, 0)
        pending: dict[Key, tuple[int, Row | None]] = {}
        truncated: int | None = None
        for i, op in enumerate(ops):
            if i and lsns[i] != lsns[i - 1]:
                out.flush(pending, truncated, i - 1)
                pending, truncated = {}, None
            seq = seqs[i]
            if op == "T":
                pending.clear()
                self.state.clear()
                self._seed = None  # every row before it is gone: the raw table has nothing to give
                truncated = seq
                continue
            new, identity = values[i], identities[i]
            old_key = _key(identity, self.key) if identity else None
            if op == "D":
                assert old_key is not None, f"{self.table}: a delete without identity at LSN {lsns[i]}"
                self._put(pending, old_key, seq, None)
                continue
            assert new is not None
            new_key = _key(new, self.key)
            if op == "U":
                before_key = old_key if old_key is not None else new_key
                before = self.state.get(before_key)
                if before_key != new_key:
                    self._put(pending, before_key, seq, None)
                new = {**(before or {}), **new}
            self._put(pending, new_key, seq, new)
        if ops:
            out.flush(pending, truncated, len(ops) - 1)
        return out.table(mine)

    def _put(self, pending: dict[Key, tuple[int, Row | None]], key: Key, seq: int, row: Row | None) -> None:
        """Record the key's row (``None``: deleted) as of event ``seq`` of the transaction."""
        pending.pop(key, None)  # keep pending in order of each key's last event
        pending[key] = (seq, row)
        self.state[key] = row


class _Out:
    """The version rows being built, column by column; each remembers the event it was made at
    (its commit LSN and time are taken from the events at the end, as arrays)."""

    def __init__(
        self,
        columns: Sequence[str],
        key: Sequence[str],
        fills: Mapping[str, str | None],
        gone_at: tuple[int, dt.datetime] | None = None,
    ) -> None:
        self.columns, self.key, self.fills, self.gone_at = list(columns), tuple(key), fills, gone_at
        self.cols: dict[str, list[str | None]] = {c: [] for c in self.columns}
        self.at: list[int] = []  # index of the event (in the table's events) the version was made at
        self.seq: list[int] = []
        self.op: list[str] = []

    def delete(self, key: Key, at: int, seq: int) -> None:
        """A delete version: the key's columns, every other null."""
        named = dict(zip(self.key, key, strict=True))
        for c in self.columns:
            self.cols[c].append(named.get(c))
        self.at.append(at)
        self.seq.append(seq)
        self.op.append("delete")

    def flush(self, pending: Mapping[Key, tuple[int, Row | None]], truncated: int | None, at: int) -> None:
        """The versions of one transaction, whose last event is ``at``."""
        if truncated is not None:
            for c in self.columns:
                self.cols[c].append(None)
            self.at.append(at)
            self.seq.append(truncated)
            self.op.append("truncate")
        for key, (seq, row) in pending.items():
            if row is None:
                self.delete(key, at, seq)
                continue
            for c in self.columns:
                self.cols[c].append(row[c] if c in row else self.fills.get(c))
            self.at.append(at)
            self.seq.append(seq)
            self.op.append("upsert")

    def table(self, events: pa.Table) -> pa.Table:
        """The versions as Arrow, commit LSN and time taken from ``events``."""
        arrays: dict[str, pa.Array] = {c: pa.array(v, pa.string()) for c, v in self.cols.items()}
        at = pa.array(self.at, pa.int64())
        gone = pc.equal(at, _GONE)
        taken = pc.if_else(gone, 0, at) if events.num_rows else pa.nulls(len(at), pa.int64())
        lsn = events["commit_lsn"].take(taken).cast(pa.int64())
        time = events["commit_time"].take(taken).cast(pa.timestamp("us"))
        if self.gone_at is not None:
            lsn = pc.if_else(gone, self.gone_at[0], lsn)
            naive = (
                self.gone_at[1].astimezone(dt.UTC).replace(tzinfo=None) if self.gone_at[1].tzinfo else self.gone_at[1]
            )
            time = pc.if_else(gone, pa.scalar(naive, pa.timestamp("us")), time)
        arrays["_cdc_lsn"] = lsn
        arrays["_cdc_seq"] = pa.array(self.seq, pa.int64())
        arrays["_cdc_committed_at"] = time
        arrays["_cdc_op"] = pa.array(self.op, pa.string())
        return pa.table(arrays)


def versions(
    events: pa.Table,
    table: str,
    *,
    key: Sequence[str],
    columns: Sequence[str],
    seed: Mapping[Key, Row] | None = None,
    fills: Mapping[str, str | None] | None = None,
    gone: Iterable[Key] = (),
    gone_at: tuple[int, dt.datetime] | None = None,
) -> pa.Table:
    """The versions of ``table`` in one landed file (see the module docstring); ``seed``: the
    current rows (text) of the keys it touches.

    >>> import datetime as dt
    >>> from duckbook.ingest.cdc_events import Event, Transaction, events_table
    >>> t = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    >>> tx = Transaction(7, 0x20, 0x28, t, [Event("U", "s.t", 0x10, {"id": "2", "n": "5"}, {"id": "1"}, ("doc",))])
    >>> v = versions(events_table([tx]), "s.t", key=["id"], columns=["id", "doc", "n"],
    ...              seed={("1",): {"id": "1", "doc": "long", "n": "1"}})
    >>> [(r["id"], r["doc"], r["n"], r["_cdc_op"]) for r in v.to_pylist()]
    [('1', None, None, 'delete'), ('2', 'long', '5', 'upsert')]
    """
    given = dict(seed or {})
    fold = Fold(table, key, seed=lambda keys: given, fills=fills)
    return fold.versions(events, columns, gone=gone, gone_at=gone_at)
