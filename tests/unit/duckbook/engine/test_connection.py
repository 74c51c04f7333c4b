"""Opening the warehouse, running statements on either kind of connection, transactions."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import duckdb
import ibis
import pytest

from duckbook import config
from duckbook.engine import connection, ddl
from duckbook.errors import WarehouseNotFound


@pytest.fixture
def cfg(tmp_path):
    base = config.load()
    return dataclasses.replace(
        base, warehouse=tmp_path / "w.duckdb", memory_limit="1GB", threads=1, temp_directory=tmp_path / "spill"
    )


def setting(con, name: str) -> str:
    return con.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]


def test_connect_applies_the_configured_engine_settings(cfg):
    con = connection.connect(":memory:", cfg=cfg)
    try:
        assert setting(con, "threads") == 1
        assert setting(con, "memory_limit") in ("1.0 GB", "953.6 MiB")
        assert setting(con, "temp_directory") == str(cfg.temp_directory)
        assert cfg.temp_directory.is_dir()
    finally:
        con.disconnect()


def test_read_only_connect_to_a_missing_warehouse_names_it(cfg, tmp_path):
    missing = tmp_path / "nowhere" / "w.duckdb"
    with pytest.raises(WarehouseNotFound, match=f"warehouse {missing} does not exist yet: run `make run` first"):
        connection.connect(missing, read_only=True, cfg=cfg)
    assert issubclass(WarehouseNotFound, FileNotFoundError)  # callers catching FileNotFoundError still do
    assert not missing.parent.exists()


@pytest.mark.slow
def test_connect_defaults_to_the_configured_file_and_creates_its_directory(tmp_path, cfg):
    cfg = dataclasses.replace(cfg, warehouse=tmp_path / "sub" / "w.duckdb")
    con = connection.connect(cfg=cfg)
    con.create_table("t", ibis.memtable({"x": [1]}))
    connection.checkpoint(con)
    con.disconnect()
    assert cfg.warehouse.is_file()
    reader = connection.connect(str(cfg.warehouse), read_only=True, cfg=cfg)
    assert reader.table("t").count().execute() == 1
    reader.disconnect()
    with connection.connect_plain(cfg.warehouse) as plain:
        assert plain.execute("SELECT x FROM t").fetchall() == [(1,)]


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
    connection.execute(con, ddl.insert_placeholders("main", "t", ["x"]), [7])
    assert connection.execute(con, ddl.describe("main", "t")).fetchall() == [("x", "BIGINT")]
    assert count(con) == 1


def test_transaction_commits_when_the_block_ends(con):
    with connection.transaction(con):
        connection.execute(con, ddl.insert_placeholders("main", "t", ["x"]), [1])
        connection.execute(con, ddl.insert_placeholders("main", "t", ["x"]), [2])
    assert count(con) == 2


def test_transaction_rolls_back_and_reraises(con):
    with pytest.raises(RuntimeError, match="boom"), connection.transaction(con):
        connection.execute(con, ddl.insert_placeholders("main", "t", ["x"]), [1])
        raise RuntimeError("boom")
    assert count(con) == 0
    with connection.transaction(con):  # the connection is usable again
        connection.execute(con, ddl.insert_placeholders("main", "t", ["x"]), [1])
    assert count(con) == 1


def test_importing_the_engine_does_not_import_ibis():
    code = "import sys, duckbook.engine; assert 'ibis' not in sys.modules, 'ibis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
