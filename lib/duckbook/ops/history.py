"""The history of runs as the runs page and ``duckbook runs show`` present it: per run its
stages (status, seconds, rows, error), its check results, its quarantined rows and the health of
its CDC slots.

Reads ``ops.run_log``, ``ops.check_results``, ``ops.quarantine`` and ``ops.cdc_health`` with plain DuckDB (the runner
renders the runs page after every run and never imports Ibis); it names the columns it reads, so
columns added to those tables later change nothing here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from duckbook import engine
from duckbook.errors import UserError
from duckbook.ops.tables import SCHEMA


class RunNotFound(UserError, LookupError):
    """No run, or more than one, has the id (or id prefix) asked for."""


@dataclasses.dataclass(frozen=True)
class StageRecord:
    """One stage of a run: ``status`` is success | failed | skipped (unchanged, not executed) |
    stale (not selected, downstream of changed data)."""

    stage: str
    status: str
    duration_s: float
    rows_written: int
    error: str = ""


@dataclasses.dataclass(frozen=True)
class CheckCounts:
    """How many check results of a run passed, warned and failed."""

    passed: int = 0
    warned: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        """Every check result of the run.

        >>> CheckCounts(3, 1, 0).total
        4
        """
        return self.passed + self.warned + self.failed


@dataclasses.dataclass(frozen=True)
class CdcHealth:
    """A CDC slot as a run's ingest left it (``ops.cdc_health``): lag and retained WAL in bytes,
    WAL status (``reserved`` is healthy), the last landed commit, what the run landed."""

    source: str
    slot: str
    lag_bytes: int
    retained_wal_bytes: int
    wal_status: str
    landed_lsn: str
    landed_commit_time: dt.datetime | None
    transactions: int
    events: int


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One run with its stages in execution order, its check counts and quarantined rows."""

    run_id: str
    status: str  # failed if a stage failed, skipped if every stage was, else success
    started_at: dt.datetime
    duration_s: float  # the stages' seconds summed
    rows_written: int
    stages: tuple[StageRecord, ...]
    checks: CheckCounts
    quarantined: int
    error: str  # the failed stage's error ("" for a run that did not fail)
    failed_stage: str | None
    cdc: tuple[CdcHealth, ...] = ()  # per CDC slot, by source name (none in a project without CDC)


def run_history(con: engine.Connection, limit: int = 30) -> list[RunRecord]:
    """The last ``limit`` runs the run log knows, newest first ([] before the first run)."""
    if not engine.table_exists(con, SCHEMA, "run_log"):
        return []
    ids = [
        str(run_id)
        for (run_id,) in engine.raw(con)
        .execute(
            f"SELECT run_id FROM {SCHEMA}.run_log GROUP BY run_id ORDER BY min(started_at) DESC, run_id DESC "
            f"LIMIT {max(int(limit), 0)}"
        )
        .fetchall()
    ]
    return _records(con, ids)


def run_record(con: engine.Connection, run_id: str) -> RunRecord:
    """The run ``run_id``, or the one run whose id starts with ``run_id``.

    Raises
    ------
    RunNotFound
        No run has that id or prefix (the message names the 3 most recent runs), or several
        runs start with the prefix (they are named).
    """
    known = engine.table_exists(con, SCHEMA, "run_log")
    matches = (
        [
            str(r)
            for (r,) in engine.raw(con)
            .execute(
                f"SELECT DISTINCT run_id FROM {SCHEMA}.run_log WHERE starts_with(run_id, {_literal(run_id)}) ORDER BY 1"
            )
            .fetchall()
        ]
        if known and run_id
        else []
    )
    if run_id in matches:
        matches = [run_id]
    if len(matches) > 1:
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise RunNotFound(f"run id prefix {run_id!r} is ambiguous: it matches {', '.join(matches[:5])}{more}")
    if not matches:
        recent = [r.run_id for r in run_history(con, limit=3)] if known else []
        hint = f"the most recent runs: {', '.join(recent)}" if recent else "no runs yet: `duckbook run` makes the first"
        raise RunNotFound(f"no run {run_id!r} in {SCHEMA}.run_log; {hint}")
    return _records(con, matches)[0]


def _records(con: engine.Connection, run_ids: Sequence[str]) -> list[RunRecord]:
    """The records of ``run_ids``, in that order."""
    if not run_ids:
        return []
    db = engine.raw(con)
    ids = list(run_ids)
    stages: dict[str, list[tuple[StageRecord, dt.datetime | None]]] = {r: [] for r in ids}
    rows = db.execute(
        f"SELECT run_id, stage, status, duration_s, rows_written, error, started_at FROM {SCHEMA}.run_log "
        f"WHERE run_id IN ({_literals(ids)}) ORDER BY started_at, stage"
    ).fetchall()
    for run_id, stage, status, seconds, written, error, started in rows:
        record = StageRecord(str(stage), str(status or "failed"), float(seconds or 0.0), int(written or 0), error or "")
        stages[run_id].append((record, started))
    checks = _per_run(
        con,
        "check_results",
        "count(*) FILTER (status = 'pass'), count(*) FILTER (status = 'warn'), count(*) FILTER (status = 'fail')",
        ids,
    )
    quarantined = _per_run(con, "quarantine", "count(*)", ids)
    cdc = _cdc_health(con, ids)
    return [
        dataclasses.replace(
            _record(run_id, stages[run_id], CheckCounts(*checks.get(run_id, ())), quarantined.get(run_id, (0,))[0]),
            cdc=tuple(cdc.get(run_id, ())),
        )
        for run_id in ids
    ]


def _cdc_health(con: engine.Connection, run_ids: list[str]) -> dict[str, list[CdcHealth]]:
    """Per run, each CDC source's health as its last check that run found it, with the
    transactions and events of all its checks summed ({} while ``ops.cdc_health`` is absent)."""
    if not engine.table_exists(con, SCHEMA, "cdc_health"):
        return {}
    last = "arg_max({}, checked_at)"
    rows = (
        engine.raw(con)
        .execute(
            f"SELECT run_id, source, {last.format('slot')}, {last.format('lag_bytes')}, "
            f"{last.format('retained_wal_bytes')}, {last.format('wal_status')}, {last.format('landed_lsn')}, "
            # TRY_CAST: the commit time reads the same whether it was recorded as a timestamp or as ISO text
            f"{last.format('TRY_CAST(landed_commit_time AS TIMESTAMP)')}, sum(transactions), sum(events) "
            f"FROM {SCHEMA}.cdc_health WHERE run_id IN ({_literals(run_ids)}) GROUP BY run_id, source ORDER BY source"
        )
        .fetchall()
    )
    out: dict[str, list[CdcHealth]] = {}
    for run_id, source, slot, lag, retained, status, lsn, committed, transactions, events in rows:
        out.setdefault(str(run_id), []).append(
            CdcHealth(
                str(source),
                str(slot or source),
                int(lag or 0),
                int(retained or 0),
                str(status or "unknown"),
                str(lsn or ""),
                committed,
                int(transactions or 0),
                int(events or 0),
            )
        )
    return out


def _per_run(con: engine.Connection, table: str, aggregates: str, run_ids: list[str]) -> dict[str, tuple[int, ...]]:
    """``aggregates`` of ops table ``table`` per run of ``run_ids`` ({} while the table is absent)."""
    if not engine.table_exists(con, SCHEMA, table):
        return {}
    rows = (
        engine.raw(con)
        .execute(
            f"SELECT run_id, {aggregates} FROM {SCHEMA}.{table} WHERE run_id IN ({_literals(run_ids)}) GROUP BY run_id"
        )
        .fetchall()
    )
    return {str(run_id): tuple(int(n) for n in counts) for run_id, *counts in rows}


def _record(
    run_id: str, stages: list[tuple[StageRecord, dt.datetime | None]], checks: CheckCounts, quarantined: int
) -> RunRecord:
    steps = tuple(s for s, _ in stages)
    failed = next((s for s in steps if s.status == "failed"), None)
    if failed is not None:
        status = "failed"
    elif steps and all(s.status == "skipped" for s in steps):
        status = "skipped"
    else:
        status = "success"
    return RunRecord(
        run_id=run_id,
        status=status,
        started_at=min((t for _, t in stages if t is not None), default=dt.datetime.min),  # a row of an old log
        duration_s=round(sum(s.duration_s for s in steps), 3),
        rows_written=sum(s.rows_written for s in steps),
        stages=steps,
        checks=checks,
        quarantined=quarantined,
        error=failed.error if failed else "",
        failed_stage=failed.stage if failed else None,
    )


def _literals(texts: Sequence[str]) -> str:
    return ", ".join(_literal(t) for t in texts)


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (a Python parameter would make DuckDB import pandas)."""
    return "'" + text.replace("'", "''") + "'"
