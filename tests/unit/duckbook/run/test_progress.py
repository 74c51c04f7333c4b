"""What a person sees: stage lines, model actions, checks, quarantine, progress, the summary."""

from __future__ import annotations

import duckdb
import pytest

from duckbook import events
from duckbook.params import ParameterError
from duckbook.run import selection, summary
from duckbook.run.progress import Progress


def test_stage_events_become_lines(tmp_path, monkeypatch):
    lines: list[str] = []
    file = tmp_path / "events.jsonl"
    monkeypatch.setenv(events.EVENTS_ENV, str(file))
    show = Progress(lambda message, err=False: lines.append(message), file)
    with show.stage("30_marts"):
        events.emit("model", model="marts.orders", action="full", detail="code changed")
        events.emit("model", model="marts.products", action="unchanged", detail="no input changed")
        events.emit("model", model="marts.customers", action="stale", detail="not selected; inputs changed: x")
        events.emit("checks", schema="marts", **{"pass": 40, "warn": 1})
        events.emit("published", schema="marts", tables=2, rows=1234)
        for done in (1, 2, 3):
            events.emit("progress", what="files ingested", done=done, total=3, item=f"f{done}")
        events.emit("quarantined", file="2024-01-02/raw_orders.csv", rows=3, table="raw_orders")
    show.ended("30_marts", "success", 1.5)
    text = "\n".join(lines)
    assert lines[0].split() == ["30_marts", "running"]
    assert "marts.orders: full (code changed)" in text
    assert "marts.products" not in text, "unchanged models are not listed"
    assert "marts.customers: stale (not selected; inputs changed: x)" in text
    assert "files ingested: 3/3" in text
    assert "quarantined 3 row(s) of 2024-01-02/raw_orders.csv (raw.raw_orders)" in text
    assert lines[-1].split()[:3] == ["30_marts", "success", "1.50s"]
    assert "1,234 rows" in lines[-1] and "checks 40 passed, 1 warned, 0 failed" in lines[-1]
    assert lines[-1].endswith("models 1 full, 1 stale, 1 unchanged")


@pytest.fixture
def ops_db():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA ops")
    con.execute("CREATE TABLE ops.check_results (check_name VARCHAR, schema_name VARCHAR, table_name VARCHAR, "
                "status VARCHAR, failing_rows BIGINT, observed DOUBLE, threshold VARCHAR, run_id VARCHAR)")  # fmt: skip
    con.execute('CREATE TABLE ops.ingest_manifest (file_path VARCHAR, source_file VARCHAR, "table" VARCHAR, '
                "rows_quarantined BIGINT, run_id VARCHAR)")  # fmt: skip
    con.execute("CREATE TABLE ops.lineage (schema_name VARCHAR, table_name VARCHAR, upstream VARCHAR)")
    con.execute("""INSERT INTO ops.check_results VALUES
        ('not_null__id', 'marts', 'orders', 'pass', 0, NULL, '', 'r1'),
        ('freshness__orders__ordered_at', 'marts', 'orders', 'warn', 0, 80.0, 'warn if >48 hours', 'r1'),
        ('totals_match', 'marts', 'customers', 'fail', 3, NULL, 'error if > 0', 'r1'),
        ('other_run', 'marts', 'orders', 'fail', 1, NULL, '', 'r0')""")
    con.execute("""INSERT INTO ops.ingest_manifest VALUES
        ('2024-01-02/raw_orders.csv', 'x', 'raw_orders', 2, 'r1'), ('2024-01-02/raw_items.csv', 'y', 'raw_items', 0, 'r1')""")
    con.execute("""INSERT INTO ops.lineage VALUES ('marts', 'customers', '["marts.orders"]'),
        ('marts', 'orders', '["staging.stg_orders"]'), ('staging', 'stg_orders', '["raw.raw_orders", "file:/x"]')""")
    return con


def test_the_summary_names_warnings_in_days_failures_and_quarantined_files(ops_db):
    found = summary.summarize(ops_db, "r1")
    assert (found.passed, found.warned, found.failed) == (1, 1, 1)
    lines = found.lines()
    assert lines[0] == "checks: 1 passed, 1 warned, 1 failed"
    assert any("FAIL marts.customers: totals_match: 3 failing row(s)" in line and
               "downstream of quarantined rows in raw.raw_orders" in line for line in lines), lines  # fmt: skip
    assert any("warn marts.orders: freshness__orders__ordered_at: 3.3 days old (warn after 2.0 days)" in line
               for line in lines), lines  # fmt: skip
    assert "quarantined: 2 row(s) in 1 file(s)" in lines
    assert any(line.strip().startswith("2024-01-02/raw_orders.csv: 2 row(s) quarantined") for line in lines)


def test_a_run_without_ops_tables_has_an_empty_summary():
    assert summary.summarize(duckdb.connect(), "r1") == summary.RunSummary()


def test_an_unknown_model_is_named_with_the_closest_names():
    edges = {"marts.orders": ("staging.stg_orders",), "marts.order_items": ("staging.stg_orders",),
             "staging.stg_orders": ("raw.raw_orders",), "other.orders": ()}  # fmt: skip
    with pytest.raises(ParameterError, match=r"^--select: unknown model or source 'ordrs'; did you mean orders"):
        selection.resolve(edges, ["ordrs+"])
    with pytest.raises(
        ParameterError, match=r"^--exclude: unknown model or source 'stg_ordrs'; did you mean stg_orders"
    ):
        selection.resolve(edges, [], exclude=["stg_ordrs"])
    with pytest.raises(ParameterError, match="'orders' is ambiguous: marts.orders, other.orders"):
        selection.resolve(edges, ["orders"])
    assert selection.resolve(edges, ["raw_orders+"]).models == {
        "staging.stg_orders", "marts.orders", "marts.order_items"
    }  # fmt: skip
