"""The run log: written in the run's transaction (or alone for a failed run), read back as the
list of runs with the snapshot each published. Plain DuckDB: the runner never imports Ibis."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys

import duckdb
import ibis
import pytest

from duckbook import config, engine, ops
from duckbook.engine import ddl
from duckbook.run import session

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)


def entry(run_id: str = "r1", stage: str = "10_ingest", **changes: object) -> ops.RunLogEntry:
    e = ops.RunLogEntry(
        run_id, stage, "success", '{"run_date": "2024-01-02"}', T0, T0 + dt.timedelta(seconds=2), 2.0, 0
    )
    return dataclasses.replace(e, **changes)


@pytest.fixture
def con():
    with duckdb.connect() as c:
        yield c


def run_log(con) -> list[tuple]:
    return con.execute("SELECT run_id, stage, status, rows_written FROM ops.run_log ORDER BY ALL").fetchall()


def test_importing_ops_and_the_runner_does_not_import_ibis():
    code = "import sys, duckbook.ops, duckbook.run.runner; assert 'ibis' not in sys.modules, 'ibis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_run_log_table_has_the_declared_schema(con):
    engine.ensure_schema(con, "ops")
    ops.write_run_log(con, [entry()])
    stored = ibis.duckdb.from_connection(con).table("run_log", database="ops").schema()
    declared = ops.schema("run_log")
    assert stored.names == declared.names
    assert all(type(stored[c]) is type(declared[c]) for c in declared.names)  # timestamp scale aside


def test_rewriting_a_run_replaces_its_rows_and_keeps_other_runs(con):
    engine.ensure_schema(con, "ops")
    ops.write_run_log(con, [entry("r0")])
    ops.write_run_log(con, [entry(), entry(stage="20_staging", status="failed")])
    ops.write_run_log(con, [entry(rows_written=7)])
    assert run_log(con) == [("r0", "10_ingest", "success", 0), ("r1", "10_ingest", "success", 7)]


def test_no_entries_write_nothing(con):
    ops.write_run_log(con, [])
    assert not engine.table_exists(con, "ops", "run_log")


def test_a_run_log_from_an_older_version_gets_the_new_columns(con):
    engine.ensure_schema(con, "ops")
    engine.ensure_table(
        con, "ops", "run_log", [ddl.column_def("run_id", "VARCHAR"), ddl.column_def("stage", "VARCHAR")]
    )
    con.execute("INSERT INTO ops.run_log VALUES ('r0', '10_ingest')")
    ops.write_run_log(con, [entry(rows_written=3)])
    assert run_log(con) == [("r0", "10_ingest", None, None), ("r1", "10_ingest", "success", 3)]
    assert con.execute("SELECT error FROM ops.run_log WHERE run_id = 'r1'").fetchall() == [("",)]


def test_rows_published_sums_the_run_per_stage(con):
    assert ops.rows_published(con, "r1") == {}  # no publish log yet
    rows = [
        {"table": t, "rows": n, "run_id": r, "stage": s, "schema_name": "x", "published_at": T0}
        for t, n, r, s in [("a", 2, "r1", "20_staging"), ("b", 3, "r1", "20_staging"), ("c", 5, "r1", "30_marts"),
                           ("a", 100, "r0", "20_staging")]
    ]  # fmt: skip
    ops.record(ibis.duckdb.from_connection(con), "publish_log", ibis.memtable(rows), replace_where={})
    assert ops.rows_published(con, "r1") == {"20_staging": 5, "30_marts": 5}
    assert ops.rows_published(con, "r9") == {}


@pytest.mark.slow
def test_runs_lists_successes_with_their_snapshot_and_failures_with_their_error(tmp_path, monkeypatch):
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "wh")
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(cfg.warehouse))
    monkeypatch.setenv(engine.RUN_ENV, "r1")
    try:
        session.begin("r1")  # as the runner does in its kernel
        writer = engine.connect(cfg=cfg)
        engine.ensure_schema(writer, "marts")
        writer.raw_sql("CREATE TABLE marts.t AS SELECT 1 AS x")
        snapshot = session.commit(
            "r1",
            '[{"run_id": "r1", "stage": "10_ingest", "status": "success", '
            '"parameters": "{}", "started_at": "2024-01-02T03:04:05", '
            '"ended_at": "2024-01-02T03:04:07", "duration_s": 2.0, "rows_written": 0}]',
            str(tmp_path / "commit.json"),
        )
        monkeypatch.setenv(engine.RUN_ENV, "r2")
        session.begin("r2")
        writer.raw_sql("DROP TABLE marts.t")
        session.abort(
            "r2",
            '[{"run_id": "r2", "stage": "30_marts", "status": "failed", "parameters": "{}", '
            '"started_at": "2024-01-03T00:00:00", "ended_at": "2024-01-03T00:00:01", '
            '"duration_s": 1.0, "rows_written": 0, "error": "stage 30_marts failed in cell 3"}]',
        )
    finally:
        engine.close_writer(cfg)
    with engine.connect_plain(cfg, read_only=True) as reader:
        found = ops.runs(reader)
        assert reader.execute("SELECT count(*) FROM marts.t").fetchone() == (1,)  # the failed run changed nothing
    assert [(r.run_id, r.status, r.snapshot_id, r.error) for r in found] == [
        ("r2", "failed", None, "stage 30_marts failed in cell 3"),
        ("r1", "success", snapshot, ""),
    ]
