"""The run log: one row per stage per run in ``ops.run_log``, written in the run's own
transaction when it succeeds, or alone (touching nothing else) when it fails; and the list of
runs with the snapshot each published. Works on a bare DuckDB connection too: the runner
process never imports Ibis (~0.3 s), so nothing here does."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from duckbook import engine
from duckbook.engine import ddl, lake
from duckbook.ops.tables import SCHEMA, RunLogEntry, columns

#: DuckDB type of each Ibis type name the run log declares.
_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "timestamp": "TIMESTAMP"}


def write_run_log(con: engine.Connection, entries: Sequence[RunLogEntry]) -> None:
    """Replace the run's rows in ``ops.run_log`` (in the open transaction, else in one of its
    own). The table is created, or given the columns declared since it was, like every ops table
    (:func:`duckbook.ops.store.record`). ``entries`` belong to one run; none write nothing."""
    if not entries:
        return
    declared = columns("run_log")
    with engine.transaction(con):
        engine.ensure_table(con, SCHEMA, "run_log", [ddl.column_def(c, _DUCKDB_TYPES[t]) for c, t in declared.items()])
        engine.execute(con, ddl.delete_where(SCHEMA, "run_log", {"run_id": entries[0].run_id}))
        values = [dataclasses.astuple(e) for e in entries]
        engine.insert_rows(con, SCHEMA, "run_log", [f.name for f in dataclasses.fields(RunLogEntry)], values)


def publish_run_log(
    con: engine.Connection, entries: Sequence[RunLogEntry], *, message: str, extra: dict[str, object]
) -> None:
    """Write ``entries`` (:func:`write_run_log`) as a snapshot of their own, touching no other
    table: a failed run's log, or a run's final log with its fingerprints after its commit."""
    engine.begin(con)
    try:
        write_run_log(con, entries)
    except BaseException:
        engine.rollback(con)
        raise
    engine.publish(con, message=message, extra=extra)


def rows_published(con: engine.Connection, run_id: str) -> dict[str, int]:
    """Rows published per stage by ``run_id``, from ``ops.publish_log``."""
    if not engine.table_exists(con, SCHEMA, "publish_log"):
        return {}
    rows = engine.execute(con, ddl.sum_by(SCHEMA, "publish_log", "stage", "rows", {"run_id": run_id})).fetchall()
    return {str(stage): int(n) for stage, n in rows}


@dataclasses.dataclass(frozen=True)
class Run:
    """One pipeline run, as ``duckbook runs`` lists it."""

    run_id: str
    status: str  # success | failed (a run whose stages all skipped is a success)
    started_at: dt.datetime
    duration_s: float
    rows_written: int
    snapshot_id: int | None  # what it published (None: failed, or expired by `duckbook maintain`)
    error: str


def runs(con: engine.Connection) -> list[Run]:
    """Every run the log knows, newest first, with the snapshot it published."""
    if not engine.table_exists(con, SCHEMA, "run_log"):
        return []
    rows = (
        engine.raw(con)
        .execute(
            f"SELECT run_id, NOT bool_or(status = 'failed'), min(started_at), sum(duration_s), sum(rows_written), "
            f"string_agg(NULLIF(error, ''), '; ') FROM {SCHEMA}.run_log GROUP BY run_id ORDER BY min(started_at) DESC"
        )
        .fetchall()
    )
    published = {s.run_id: s.snapshot_id for s in lake.snapshots(engine.raw(con)) if s.run_id and not s.failed}
    return [
        Run(
            run_id=str(run_id),
            status="success" if ok else "failed",
            started_at=started,
            duration_s=round(float(seconds or 0.0), 3),
            rows_written=int(rows or 0),
            snapshot_id=published.get(str(run_id)) if ok else None,
            error=str(error or ""),
        )
        for run_id, ok, started, seconds, rows, error in rows
    ]
