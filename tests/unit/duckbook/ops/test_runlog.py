"""The run log, written and read with plain DuckDB by the runner."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys

import duckdb
import ibis
import pytest

from duckbook import engine, ops
from duckbook.engine import ddl

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)


def entry(run_id: str = "r1", stage: str = "10_ingest", **changes: object) -> ops.RunLogEntry:
    e = ops.RunLogEntry(
        run_id, stage, "success", '{"run_date": "2024-01-02"}', T0, T0 + dt.timedelta(seconds=2), 2.0, 0
    )
    return dataclasses.replace(e, **changes)


def run_log(path) -> list[tuple]:
    with duckdb.connect(str(path)) as con:
        return con.execute("SELECT run_id, stage, status, rows_written FROM ops.run_log ORDER BY ALL").fetchall()


def test_importing_ops_and_the_runner_does_not_import_ibis():
    code = "import sys, duckbook.ops, duckbook.run.runner; assert 'ibis' not in sys.modules, 'ibis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_the_run_log_table_has_the_declared_schema(tmp_path):
    path = tmp_path / "w.duckdb"
    ops.write_run_log(path, [entry()])
    con = ibis.duckdb.connect(path, read_only=True)
    stored = con.table("run_log", database="ops").schema()
    con.disconnect()
    declared = ops.schema("run_log")
    assert stored.names == declared.names
    assert all(type(stored[c]) is type(declared[c]) for c in declared.names)  # timestamp scale aside


@pytest.mark.slow
def test_rewriting_a_run_replaces_its_rows_and_keeps_other_runs(tmp_path):
    path = tmp_path / "w.duckdb"
    ops.write_run_log(path, [entry("r0")])
    ops.write_run_log(path, [entry(), entry(stage="20_staging", status="failed")])
    ops.write_run_log(path, [entry(rows_written=7)])
    assert run_log(path) == [("r0", "10_ingest", "success", 0), ("r1", "10_ingest", "success", 7)]


@pytest.mark.slow
def test_no_entries_write_nothing(tmp_path):
    ops.write_run_log(tmp_path / "w.duckdb", [])
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.slow
def test_a_run_log_from_an_older_version_gets_the_new_columns(tmp_path):
    path = tmp_path / "w.duckdb"
    with engine.connect_plain(path) as con:
        engine.ensure_table(
            con, "ops", "run_log", [ddl.column_def("run_id", "VARCHAR"), ddl.column_def("stage", "VARCHAR")]
        )
        con.execute("INSERT INTO ops.run_log VALUES ('r0', '10_ingest')")
    ops.write_run_log(path, [entry(rows_written=3)])
    assert run_log(path) == [("r0", "10_ingest", None, None), ("r1", "10_ingest", "success", 3)]


@pytest.mark.slow
def test_rows_published_sums_the_run_per_stage(tmp_path):
    path = tmp_path / "w.duckdb"
    assert ops.rows_published(path, "r1") == {}  # no publish log yet
    con = ibis.duckdb.connect(path)
    rows = [
        {"table": t, "rows": n, "run_id": r, "stage": s, "schema_name": "x", "published_at": T0}
        for t, n, r, s in [("a", 2, "r1", "20_staging"), ("b", 3, "r1", "20_staging"), ("c", 5, "r1", "30_marts"),
                           ("a", 100, "r0", "20_staging")]
    ]  # fmt: skip
    ops.record(con, "publish_log", ibis.memtable(rows), replace_where={})
    con.disconnect()
    assert ops.rows_published(path, "r1") == {"20_staging": 5, "30_marts": 5}
    assert ops.rows_published(path, "r9") == {}
