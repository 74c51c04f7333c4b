"""Opening the warehouse, running statements on either kind of connection, transactions."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import duckdb
import ibis
import pytest
import sqlglot

from duckbook import config
from duckbook.engine import connection, ddl
from duckbook.errors import WarehouseNotFound


@pytest.fixture
def cfg(tmp_path):
    return dataclasses.replace(config.load(), warehouse=tmp_path / "wh", memory_limit="1GB", threads=1)


def setting(con, name: str) -> str:
    return con.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]


@pytest.mark.slow
def test_the_writer_applies_the_configured_engine_settings_and_is_one_per_process(cfg):
    con = connection.connect(cfg=cfg)
    try:
        assert setting(con, "threads") == 1
        assert setting(con, "memory_limit") in ("1.0 GB", "953.6 MiB")
        assert setting(con, "temp_directory") == str(cfg.temp_directory)
        assert cfg.temp_directory.is_dir() and cfg.catalog_file.is_file()
        assert connection.connect(cfg=cfg) is con  # attached once, reused by every stage
        assert cfg.lock_file.is_file()
    finally:
        connection.close_writer(cfg)


def test_read_only_connect_to_a_missing_warehouse_names_it(cfg, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(
        WarehouseNotFound, match=f"warehouse {missing} does not exist yet: run `duckbook run` \\(or `make run`\\) first"
    ):
        connection.connect(missing, read_only=True, cfg=cfg)
    assert issubclass(WarehouseNotFound, FileNotFoundError)  # callers catching FileNotFoundError still do
    assert not missing.exists()


@pytest.mark.slow
def test_published_snapshots_are_what_readers_see(cfg):
    writer = connection.connect(cfg=cfg)
    try:
        connection.begin(writer)
        writer.raw_sql("CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 AS x")
        first = connection.publish(writer, message="one", extra={"run_id": "r1"})
        reader = connection.connect(cfg.warehouse, read_only=True, cfg=cfg)
        connection.begin(writer)
        writer.raw_sql("INSERT INTO marts.t VALUES (2)")
        assert reader.table("t", database="marts").count().execute() == 1  # uncommitted: unseen
        second = connection.publish(writer, message="two", extra={"run_id": "r2"})
        assert reader.table("t", database="marts").count().execute() == 1  # pinned to its snapshot
        fresh = connection.connect(cfg.warehouse, read_only=True, cfg=cfg)
        assert fresh.table("t", database="marts").count().execute() == 2  # a new reader sees the new run
        for as_of in ("r1", first, str(first)):
            old = connection.connect(cfg.warehouse, read_only=True, as_of=as_of, cfg=cfg)
            assert old.table("t", database="marts").count().execute() == 1, as_of
        assert second == first + 1
        connection.begin(writer)
        assert connection.publish(writer, message="nothing", extra={}) is None  # no change: no snapshot
    finally:
        connection.close_writer(cfg)


@pytest.mark.slow
def test_a_second_writer_is_refused_while_one_holds_the_lock(cfg):
    from duckbook.engine.lock import RunLocked

    connection.connect(cfg=cfg)
    try:
        code = (
            "import dataclasses, sys; from duckbook import config; from duckbook.engine import connection\n"
            f"cfg = dataclasses.replace(config.load(), warehouse=__import__('pathlib').Path({str(cfg.warehouse)!r}))\n"
            "connection.connect(cfg=cfg)"
        )
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert other.returncode != 0 and "another run holds" in other.stderr and RunLocked.__name__ in other.stderr
    finally:
        connection.close_writer(cfg)


@pytest.fixture(params=["ibis", "duckdb"])
def con(request):
    c = ibis.duckdb.connect() if request.param == "ibis" else duckdb.connect()
    connection.execute(c, ddl.create_table("main", "t", [ddl.column_def("x", "BIGINT")]))
    yield c
    if request.param == "ibis":
        c.disconnect()
    else:
        c.close()


def count(con) -> int:
    return connection.execute(con, ddl.profile("main", "t", [])).fetchone()[0]


def test_execute_runs_a_statement_with_parameters_on_either_connection(con):
    statement = ddl.insert("main", "t", ["x"], sqlglot.select(sqlglot.exp.Placeholder()))
    connection.execute(con, statement, [7])
    assert connection.execute(con, ddl.describe("main", "t")).fetchall() == [("x", "BIGINT")]
    assert count(con) == 1


def test_transaction_commits_when_the_block_ends(con):
    with connection.transaction(con):
        connection.execute(con, ddl.insert_values("main", "t", ["x"], [[1]]))
        connection.execute(con, ddl.insert_values("main", "t", ["x"], [[2]]))
    assert count(con) == 2


def test_transaction_rolls_back_and_reraises(con):
    with pytest.raises(RuntimeError, match="boom"), connection.transaction(con):
        connection.execute(con, ddl.insert_values("main", "t", ["x"], [[1]]))
        raise RuntimeError("boom")
    assert count(con) == 0
    with connection.transaction(con):  # the connection is usable again
        connection.execute(con, ddl.insert_values("main", "t", ["x"], [[1]]))
    assert count(con) == 1


def test_importing_the_engine_does_not_import_ibis():
    code = "import sys, duckbook.engine; assert 'ibis' not in sys.modules, 'ibis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
