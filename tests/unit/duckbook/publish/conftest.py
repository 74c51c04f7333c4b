"""Tiny inputs shared by the publish tests: an executed report notebook and a small warehouse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import nbformat
import pytest

from duckbook import engine, ops
from duckbook.build import lineage
from duckbook.publish.page import META_KEY

META = {"title": "Sales <script>alert(1)</script>", "run_id": "r1", "data_date": "2019-08-10", "freshness": "1 day(s)"}


def write_notebook(path: Path, meta: dict[str, str] | None = META) -> Path:
    """An executed report notebook: a markdown cell, the header output, a table and a chart."""
    header = nbformat.v4.new_output(
        "display_data", data={"text/html": "<p class='run-meta'>Run r1</p>"}, metadata={META_KEY: meta} if meta else {}
    )
    chart = nbformat.v4.new_output(
        "display_data", data={"image/svg+xml": "<svg width='200' height='200'><rect width='200' height='200'/></svg>"}
    )
    table = nbformat.v4.new_output("execute_result", data={"text/html": "<table><tr><td>42</td></tr></table>"})
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Sales\nThe month's revenue."),
            nbformat.v4.new_code_cell("from duckbook.publish import page\npage.header()", outputs=[header]),
            nbformat.v4.new_code_cell("def secret(): pass\nimport os", outputs=[table, chart]),
        ]
    )
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "50_report_sales.ipynb")


def fill_warehouse(con: engine.DuckDBBackend) -> None:
    """raw.customers (with a PII name), staging.stg_customers built from it, a metrics table,
    their lineage and two check results."""
    for schema in ("raw", "staging", "metrics"):
        engine.ensure_schema(con, schema)
    con.create_table("customers", ibis.memtable({"id": [1, 2], "name": ["Ann Secret", None]}), database="raw")
    con.create_table(
        "stg_customers",
        ibis.memtable(
            {"customer_id": [1, 2], "customer_name": ["Ann Secret", "Bob Hidden"], "note": ["<b>", "x" * 60]}
        ),
        database="staging",
    )
    con.create_table("monthly", ibis.memtable({"revenue": [1.5]}), database="metrics")
    lineage.record(
        con, "raw", {"customers": {"upstream": ["file:data/raw_customers.csv"], "sql": "-- read"}}, run_id="r1"
    )
    sql = "SELECT t.id AS customer_id, t.name AS customer_name, 'x' AS note FROM raw._wap_customers AS t"
    lineage.record(con, "staging", {"stg_customers": {"upstream": ["raw.customers"], "sql": sql}}, run_id="r1")
    checked_at = dt.datetime(2019, 8, 11)
    results = [
        {"check_name": "unique__customer_id", "severity": "error", "status": "pass", "failing_rows": 0},
        {"check_name": "not_null__<note>", "severity": "warn", "status": "fail", "failing_rows": 3},
    ]
    declared = ops.columns("check_results")
    rows = [
        {
            **dict.fromkeys(declared),
            "schema_name": "staging",
            "table_name": "stg_customers",
            "checked_at": checked_at,
            **r,
        }
        for r in results
    ]
    ops.record(
        con,
        "check_results",
        ibis.memtable(rows, schema=ops.schema("check_results")),
        replace_where={"schema_name": "staging"},
    )


@pytest.fixture
def warehouse() -> engine.DuckDBBackend:
    con = ibis.duckdb.connect()
    fill_warehouse(con)
    yield con
    con.disconnect()
