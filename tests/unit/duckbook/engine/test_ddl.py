"""The statements duckbook runs: SQL snapshots for names and values that need quoting, then the
same statements run against an in-memory DuckDB."""

from __future__ import annotations

import ibis
import pytest
import sqlglot as sg
import sqlglot.expressions as sge

from duckbook.engine import ddl

# A schema with a double quote, a table named like a keyword, a value with a single quote.
SCHEMA, TABLE, VALUE = 'a"b', "select", "it's"


def sql(statement) -> str:
    return ddl.render(statement)


# --- snapshots ------------------------------------------------------------------------------


def test_create_schema():
    assert sql(ddl.create_schema(SCHEMA)) == 'CREATE SCHEMA IF NOT EXISTS "a""b"'


def test_create_table_quotes_table_and_column_names():
    columns = [ddl.column_def("order", "BIGINT"), ddl.column_def('say "hi"', "VARCHAR")]
    assert sql(ddl.create_table(SCHEMA, TABLE, columns)) == (
        'CREATE TABLE IF NOT EXISTS "a""b"."select" ("order" BIGINT, "say ""hi""" TEXT)'
    )


def test_create_table_as_replaces():
    query = sg.select("x").from_(ddl.table("raw", "from"))
    assert sql(ddl.create_table_as(SCHEMA, TABLE, query)) == (
        'CREATE OR REPLACE TABLE "a""b"."select" AS SELECT x FROM "raw"."from"'
    )


def test_drop_rename_add_column():
    assert sql(ddl.drop_table(SCHEMA, TABLE)) == 'DROP TABLE IF EXISTS "a""b"."select"'
    assert sql(ddl.rename_table(SCHEMA, "_wap_select", TABLE)) == (
        'ALTER TABLE "a""b"."_wap_select" RENAME TO "select"'
    )
    assert sql(ddl.add_column(SCHEMA, TABLE, ddl.column_def("group", "TIMESTAMP"))) == (
        'ALTER TABLE "a""b"."select" ADD COLUMN "group" TIMESTAMP'
    )


def test_delete_where_quotes_values():
    assert sql(ddl.delete_where(SCHEMA, TABLE, {"run_id": VALUE, "n": 3})) == (
        'DELETE FROM "a""b"."select" WHERE "run_id" = \'it\'\'s\' AND "n" = 3'
    )


def test_delete_where_list_means_any_of_and_empty_matches_nothing():
    assert sql(ddl.delete_where("ops", "t", {"batch_id": ["x", VALUE]})) == (
        "DELETE FROM \"ops\".\"t\" WHERE \"batch_id\" IN ('x', 'it''s')"
    )
    assert sql(ddl.delete_where("ops", "t", {"batch_id": []})) == 'DELETE FROM "ops"."t" WHERE FALSE'
    assert sql(ddl.delete_where("ops", "t", {})) == 'DELETE FROM "ops"."t" WHERE FALSE'


def test_insert_values_and_query():
    assert sql(ddl.insert(SCHEMA, TABLE, ["a"], sge.values([(VALUE,)]))) == (
        'INSERT INTO "a""b"."select" ("a") VALUES (\'it\'\'s\')'
    )
    query = sg.select("x").from_(ddl.table("raw", "from"))
    assert (
        sql(ddl.insert(SCHEMA, TABLE, ["a"], query)) == 'INSERT INTO "a""b"."select" ("a") SELECT x FROM "raw"."from"'
    )


def test_insert_values_quotes_names_and_values():
    assert sql(ddl.insert_values(SCHEMA, TABLE, ["a", "where"], [("x'); DROP TABLE t; --", None), (1, True)])) == (
        'INSERT INTO "a""b"."select" ("a", "where") VALUES (\'x\'\'); DROP TABLE t; --\', NULL), (1, TRUE)'
    )


def test_describe_passes_names_as_literals():
    assert sql(ddl.describe(SCHEMA, VALUE)) == (
        "SELECT column_name, data_type FROM DUCKDB_COLUMNS() "
        "WHERE schema_name = 'a\"b' AND table_name = 'it''s' ORDER BY column_index"
    )


def test_profile_query():
    assert sql(ddl.profile(SCHEMA, TABLE, ["from"])) == (
        'SELECT COUNT(*), COUNT("from"), CAST(MIN("from") AS TEXT), CAST(MAX("from") AS TEXT) FROM "a""b"."select"'
    )


def test_sum_by():
    assert sql(ddl.sum_by("ops", "publish_log", "stage", "rows", {"run_id": VALUE})) == (
        'SELECT "stage", SUM("rows") FROM "ops"."publish_log" WHERE "run_id" = \'it\'\'s\' GROUP BY "stage"'
    )


def test_checkpoint():
    assert sql(ddl.checkpoint()) == "CHECKPOINT"


# --- behaviour on DuckDB --------------------------------------------------------------------


@pytest.fixture
def con():
    connection = ibis.duckdb.connect()
    yield connection
    connection.disconnect()


def run(con, statement):
    return con.raw_sql(ddl.render(statement))


def test_statements_run_on_awkward_names(con):
    run(con, ddl.create_schema(SCHEMA))
    run(con, ddl.create_schema(SCHEMA))  # IF NOT EXISTS
    run(con, ddl.create_table(SCHEMA, "_wap_select", [ddl.column_def("order", "VARCHAR")]))
    run(con, ddl.rename_table(SCHEMA, "_wap_select", TABLE))
    run(con, ddl.add_column(SCHEMA, TABLE, ddl.column_def("n", "BIGINT")))
    run(con, ddl.insert(SCHEMA, TABLE, ["order", "n"], sge.values([(VALUE, 1), ("x", 2)])))
    assert run(con, ddl.describe(SCHEMA, TABLE)).fetchall() == [("order", "VARCHAR"), ("n", "BIGINT")]
    assert con.table(TABLE, database=SCHEMA).count().execute() == 2

    run(con, ddl.delete_where(SCHEMA, TABLE, {"order": VALUE}))
    assert con.table(TABLE, database=SCHEMA).to_pyarrow().to_pylist() == [{"order": "x", "n": 2}]
    assert run(con, ddl.profile(SCHEMA, TABLE, ["order", "n"])).fetchall() == [(1, 1, "x", "x", 1, "2", "2")]

    run(con, ddl.drop_table(SCHEMA, TABLE))
    run(con, ddl.drop_table(SCHEMA, TABLE))  # IF EXISTS
    assert run(con, ddl.describe(SCHEMA, TABLE)).fetchall() == []


def test_sum_by_groups_the_matching_rows(con):
    con.create_table(
        "log", ibis.memtable({"stage": ["a", "a", "b", "a"], "rows": [1, 2, 3, 4], "run_id": ["r", "r", "r", "s"]})
    )
    result = run(con, ddl.sum_by("main", "log", "stage", "rows", {"run_id": "r"})).fetchall()
    assert sorted(result) == [("a", 3), ("b", 3)]
