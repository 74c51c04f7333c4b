"""Statements on warehouse tables, against an in-memory DuckDB, on names that need quoting."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from duckbook.engine import ddl, tables

SCHEMA, TABLE = 'a"b', "select"


@pytest.fixture
def con():
    connection = ibis.duckdb.connect()
    yield connection
    connection.disconnect()


def content(con, name: str = TABLE, order_by: str = "x") -> list[dict]:
    return con.table(name, database=SCHEMA).order_by(order_by).to_pyarrow().to_pylist()


def test_ensure_table_creates_then_adds_only_the_missing_columns(con):
    assert not tables.table_exists(con, SCHEMA, TABLE)
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT")])
    tables.replace_rows(con, SCHEMA, TABLE, ibis.memtable({"x": [1]}), where={})
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT"), ddl.column_def("order", "VARCHAR")])
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT"), ddl.column_def("order", "VARCHAR")])
    assert tables.columns(con, SCHEMA, TABLE) == [("x", "BIGINT"), ("order", "VARCHAR")]
    assert content(con) == [{"x": 1, "order": None}]


def test_ensure_table_never_drops_or_retypes_a_column(con):
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT"), ddl.column_def("old", "VARCHAR")])
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "DOUBLE")])
    assert tables.columns(con, SCHEMA, TABLE) == [("x", "BIGINT"), ("old", "VARCHAR")]


def test_stage_table_materializes_a_memtable_under_a_hidden_name(con):
    expr = ibis.memtable({"x": [2, 1]}).mutate(y=ibis._.x * 10)
    staged, sql = tables.stage_table(con, SCHEMA, TABLE, expr)
    assert staged == "_wap_select"
    assert sql == con.compile(expr)  # kept for column lineage
    assert content(con, staged) == [{"x": 1, "y": 10}, {"x": 2, "y": 20}]
    assert not tables.table_exists(con, SCHEMA, TABLE)


def test_swap_in_replaces_every_table_of_the_build(con):
    for name, value in (("select", 1), ("from", 2)):
        con.create_table(name, ibis.memtable({"x": [value]}), database="main")
    tables.ensure_schema(con, SCHEMA)
    tables.stage_table(con, SCHEMA, TABLE, ibis.memtable({"x": [0]}))  # an old version
    tables.swap_in(con, SCHEMA, {TABLE: "_wap_select"})
    staged = {n: tables.stage_table(con, SCHEMA, n, con.table(n, database="main"))[0] for n in ("select", "from")}
    tables.swap_in(con, SCHEMA, staged)
    assert content(con, "select") == [{"x": 1}]
    assert content(con, "from") == [{"x": 2}]
    assert sorted(con.list_tables(database=SCHEMA)) == ["from", "select"]


def test_swap_in_is_all_or_nothing(con):
    tables.stage_table(con, SCHEMA, TABLE, ibis.memtable({"x": [1]}))
    tables.swap_in(con, SCHEMA, {TABLE: "_wap_select"})
    tables.stage_table(con, SCHEMA, TABLE, ibis.memtable({"x": [2]}))
    with pytest.raises(Exception, match="_wap_missing"):
        tables.swap_in(con, SCHEMA, {TABLE: "_wap_select", "other": "_wap_missing"})
    assert content(con) == [{"x": 1}]  # the first swap of the transaction was rolled back
    assert tables.table_exists(con, SCHEMA, "_wap_select")


def test_drop_staged(con):
    staged, _ = tables.stage_table(con, SCHEMA, TABLE, ibis.memtable({"x": [1]}))
    tables.drop_staged(con, SCHEMA, [staged, "_wap_never_built"])
    assert con.list_tables(database=SCHEMA) == []


def test_replace_rows_replaces_the_matching_rows_only(con):
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT"), ddl.column_def("run", "VARCHAR")])
    batch = ibis.memtable({"x": [1, 2], "run": ["it's", "it's"]})
    tables.replace_rows(con, SCHEMA, TABLE, batch, where={"run": "it's"})
    tables.replace_rows(con, SCHEMA, TABLE, batch, where={"run": "it's"})
    tables.replace_rows(con, SCHEMA, TABLE, ibis.memtable({"x": [3], "run": ["r2"]}), where={"run": ["r2", "r3"]})
    assert content(con) == [{"x": 1, "run": "it's"}, {"x": 2, "run": "it's"}, {"x": 3, "run": "r2"}]


def test_replace_rows_inserts_by_column_name(con):
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT"), ddl.column_def("y", "BIGINT")])
    tables.replace_rows(con, SCHEMA, TABLE, ibis.memtable({"y": [2], "x": [1]}), where={})
    assert content(con) == [{"x": 1, "y": 2}]


def test_replace_rows_keeps_the_old_rows_when_the_insert_fails(con):
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "BIGINT")])
    tables.replace_rows(con, SCHEMA, TABLE, ibis.memtable({"x": [1]}), where={})
    with pytest.raises(Exception, match="nope"):
        tables.replace_rows(con, SCHEMA, TABLE, ibis.memtable({"nope": [2]}), where={"x": 1})
    assert content(con) == [{"x": 1}]


def test_materialize_temp_computes_once_into_a_temporary_table(con):
    temp = tables.materialize_temp(con, ibis.memtable({"x": [1, 2]}), prefix="_validated")
    assert temp.get_name().startswith("temp.main._validated_")
    assert temp.count().execute() == 2


def test_profile_counts_nulls_and_bounds_per_column(con):
    rows = {"x": [3, None, 1], "order": ["it's", "b", None], "at": [dt.datetime(2024, 1, 2), None, None]}
    tables.ensure_schema(con, SCHEMA)
    con.create_table(
        TABLE, ibis.memtable(rows, schema={"x": "int64", "order": "string", "at": "timestamp"}), database=SCHEMA
    )
    assert tables.profile(con, SCHEMA, TABLE) == {
        "rows": 3,
        "columns": [
            {"name": "x", "type": "BIGINT", "nulls": 1, "min": "1", "max": "3"},
            {"name": "order", "type": "VARCHAR", "nulls": 1, "min": "b", "max": "it's"},
            {"name": "at", "type": "TIMESTAMP", "nulls": 2, "min": "2024-01-02 00:00:00", "max": "2024-01-02 00:00:00"},
        ],
    }
