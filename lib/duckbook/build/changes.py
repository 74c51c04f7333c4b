"""The change feed: what each build changed, so the models downstream redo only that.

Every build of a table records a :class:`Change` in ``ops.changes`` (a growing sequence): all of
its rows (``is_full``), the rows whose ``key_column`` is one of ``keys``, and/or the rows whose
``time_column`` is on or after ``since`` (rows with a null time always count as changed). A model
remembers the last sequence number it consumed (``ops.model_state``); its pending changes are its
inputs' changes after that. Incremental materializations (:mod:`duckbook.build.materialize`) turn
an input's changed rows into the rows of the model to recompute.

Examples
--------
>>> import ibis
>>> t = ibis.memtable({"id": ["a", "b", "c"], "day": ["2024-01-01", "2024-01-02", None]})
>>> t = t.mutate(day=t.day.cast("timestamp"))
>>> import datetime as dt
>>> c = Change("raw.t", key_column="id", keys=("a",), time_column="day", since=dt.datetime(2024, 1, 2))
>>> sorted(changed_rows(t, [c]).id.to_pyarrow().to_pylist())
['a', 'b', 'c']
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.types as ir

from duckbook import engine, ops


@dataclasses.dataclass(frozen=True)
class Change:
    """What one build changed in ``table`` (``schema.name``)."""

    table: str
    is_full: bool = False
    key_column: str = ""
    keys: tuple[str, ...] = ()
    time_column: str = ""
    since: dt.datetime | None = None

    @property
    def empty(self) -> bool:
        """Nothing changed."""
        return not self.is_full and not self.keys and self.since is None


def full(table: str) -> Change:
    """Every row of ``table`` may have changed."""
    return Change(table, is_full=True)


class Feed:
    """The change feed of one build, read once: the changes and the models' state, with what the
    build records kept in memory until :meth:`flush` writes them (one statement per table)."""

    def __init__(self, con: engine.DuckDBBackend, run_id: str) -> None:
        self.con, self.run_id = con, run_id
        state = ops.read(con, "model_state")
        rows = [] if state is None else state.to_pyarrow().to_pylist()
        self._state = {r["model"]: (int(r["consumed_seq"]), list(json.loads(r["applied_json"] or "[]"))) for r in rows}
        #: each model's code fingerprint as recorded, and as the build declares it (mark_consumed records it)
        self._recorded_code = {str(r["model"]): str(r.get("code") or "") for r in rows}
        self.code: dict[str, str] = {}
        table = ops.read(con, "changes")
        after = min((seq for seq, _ in self._state.values()), default=0)
        found = [] if table is None else table.filter(table.seq > after).order_by("seq").to_pyarrow().to_pylist()
        self._changes = [(int(r["seq"]), _change(r)) for r in found]
        last = None if table is None else table.seq.max().execute()
        self.last_seq = 0 if last is None else int(last)
        self._new_changes: list[dict[str, object]] = []
        self._new_state: dict[str, dict[str, object]] = {}

    def record(self, change: Change) -> None:
        """Append ``change`` (an empty change is not recorded)."""
        if change.empty:
            return
        self.last_seq += 1
        self._changes.append((self.last_seq, change))
        self._new_changes.append(
            {
                "seq": self.last_seq,
                "table_name": change.table,
                "is_full": change.is_full,
                "key_column": change.key_column,
                "keys_json": json.dumps(sorted(change.keys)),
                "time_column": change.time_column,
                "since": change.since,
                "run_id": self.run_id,
            }
        )

    def pending(self, tables: Iterable[str], after: int) -> list[Change]:
        """Changes of ``tables`` recorded after sequence number ``after``, oldest first."""
        wanted = set(tables)
        return [c for seq, c in self._changes if seq > after and c.table in wanted]

    def consumed(self, model: str) -> tuple[int, list[str]] | None:
        """``(last change consumed, batches applied)`` of ``model``, or ``None`` if never built."""
        return self._state.get(model)

    def code_changed(self, model: str, code: str) -> bool:
        """Whether ``model`` was last built from other code than ``code`` (its fingerprint), which
        :meth:`mark_consumed` then records."""
        self.code[model] = code
        return self._recorded_code.get(model, "") != code

    def mark_consumed(self, model: str, seq: int, applied: Sequence[str] = ()) -> None:
        """Remember that ``model`` is up to date with every change up to ``seq``."""
        self._state[model] = (seq, list(applied))
        self._new_state[model] = {
            "model": model,
            "consumed_seq": seq,
            "applied_json": json.dumps(list(applied)),
            "run_id": self.run_id,
            "code": self.code.get(model, ""),
        }

    def flush(self) -> None:
        """Write what was recorded since the feed was read (or last flushed)."""
        if self._new_changes:
            rows = ibis.memtable(self._new_changes, schema=ops.schema("changes"))
            ops.record(self.con, "changes", rows, replace_where={"seq": [r["seq"] for r in self._new_changes]})
        if self._new_state:
            rows = ibis.memtable(list(self._new_state.values()), schema=ops.schema("model_state"))
            ops.record(self.con, "model_state", rows, replace_where={"model": list(self._new_state)})
        self._new_changes, self._new_state = [], {}


def _change(r: dict[str, object]) -> Change:
    return Change(
        str(r["table_name"]),
        bool(r["is_full"]),
        str(r["key_column"] or ""),
        tuple(json.loads(str(r["keys_json"] or "[]"))),
        str(r["time_column"] or ""),
        r["since"],  # type: ignore[arg-type]
    )


def changed_rows(table: ir.Table, changes: Sequence[Change]) -> ir.Table | None:
    """The rows of ``table`` the ``changes`` (of that table) touched, or ``None`` when they
    cannot be told apart (a full change, or a change on a column the table does not have).

    The changes are merged first (the keys of each key column, the earliest ``since`` of each
    time column), so the predicate stays small however many runs a model missed."""
    keys: dict[str, set[str]] = {}
    since: dict[str, dt.datetime] = {}
    for change in changes:
        if change.is_full:
            return None
        if change.keys:
            keys.setdefault(change.key_column, set()).update(change.keys)
        if change.since is not None:
            since[change.time_column] = min(change.since, since.get(change.time_column, change.since))
    if any(c not in table.columns for c in [*keys, *since]):
        return None
    parts = []
    for column, values in keys.items():
        # a one-column table, not a literal list: a long IN list is slow to compile
        found = ibis.memtable({"_key": sorted(values)}, schema={"_key": "string"})
        parts.append(table[column].cast("string").isin(found._key))
    for column, start in since.items():
        t = table[column]
        parts.append((t >= ibis.literal(start, type="timestamp")) | t.isnull())
    return table.filter(ibis.or_(*parts)) if parts else table.limit(0)


def lost_keys(table: ir.Table, changes: Sequence[Change]) -> bool:
    """Whether ``table`` no longer has a row for some key the ``changes`` name: rows were deleted
    (a CDC source's deletes, a model's vanished keys). An incremental model reads only the rows
    its inputs still have, so it cannot reach the rows it derived from deleted ones.

    >>> t = ibis.memtable({"id": ["a", "b"]})
    >>> lost_keys(t, [Change("raw.t", key_column="id", keys=("a",))])
    False
    >>> lost_keys(t, [Change("raw.t", key_column="id", keys=("a", "z"))])  # z was deleted
    True
    """
    keys: dict[str, set[str]] = {}
    for change in changes:
        if change.keys and change.key_column in table.columns:
            keys.setdefault(change.key_column, set()).update(change.keys)
    for column, values in keys.items():
        wanted = ibis.memtable({"_key": sorted(values)}, schema={"_key": "string"})
        found = table.select(_key=table[column].cast("string")).semi_join(wanted, "_key").distinct()
        if found.count().execute() < len(values):
            return True
    return False
