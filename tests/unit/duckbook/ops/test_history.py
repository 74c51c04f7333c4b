"""The history of runs (runs page, `duckbook runs show`): per run its stages, status, checks and
quarantined rows, read with plain DuckDB from the run log, check results and quarantine."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import ibis
import pytest

from duckbook import engine, ops
from duckbook.errors import UserError

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)


def entry(run_id: str, stage: str, status: str = "success", *, at: int = 0, **changes: object) -> ops.RunLogEntry:
    """A stage of ``run_id`` started ``at`` minutes after T0."""
    start = T0 + dt.timedelta(minutes=at)
    e = ops.RunLogEntry(run_id, stage, status, "{}", start, start + dt.timedelta(seconds=2), 2.0, 10)
    return dataclasses.replace(e, **changes)


@pytest.fixture
def con():
    with duckdb.connect() as c:
        engine.ensure_schema(c, "ops")
        yield c


def record(con, name: str, rows: list[dict]) -> None:
    full = [{**dict.fromkeys(ops.columns(name)), **r} for r in rows]
    ops.record(ibis.duckdb.from_connection(con), name, ibis.memtable(full, schema=ops.schema(name)), replace_where={})


def test_no_run_log_means_no_history_and_a_named_error(con):
    assert ops.run_history(con) == []
    with pytest.raises(ops.RunNotFound, match="no run 'r1' in ops.run_log; no runs yet") as raised:
        ops.run_record(con, "r1")
    assert isinstance(raised.value, UserError)  # the CLI exits 2


def test_a_run_sums_its_stages_in_execution_order(con):
    ops.write_run_log(
        con,
        [entry("r1", "20_staging", at=1, duration_s=3.5, rows_written=7), entry("r1", "10_ingest", duration_s=1.25)],
    )
    (r,) = ops.run_history(con)
    assert (r.run_id, r.status, r.started_at, r.duration_s, r.rows_written) == ("r1", "success", T0, 4.75, 17)
    assert r.stages == (
        ops.StageRecord("10_ingest", "success", 1.25, 10),
        ops.StageRecord("20_staging", "success", 3.5, 7),
    )
    assert (r.error, r.failed_stage, r.checks, r.quarantined) == ("", None, ops.CheckCounts(0, 0, 0), 0)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["success", "success"], "success"),
        (["success", "failed"], "failed"),
        (["skipped", "failed"], "failed"),
        (["skipped", "skipped"], "skipped"),
        (["skipped", "stale"], "success"),
        (["skipped", "success"], "success"),
    ],
)
def test_a_run_failed_if_a_stage_did_and_was_skipped_if_every_stage_was(con, statuses, expected):
    ops.write_run_log(con, [entry("r1", f"{i}0_stage", s, at=i) for i, s in enumerate(statuses, 1)])
    assert ops.run_record(con, "r1").status == expected


def test_a_failed_run_names_its_stage_and_error(con):
    error = "stage 30_marts failed in cell 3:\nZeroDivisionError <boom>"
    ops.write_run_log(
        con,
        [entry("r1", "10_ingest"), entry("r1", "30_marts", "failed", at=1, error=error), entry("r1", "(run)", at=2)],
    )
    r = ops.run_record(con, "r1")
    assert (r.status, r.failed_stage, r.error) == ("failed", "30_marts", error)
    assert [s.status for s in r.stages] == ["success", "failed", "success"]


def test_history_is_newest_first_and_limited(con):
    for i in range(5):
        ops.write_run_log(con, [entry(f"r{i}", "10_ingest", at=10 * i)])
    assert [r.run_id for r in ops.run_history(con, limit=3)] == ["r4", "r3", "r2"]
    assert [r.run_id for r in ops.run_history(con)] == ["r4", "r3", "r2", "r1", "r0"]
    assert ops.run_history(con, limit=0) == []


def test_checks_and_quarantined_rows_are_counted_per_run(con):
    ops.write_run_log(con, [entry("r1", "10_ingest"), entry("r2", "10_ingest", at=5)])
    statuses = [("r1", "pass"), ("r1", "pass"), ("r1", "warn"), ("r1", "fail"), ("r2", "pass")]
    record(con, "check_results", [{"run_id": r, "status": s} for r, s in statuses])
    record(con, "quarantine", [{"run_id": "r1", "line": n} for n in range(3)])
    r2, r1 = ops.run_history(con)
    assert (r1.checks, r1.quarantined) == (ops.CheckCounts(passed=2, warned=1, failed=1), 3)
    assert (r2.checks, r2.quarantined) == (ops.CheckCounts(passed=1), 0)
    assert r1.checks.total == 4


def test_columns_added_to_the_run_log_later_change_nothing(con):
    ops.write_run_log(con, [entry("r1", "10_ingest")])
    con.execute("ALTER TABLE ops.run_log ADD COLUMN later_column VARCHAR")
    con.execute("INSERT INTO ops.run_log BY NAME SELECT 'r2' AS run_id, '10_ingest' AS stage, 'skipped' AS status, "
                "TIMESTAMP '2024-02-01' AS started_at, 0.0 AS duration_s, 0 AS rows_written, '' AS error, "
                "'abc123' AS later_column")  # fmt: skip
    assert [(r.run_id, r.status) for r in ops.run_history(con)] == [("r2", "skipped"), ("r1", "success")]


def test_a_unique_prefix_finds_the_run(con):
    for i, run_id in enumerate(["20240102T030405Z-aaaaaa", "20240102T030405Z-bbbbbb", "20240103T000000Z-cccccc"]):
        ops.write_run_log(con, [entry(run_id, "10_ingest", at=i)])
    assert ops.run_record(con, "20240103").run_id == "20240103T000000Z-cccccc"
    assert ops.run_record(con, "20240102T030405Z-bbbbbb").run_id == "20240102T030405Z-bbbbbb"
    with pytest.raises(ops.RunNotFound, match="'20240102' is ambiguous: it matches 20240102T030405Z-aaaaaa, 2024"):
        ops.run_record(con, "20240102")


def test_an_exact_id_wins_over_longer_ids_it_prefixes(con):
    ops.write_run_log(con, [entry("r1", "10_ingest"), entry("r10", "10_ingest", at=1)])
    assert ops.run_record(con, "r1").run_id == "r1"


def test_an_unknown_run_names_the_three_most_recent(con):
    for i in range(5):
        ops.write_run_log(con, [entry(f"r{i}", "10_ingest", at=i)])
    with pytest.raises(ops.RunNotFound, match=r"no run 'x9' in ops.run_log; the most recent runs: r4, r3, r2$"):
        ops.run_record(con, "x9")
    with pytest.raises(ops.RunNotFound, match="no run ''"):
        ops.run_record(con, "")
