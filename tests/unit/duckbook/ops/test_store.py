"""The one writer and the readers of the ops tables, against an in-memory DuckDB."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from duckbook import engine, ops
from duckbook.engine import ddl

AT = dt.datetime(2024, 1, 2, 3, 4, 5)
STAMP = ("run_id", "stage", "schema_name")


@pytest.fixture
def con():
    connection = ibis.duckdb.connect()
    yield connection
    connection.disconnect()


def publish_rows(run_id: str = "r1", stage: str = "20_staging", **counts: int) -> ibis.Table:
    rows = [
        {"table": t, "rows": n, "run_id": run_id, "stage": stage, "schema_name": "staging", "published_at": AT}
        for t, n in (counts or {"orders": 3}).items()
    ]
    return ibis.memtable(rows)


def stored(con, name: str) -> list[dict]:
    table = ops.table(con, name)
    return table.order_by(list(table.columns)).to_pyarrow().to_pylist()


def test_record_creates_the_table_with_the_declared_columns_and_types(con):
    types = {"published_at": "string", "rows": "int8", "table": "string", "run_id": "string", "stage": "string",
             "schema_name": "string"}  # fmt: skip
    values = {"published_at": ["2024-01-02 03:04:05"], "rows": [3], "table": ["orders"], "run_id": ["r1"],
              "stage": ["s"], "schema_name": ["x"]}  # fmt: skip
    ops.record(con, "publish_log", ibis.memtable(values, schema=types), replace_where={"run_id": "r1"})
    assert engine.columns(con, "ops", "publish_log") == [
        ("table", "VARCHAR"),
        ("rows", "BIGINT"),
        ("run_id", "VARCHAR"),
        ("stage", "VARCHAR"),
        ("schema_name", "VARCHAR"),
        ("published_at", "TIMESTAMP"),
    ]
    assert stored(con, "publish_log") == [
        {"table": "orders", "rows": 3, "run_id": "r1", "stage": "s", "schema_name": "x", "published_at": AT}
    ]


def test_conform_orders_the_columns_and_casts_only_what_differs():
    rows = publish_rows().mutate(rows=ibis._.rows.cast("int8")).select("published_at", "rows", *STAMP, "table")
    conformed = ops.conform("publish_log", rows)
    assert conformed.columns == tuple(ops.columns("publish_log"))
    assert conformed.schema()["rows"] == ibis.dtype("int64")
    values = conformed.op().values
    assert type(values["rows"]).__name__ == "Cast"
    assert type(values["table"]).__name__ == "Field"  # already a string


def test_a_missing_column_is_named(con):
    with pytest.raises(ops.OpsTableError, match=r"rows for ops\.publish_log have missing column\(s\) published_at;"):
        ops.record(con, "publish_log", publish_rows().drop("published_at"), replace_where={"run_id": "r1"})
    assert not ops.exists(con, "publish_log")  # nothing written


def test_an_undeclared_column_is_named_with_the_declaration(con):
    with pytest.raises(ops.OpsTableError) as excinfo:
        ops.record(con, "publish_log", publish_rows().mutate(extra=1), replace_where={"run_id": "r1"})
    assert "undeclared column(s) extra" in str(excinfo.value)
    assert "declared: table, rows, run_id, stage, schema_name, published_at" in str(excinfo.value)
    assert "duckbook/ops/tables.py" in str(excinfo.value)


def test_recording_an_unknown_table_is_an_error(con):
    with pytest.raises(ops.OpsTableError, match="not an ops table"):
        ops.record(con, "nope", publish_rows(), replace_where={})


def test_recording_the_same_run_twice_keeps_one_copy(con):
    for _ in range(2):
        ops.record(
            con, "publish_log", publish_rows(orders=3, items=5), replace_where={"run_id": "r1", "stage": "20_staging"}
        )
    ops.record(
        con,
        "publish_log",
        publish_rows(stage="30_marts", orders=1),
        replace_where={"run_id": "r1", "stage": "30_marts"},
    )
    ops.record(
        con, "publish_log", publish_rows(run_id="r2", orders=4), replace_where={"run_id": "r2", "stage": "20_staging"}
    )
    rows = sorted((r["run_id"], r["stage"], r["table"], r["rows"]) for r in stored(con, "publish_log"))
    assert rows == [
        ("r1", "20_staging", "items", 5),
        ("r1", "20_staging", "orders", 3),
        ("r1", "30_marts", "orders", 1),
        ("r2", "20_staging", "orders", 4),
    ]


def test_replace_where_with_a_list_replaces_any_of_them(con):
    rows = [
        {"schema_name": "marts", "table_name": t, "upstream": "[]", "sql": "SELECT 1", "run_id": "r1"} for t in "ab"
    ]
    ops.record(con, "lineage", ibis.memtable(rows), replace_where={"schema_name": "marts", "table_name": ["a", "b"]})
    ops.record(
        con, "lineage", ibis.memtable(rows[:1]), replace_where={"schema_name": "marts", "table_name": ["a", "b"]}
    )
    assert [r["table_name"] for r in stored(con, "lineage")] == ["a"]


def test_a_table_created_by_an_older_version_gets_the_new_columns(con):
    # an older duckbook recorded publish_log without published_at, in another column order
    engine.ensure_table(
        con,
        "ops",
        "publish_log",
        [
            ddl.column_def(c, t)
            for c, t in [
                ("run_id", "VARCHAR"),
                ("table", "VARCHAR"),
                ("rows", "BIGINT"),
                ("stage", "VARCHAR"),
                ("schema_name", "VARCHAR"),
            ]
        ],
    )
    engine.replace_rows(
        con,
        "ops",
        "publish_log",
        ibis.memtable({"run_id": ["r0"], "table": ["orders"], "rows": [1], "stage": ["s"], "schema_name": ["x"]}),
        where={},
    )
    ops.record(con, "publish_log", publish_rows(), replace_where={"run_id": "r1"})
    assert engine.columns(con, "ops", "publish_log")[-1] == ("published_at", "TIMESTAMP")
    assert [(r["run_id"], r["published_at"]) for r in stored(con, "publish_log")] == [("r0", None), ("r1", AT)]


def test_readers_of_a_table_not_recorded_yet(con):
    assert not ops.exists(con, "quarantine")
    assert ops.read(con, "quarantine") is None
    with pytest.raises(
        ops.OpsTableNotFound,
        match=r"ops\.quarantine is not in the warehouse yet: run `duckbook run` \(or `make run`\) first",
    ):
        ops.table(con, "quarantine")
    with pytest.raises(ops.OpsTableError, match="not an ops table"):
        ops.exists(con, "quarantined")


def test_readers_of_a_recorded_table(con):
    ops.record(con, "publish_log", publish_rows(), replace_where={"run_id": "r1"})
    assert ops.exists(con, "publish_log")
    assert ops.read(con, "publish_log").count().execute() == 1
    assert ops.table(con, "publish_log").columns == tuple(ops.columns("publish_log"))
