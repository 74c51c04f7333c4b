"""Statements on warehouse tables, against an in-memory DuckDB, on names that need quoting."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import duckdb
import ibis
import pytest

from duckbook import config
from duckbook.engine import connection, ddl, tables
from tests.unit.helpers import rows

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


def test_table_is_what_ibis_looks_up_or_none(con):
    tables.ensure_schema(con, SCHEMA)
    con.raw_sql(
        'CREATE TABLE "a""b"."select" (x BIGINT NOT NULL, "order" VARCHAR, d DECIMAL(18, 2), t TIMESTAMP, l INT[])'
    )
    found = tables.table(con, SCHEMA, TABLE)
    assert found is not None and found.equals(con.table(TABLE, database=SCHEMA))
    assert not found.schema()["x"].nullable and found.schema()["order"].nullable
    assert tables.table(con, SCHEMA, "missing") is None
    assert tables.table(con, "no_schema", TABLE) is None


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


# --- evolve_table --------------------------------------------------------------------------------


#: (old type, new type, whether DuckLake alters it in place)
PROMOTION_CASES = [
    ("TINYINT", "SMALLINT", True),
    ("SMALLINT", "BIGINT", True),
    ("INTEGER", "BIGINT", True),
    ("UTINYINT", "USMALLINT", True),
    ("UTINYINT", "SMALLINT", True),
    ("USMALLINT", "INTEGER", True),
    ("UINTEGER", "UBIGINT", True),
    ("UINTEGER", "BIGINT", False),  # measured: DuckLake refuses it
    ("FLOAT", "DOUBLE", True),
    ("BIGINT", "INTEGER", False),
    ("INTEGER", "UBIGINT", False),
    ("INTEGER", "DOUBLE", False),
    ("INTEGER", "DECIMAL(18,2)", False),
    ("BIGINT", "DECIMAL(38,0)", False),
    ("BIGINT", "DECIMAL(18,2)", False),
    ("DECIMAL(10,2)", "DECIMAL(12,2)", False),
    ("INTEGER", "VARCHAR", False),
    ("DATE", "TIMESTAMP", False),
]


@pytest.mark.parametrize(("old", "new", "in_place"), PROMOTION_CASES)
def test_retypes_in_place_is_ducklakes_type_promotions(old, new, in_place):
    assert tables.retypes_in_place(old, new) is in_place


def evolvable(con) -> None:
    tables.ensure_table(con, SCHEMA, TABLE, [ddl.column_def("x", "INTEGER"), ddl.column_def("n", "BIGINT")])
    con.raw_sql(f"INSERT INTO {ddl.render(ddl.table(SCHEMA, TABLE))} VALUES (1, 10), (2, NULL)")


def test_evolve_table_adds_nullable_columns_and_widens_in_place(con):
    evolvable(con)
    rewritten = tables.evolve_table(con, SCHEMA, TABLE, {"from": "string", "p": "decimal(18, 2)"}, {"x": "int64"})
    assert rewritten is False
    assert tables.columns(con, SCHEMA, TABLE) == [
        ("x", "BIGINT"),
        ("n", "BIGINT"),
        ("from", "VARCHAR"),
        ("p", "DECIMAL(18,2)"),
    ]
    assert content(con) == [{"x": 1, "n": 10, "from": None, "p": None}, {"x": 2, "n": None, "from": None, "p": None}]


def test_evolve_table_rewrites_for_a_widening_ducklake_cannot_apply_in_place(con):
    evolvable(con)
    rewritten = tables.evolve_table(con, SCHEMA, TABLE, {"note": "!string"}, {"n": "decimal(38, 0)", "x": "int64"})
    assert rewritten is True
    assert tables.columns(con, SCHEMA, TABLE) == [("x", "BIGINT"), ("n", "DECIMAL(38,0)"), ("note", "VARCHAR")]
    assert content(con) == [{"x": 1, "n": 10, "note": None}, {"x": 2, "n": None, "note": None}]
    assert sorted(con.list_tables(database=SCHEMA)) == [TABLE]  # no hidden table left behind
    con.raw_sql(f"INSERT INTO {ddl.render(ddl.table(SCHEMA, TABLE))} (x) VALUES (3)")  # the added column is nullable


def test_evolving_twice_is_evolving_once(con):
    evolvable(con)
    for _ in range(2):
        tables.evolve_table(con, SCHEMA, TABLE, {"note": "string"}, {"x": "int64"})
    assert tables.evolve_table(con, SCHEMA, TABLE, {"note": "string"}, {"x": "int64"}) is False
    assert tables.evolve_table(con, SCHEMA, TABLE, {}, {}) is False
    assert tables.columns(con, SCHEMA, TABLE) == [("x", "BIGINT"), ("n", "BIGINT"), ("note", "VARCHAR")]


def test_evolve_table_names_what_cannot_be_done(con):
    with pytest.raises(tables.TableEvolutionError, match=r'cannot evolve a"b.select: there is no such table'):
        tables.evolve_table(con, SCHEMA, TABLE, {"y": "string"}, {})
    evolvable(con)
    with pytest.raises(
        tables.TableEvolutionError, match=r'cannot change the type of y in a"b.select: no such column \(columns: x, n\)'
    ):
        tables.evolve_table(con, SCHEMA, TABLE, {}, {"y": "int64"})
    with pytest.raises(tables.TableEvolutionError, match=r'cannot add n string to a"b.select: it has n BIGINT'):
        tables.evolve_table(con, SCHEMA, TABLE, {"n": "string"}, {})
    assert tables.columns(con, SCHEMA, TABLE) == [("x", "INTEGER"), ("n", "BIGINT")]


# --- on a real DuckLake warehouse ----------------------------------------------------------------


@pytest.fixture
def lake(tmp_path):
    """The writer of a throw-away DuckLake warehouse (and its config, for readers)."""
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "wh", memory_limit="1GB", threads=1)
    writer = connection.connect(cfg=cfg)
    yield writer, cfg
    connection.close_writer(cfg)


def as_of(cfg, snapshot: int) -> tuple[dict[str, str], list[dict]]:
    """Schema and rows of raw.orders as a reader pinned to ``snapshot`` sees them."""
    reader = connection.connect(cfg.warehouse, read_only=True, as_of=snapshot, cfg=cfg)
    try:
        orders = reader.table("orders", database="raw")
        return {c: str(t) for c, t in orders.schema().items()}, rows(orders, "id")
    finally:
        reader.disconnect()


@pytest.mark.slow
def test_ducklake_refuses_exactly_the_changes_retypes_in_place_rejects(lake):
    """The measurement behind retypes_in_place: DuckLake (DuckDB 1.4.4) alters only its promotions."""
    writer, _ = lake
    defs = ", ".join(f"c{i} {old}" for i, (old, _, _) in enumerate(PROMOTION_CASES))
    connection.begin(writer)
    writer.raw_sql(f"CREATE SCHEMA s; CREATE TABLE s.t ({defs})")
    connection.publish(writer, message="create", extra={})
    applied = []
    for i, (_, new, _) in enumerate(PROMOTION_CASES):
        connection.begin(writer)
        try:
            writer.raw_sql(f"ALTER TABLE s.t ALTER COLUMN c{i} SET DATA TYPE {new}")
            connection.publish(writer, message="alter", extra={})
            applied.append(True)
        except duckdb.Error as exc:
            assert "only widening type promotions are allowed" in str(exc)
            connection.rollback(writer)
            applied.append(False)
    assert applied == [in_place for _, _, in_place in PROMOTION_CASES]


@pytest.mark.slow
def test_evolve_table_on_a_lake_keeps_past_snapshots_on_their_schema(lake):
    writer, cfg = lake
    orders = ddl.render(ddl.table("raw", "orders"))
    connection.begin(writer)
    writer.raw_sql(f"CREATE SCHEMA raw; CREATE TABLE {orders} (id VARCHAR, amount INTEGER, tax BIGINT)")
    writer.raw_sql(f"INSERT INTO {orders} VALUES ('a', 1, 10)")
    first = connection.publish(writer, message="day 1", extra={"run_id": "r1"})

    connection.begin(writer)  # in place, in the run's transaction, then a delivery with the new column
    assert tables.evolve_table(writer, "raw", "orders", {"note": "string"}, {"amount": "int64"}) is False
    writer.raw_sql(f"INSERT INTO {orders} VALUES ('b', 2, 20, 'hello')")
    second = connection.publish(writer, message="day 2", extra={"run_id": "r2"})

    connection.begin(writer)  # rolled back: the added column goes with it
    tables.evolve_table(writer, "raw", "orders", {"gone": "string"}, {})
    assert ("gone", "VARCHAR") in tables.columns(writer, "raw", "orders")
    connection.rollback(writer)
    assert ("gone", "VARCHAR") not in tables.columns(writer, "raw", "orders")

    connection.begin(writer)  # DuckLake cannot alter these in place: the table is rewritten
    widen = {"amount": "decimal(38, 0)", "tax": "decimal(21, 2)"}
    assert tables.evolve_table(writer, "raw", "orders", {"paid": "decimal(18, 2)"}, widen) is True
    writer.raw_sql(f"INSERT INTO {orders} VALUES ('c', 3, 30.5, 'x', 3.25)")
    third = connection.publish(writer, message="day 3", extra={"run_id": "r3"})

    assert tables.columns(writer, "raw", "orders") == [
        ("id", "VARCHAR"),
        ("amount", "DECIMAL(38,0)"),
        ("tax", "DECIMAL(21,2)"),
        ("note", "VARCHAR"),
        ("paid", "DECIMAL(18,2)"),
    ]
    assert as_of(cfg, first) == (
        {"id": "string", "amount": "int32", "tax": "int64"},
        [{"id": "a", "amount": 1, "tax": 10}],
    )
    assert as_of(cfg, second) == (
        {"id": "string", "amount": "int64", "tax": "int64", "note": "string"},
        [{"id": "a", "amount": 1, "tax": 10, "note": None}, {"id": "b", "amount": 2, "tax": 20, "note": "hello"}],
    )
    schema, latest = as_of(cfg, third)
    assert schema == {
        "id": "string",
        "amount": "decimal(38, 0)",
        "tax": "decimal(21, 2)",
        "note": "string",
        "paid": "decimal(18, 2)",
    }
    assert [(r["id"], r["amount"], r["tax"], r["note"], r["paid"]) for r in latest] == [
        ("a", Decimal(1), Decimal("10.00"), None, None),
        ("b", Decimal(2), Decimal("20.00"), "hello", None),
        ("c", Decimal(3), Decimal("30.50"), "x", Decimal("3.25")),
    ]
