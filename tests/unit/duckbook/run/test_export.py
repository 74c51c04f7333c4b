"""duckbook.run.export: schemas of a pinned snapshot into a DuckDB file or Parquet files."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest
from typer.testing import CliRunner

from duckbook import cli, config, engine
from duckbook.engine.lake import SnapshotNotFound
from duckbook.errors import UserError
from duckbook.params import ParameterError
from duckbook.run.export import ExportFailed, export

#: every column type the lake stores (HUGEINT beyond a double's range it cannot: Parquet keeps a double)
TYPES = {
    "flag": ("BOOLEAN", "true"),
    "tiny": ("TINYINT", "-8"),
    "small": ("SMALLINT", "300"),
    "int": ("INTEGER", "-70000"),
    "big": ("BIGINT", "9000000000"),
    "ubig": ("UBIGINT", "18446744073709551615"),
    "real": ("FLOAT", "1.5"),
    "dbl": ("DOUBLE", "2.25"),
    "money": ("DECIMAL(18,3)", "123.456"),
    "wide": ("DECIMAL(38,10)", "1234567890.0123456789"),
    "text": ("VARCHAR", "'it''s'"),
    "bytes": ("BLOB", "'\\xAA\\x00'::BLOB"),
    "day": ("DATE", "DATE '2026-01-31'"),
    "clock": ("TIME", "TIME '12:34:56.789'"),
    "ts": ("TIMESTAMP", "TIMESTAMP '2026-01-31 12:34:56.123456'"),
    "tstz": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ '2026-01-31 12:34:56.123456+02'"),
    "ts_ns": ("TIMESTAMP_NS", "TIMESTAMP_NS '2026-01-31 12:34:56.123456789'"),
    "span": ("INTERVAL", "INTERVAL 3 DAY + INTERVAL 4 HOUR"),
    "id": ("UUID", "'4c4f2a9e-3c1f-4f55-9d1a-6a4c0f3f2b11'::UUID"),
    "ints": ("INTEGER[]", "[1, NULL, 3]"),
    "pair": ("STRUCT(a INTEGER, b VARCHAR)", "{'a': 1, 'b': 'x'}"),
    "lookup": ("MAP(VARCHAR, INTEGER)", "MAP {'k': 1}"),
}


@pytest.fixture
def cfg(tmp_path):
    """A warehouse with two runs: r1 and r2 each replace marts.orders (r1: 3 rows, r2: 5 rows);
    marts.all_types has a row of every type and a row of NULLs; staging.stg_orders one row."""
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "wh", memory_limit="1GB", threads=1)
    con = engine.connect(cfg=cfg)
    try:
        engine.begin(con)
        columns = ", ".join(f"{name} {sql_type}" for name, (sql_type, _) in TYPES.items())
        con.raw_sql(
            f"CREATE SCHEMA marts; CREATE SCHEMA staging; CREATE TABLE marts.all_types ({columns});"
            f"INSERT INTO marts.all_types VALUES ({', '.join(v for _, v in TYPES.values())});"
            f"INSERT INTO marts.all_types VALUES ({', '.join('NULL' for _ in TYPES)});"
            "CREATE TABLE staging.stg_orders AS SELECT 1 AS id"
        )
        for run, rows in (("r1", 3), ("r2", 5)):
            con.raw_sql(
                f"CREATE OR REPLACE TABLE marts.orders AS SELECT range AS id, '{run}' AS run FROM range({rows})"
            )
            engine.publish(con, message=f"run {run}", extra={"run_id": run, "status": "success"})
            engine.begin(con)
    finally:
        engine.close_writer(cfg)
    return cfg


def lake_rows(cfg, table, as_of=None):
    con = engine.connect(cfg=cfg, read_only=True, as_of=as_of)
    return con.raw_sql(f"DESCRIBE {table}").fetchall(), con.raw_sql(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def file_rows(con, relation):
    return con.sql(f"DESCRIBE {relation}").fetchall(), con.sql(f"SELECT * FROM {relation} ORDER BY ALL").fetchall()


def leftovers(directory):
    return [p.name for p in directory.rglob("*") if p.name.endswith((".tmp", ".wal"))]


@pytest.mark.slow
def test_a_duckdb_file_gets_every_table_of_the_schemas_with_every_row_and_type(cfg, tmp_path):
    target = tmp_path / "out" / "shop.duckdb"
    summary = export(cfg, ["marts"], target)
    assert summary.format == "duckdb" and summary.path == target
    assert [(t.schema, t.table, t.rows) for t in summary.tables] == [("marts", "all_types", 2), ("marts", "orders", 5)]
    with duckdb.connect(str(target), read_only=True) as out:
        assert out.sql("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL").fetchall() == [
            ("marts", "all_types"),
            ("marts", "orders"),
        ]
        for table in ("marts.all_types", "marts.orders"):
            assert file_rows(out, table) == lake_rows(cfg, table), table
    assert leftovers(target.parent) == []
    assert summary.lines()[0] == f"exported 2 tables (7 rows) of snapshot {summary.snapshot_id} to {target}"


@pytest.mark.slow
def test_parquet_files_per_table_keep_every_row_and_type(cfg, tmp_path):
    target = tmp_path / "pq"
    summary = export(cfg, ["staging", "marts"], target)  # not .duckdb: Parquet
    assert summary.format == "parquet"
    assert [t.path.relative_to(target).as_posix() for t in summary.tables] == [
        "staging/stg_orders.parquet",
        "marts/all_types.parquet",
        "marts/orders.parquet",
    ]
    out = duckdb.connect()
    for t in summary.tables:
        assert file_rows(out, f"'{t.path}'") == lake_rows(cfg, f"{t.schema}.{t.table}"), t
    assert leftovers(target) == []


@pytest.mark.slow
def test_as_of_exports_an_older_run(cfg, tmp_path):
    old = export(cfg, ["marts"], tmp_path / "r1.duckdb", as_of="r1")
    new = export(cfg, ["marts"], tmp_path / "r2", format="parquet")
    assert old.snapshot_id == new.snapshot_id - 1
    with duckdb.connect(str(tmp_path / "r1.duckdb"), read_only=True) as out:
        assert out.sql("SELECT count(*), min(run), max(run) FROM marts.orders").fetchone() == (3, "r1", "r1")
    assert duckdb.sql(f"SELECT count(*), min(run) FROM '{tmp_path / 'r2/marts/orders.parquet'}'").fetchone() == (
        5,
        "r2",
    )
    by_snapshot = export(cfg, ["marts"], tmp_path / "s.duckdb", as_of=str(old.snapshot_id))
    assert by_snapshot.tables == tuple(dataclasses.replace(t, path=tmp_path / "s.duckdb") for t in old.tables)
    with pytest.raises(SnapshotNotFound):
        export(cfg, ["marts"], tmp_path / "none.duckdb", as_of="r9")
    assert not (tmp_path / "none.duckdb").exists()


@pytest.mark.slow
def test_unknown_or_malformed_schemas_and_formats_are_refused(cfg, tmp_path):
    target = tmp_path / "x.duckdb"
    with pytest.raises(
        UserError, match=r"unknown schema\(s\) nope, raw in warehouse .*; it has: main, marts, staging$"
    ):
        export(cfg, ["marts", "nope", "raw"], target)
    with pytest.raises(ParameterError, match=r"schema: 'marts; drop' is not a valid identifier"):
        export(cfg, ["marts; drop"], target)
    with pytest.raises(UserError, match=r"format must be one of duckdb, parquet, not 'csv'"):
        export(cfg, ["marts"], target, format="csv")
    with pytest.raises(UserError, match="name at least one schema"):
        export(cfg, [], target)
    with pytest.raises(UserError, match=r"is a directory: give the DuckDB file to write"):
        export(cfg, ["marts"], tmp_path, format="duckdb")
    assert not target.exists()
    result = CliRunner().invoke(cli.app, ["export", "nope", "--to", str(target), "--warehouse", str(cfg.warehouse)])
    assert result.exit_code == 2
    assert "error: unknown schema(s) nope" in result.stderr and "it has: main, marts, staging" in result.stderr


@pytest.mark.slow
def test_a_failed_export_leaves_the_old_target_and_no_half_file(cfg, tmp_path):
    target = tmp_path / "marts.duckdb"
    with duckdb.connect(str(target)) as old:
        old.sql("CREATE TABLE previous AS SELECT 42 AS answer")
    parquet = tmp_path / "pq"
    export(cfg, ["marts"], parquet)
    before = (parquet / "marts" / "orders.parquet").read_bytes()
    for data_file in (cfg.data_dir / "marts" / "orders").glob("*.parquet"):  # marts.orders cannot be read
        data_file.write_bytes(b"not parquet")
    with pytest.raises(ExportFailed, match=f"exporting to {target} failed, so it was not written: "):
        export(cfg, ["marts"], target)
    with duckdb.connect(str(target), read_only=True) as out:
        assert out.sql("SELECT * FROM previous").fetchall() == [(42,)]
    with pytest.raises(ExportFailed, match="orders.parquet failed, so it was not written"):
        export(cfg, ["marts"], parquet)
    assert (parquet / "marts" / "orders.parquet").read_bytes() == before
    assert leftovers(tmp_path) == []
    result = CliRunner().invoke(cli.app, ["export", "marts", "--to", str(target), "--warehouse", str(cfg.warehouse)])
    assert result.exit_code == 1 and result.stderr.startswith("error: exporting to ")


@pytest.mark.slow
def test_the_command_replaces_an_existing_file_and_prints_the_tables(cfg, tmp_path):
    target = tmp_path / "out.duckdb"
    with duckdb.connect(str(target)) as old:
        old.sql("CREATE TABLE previous AS SELECT 1 AS x")
    args = ["export", "marts", "staging", "--to", str(target), "--as-of", "r1", "--warehouse", str(cfg.warehouse)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "exported 3 tables (6 rows) of snapshot" in result.stdout
    assert "  marts.orders: 3 rows" in result.stdout and "  staging.stg_orders: 1 rows" in result.stdout
    with duckdb.connect(str(target), read_only=True) as out:
        assert [t for (t,) in out.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()] == [
            "all_types",
            "orders",
            "stg_orders",
        ]
