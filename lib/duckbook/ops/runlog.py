"""The run log, written and read by the runner with plain DuckDB: the runner process never
imports Ibis (~0.3 s), so nothing here does."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from duckbook import engine
from duckbook.engine import ddl
from duckbook.ops.tables import SCHEMA, RunLogEntry, columns

#: DuckDB type of each Ibis type name the run log declares.
_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "timestamp": "TIMESTAMP"}


def write_run_log(path: Path, entries: Sequence[RunLogEntry]) -> None:
    """Replace the run's rows in ``ops.run_log`` of the DuckDB file ``path``, in one transaction.

    The table is created, or given the columns declared since it was, like every ops table
    (:func:`duckbook.ops.store.record`). ``entries`` belong to one run; no entries write nothing.
    """
    if not entries:
        return
    declared = columns("run_log")
    with engine.connect_plain(path) as con:
        with engine.transaction(con):
            engine.ensure_table(
                con, SCHEMA, "run_log", [ddl.column_def(c, _DUCKDB_TYPES[t]) for c, t in declared.items()]
            )
            engine.execute(con, ddl.delete_where(SCHEMA, "run_log", {"run_id": entries[0].run_id}))
            values = [dataclasses.astuple(e) for e in entries]
            engine.insert_rows(con, SCHEMA, "run_log", [f.name for f in dataclasses.fields(RunLogEntry)], values)
        engine.checkpoint(con)


def rows_published(path: Path, run_id: str) -> dict[str, int]:
    """Rows published per stage by ``run_id``, from ``ops.publish_log`` of the DuckDB file ``path``."""
    with engine.connect_plain(path) as con:
        if not engine.table_exists(con, SCHEMA, "publish_log"):
            return {}
        rows = engine.execute(con, ddl.sum_by(SCHEMA, "publish_log", "stage", "rows", {"run_id": run_id})).fetchall()
    return {str(stage): int(n) for stage, n in rows}
