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


def record(con: engine.DuckDBBackend, change: Change, run_id: str) -> None:
    """Append ``change`` to ``ops.changes`` (an empty change is not recorded)."""
    if change.empty:
        return
    row = {
        "seq": last_seq(con) + 1,
        "table_name": change.table,
        "is_full": change.is_full,
        "key_column": change.key_column,
        "keys_json": json.dumps(sorted(change.keys)),
        "time_column": change.time_column,
        "since": change.since,
        "run_id": run_id,
    }
    schema = ops.schema("changes")
    ops.record(con, "changes", ibis.memtable([row], schema=schema), replace_where={"seq": row["seq"]})


def last_seq(con: engine.DuckDBBackend) -> int:
    """The sequence number of the newest change (0 when none)."""
    table = ops.read(con, "changes")
    if table is None:
        return 0
    value = table.seq.max().execute()
    return 0 if value is None else int(value)


def pending(con: engine.DuckDBBackend, tables: Iterable[str], after: int) -> list[Change]:
    """Changes of ``tables`` recorded after sequence number ``after``, oldest first."""
    table = ops.read(con, "changes")
    if table is None:
        return []
    rows = table.filter(table.table_name.isin(list(tables)), table.seq > after).order_by("seq").to_pyarrow().to_pylist()
    return [
        Change(
            r["table_name"],
            bool(r["is_full"]),
            r["key_column"] or "",
            tuple(json.loads(r["keys_json"] or "[]")),
            r["time_column"] or "",
            r["since"],
        )
        for r in rows
    ]


def changed_rows(table: ir.Table, changes: Sequence[Change]) -> ir.Table | None:
    """The rows of ``table`` the ``changes`` (of that table) touched, or ``None`` when they
    cannot be told apart (a full change, or a change on a column the table does not have)."""
    predicates = []
    for change in changes:
        if change.is_full:
            return None
        parts = []
        if change.keys:
            if change.key_column not in table.columns:
                return None
            parts.append(table[change.key_column].cast("string").isin(list(change.keys)))
        if change.since is not None:
            if change.time_column not in table.columns:
                return None
            t = table[change.time_column]
            parts.append((t >= ibis.literal(change.since, type="timestamp")) | t.isnull())
        if parts:
            predicates.append(ibis.or_(*parts))
    if not predicates:
        return table.limit(0)
    return table.filter(ibis.or_(*predicates))


def consumed(con: engine.DuckDBBackend, model: str) -> tuple[int, list[str]] | None:
    """``(last change consumed, batches applied)`` of ``model``, or ``None`` if it was never built."""
    table = ops.read(con, "model_state")
    if table is None:
        return None
    rows = table.filter(table.model == model).to_pyarrow().to_pylist()
    if not rows:
        return None
    return int(rows[0]["consumed_seq"]), list(json.loads(rows[0]["applied_json"] or "[]"))


def mark_consumed(con: engine.DuckDBBackend, model: str, seq: int, run_id: str, applied: Sequence[str] = ()) -> None:
    """Remember that ``model`` is up to date with every change up to ``seq``."""
    row = {"model": model, "consumed_seq": seq, "applied_json": json.dumps(list(applied)), "run_id": run_id}
    ops.record(
        con, "model_state", ibis.memtable([row], schema=ops.schema("model_state")), replace_where={"model": model}
    )


def forget(con: engine.DuckDBBackend, models: Sequence[str]) -> None:
    """Forget the state of ``models`` (a full refresh rebuilds them from scratch)."""
    if ops.exists(con, "model_state") and models:
        engine.delete_rows(con, ops.SCHEMA, "model_state", where={"model": list(models)})
