"""The Jaffle Shop's declared checks per schema, as the project loader builds them from its YAML."""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import ibis
import pytest

from duckbook import config, project
from duckbook.quality.row_checks import ingest_reconciliation
from tests.unit.helpers import check_outcome, check_result

result, outcome = check_result, check_outcome


RUN_DATE = dt.date(2024, 1, 31)
ROOT = Path(__file__).resolve().parents[3]
PUBLISHED = ["daily", "weekly", "monthly", "monthly_by_location", "monthly_by_product"]


@pytest.fixture(scope="module")
def schemas():
    """Every declared check by schema (raw also gets ingestion's reconciliation, as the ingest
    stage adds it)."""
    declared = project.load(config.load(ROOT))
    now = dt.datetime.combine(RUN_DATE, dt.time(23, 59, 59))
    out = {
        s: [c for q in declared.docs if q.split(".")[0] == s for c in declared.checks(q, now=now)]
        for s in ("raw", "staging", "marts", "metrics", "ops")
    }
    out["raw"] = [ingest_reconciliation(), *out["raw"]]
    return out


def test_for_schema_raw_reconciliation_and_primary_keys(schemas):
    raw = schemas["raw"]
    assert raw[0].name == "rows_reconcile__ingest_manifest"
    names = {c.name for c in raw}
    for table, key in [
        ("raw_customers", ["id"]),
        ("raw_orders", ["id"]),
        ("raw_items", ["id"]),
        ("raw_products", ["sku"]),
        ("raw_stores", ["id"]),
        ("raw_supplies", ["id", "sku"]),
    ]:
        assert {f"not_null__{table}__{k}" for k in key} <= names, table
        assert f"unique__{table}__{'__'.join(key)}" in names, table
    assert {c.table for c in raw} == {
        "ingest_manifest",
        "raw_customers",
        "raw_orders",
        "raw_items",
        "raw_products",
        "raw_stores",
        "raw_supplies",
    }
    assert {c.name for c in raw if c.name.startswith("volume__")} == {"volume__raw_orders", "volume__raw_items"}


def test_for_schema_raw_reconciliation_runs(schemas):
    manifest = ibis.memtable({"rows_read": [10, 10], "rows_landed": [8, 8], "rows_quarantined": [2, 1]})
    assert outcome(schemas["raw"][0], {"ingest_manifest": manifest}) == (1, None, "error if >0", "fail")


def test_for_schema_marts_relationships_to_every_dimension(schemas):
    rels = {
        c.name: c.description
        for c in schemas["marts"]
        if c.table == "fct_order_items" and c.name.startswith("relationship__")
    }
    dimensions = [
        ("date_key", "dim_date"),
        ("customer_key", "dim_customer"),
        ("product_key", "dim_product"),
        ("location_key", "dim_location"),
    ]
    assert rels == {
        f"relationship__fct_order_items__{key}__{dim}": f"every fct_order_items.{key} exists in {dim}.{key}"
        for key, dim in dimensions
    }


def test_for_schema_marts_fact_orphan_is_caught(schemas):
    check = next(c for c in schemas["marts"] if c.name == "relationship__fct_order_items__product_key__dim_product")
    t = {
        "fct_order_items": ibis.memtable({"product_key": ["p1", "p9", "-1"]}),
        "dim_product": ibis.memtable({"product_key": ["p1", "-1"]}),
    }
    row = result(check, t)
    assert (row["failing_rows"], row["status"], row["failing_sample"]) == (1, "fail", "p9")


@pytest.mark.parametrize("schema", ["raw", "staging", "marts", "metrics"])
def test_for_schema_check_names_are_unique(schemas, schema):
    names = [c.name for c in schemas[schema]]
    assert names, schema
    assert [n for n, k in collections.Counter(names).items() if k > 1] == []


def test_for_schema_only_its_schema(schemas):
    assert schemas["ops"] == []
    assert {c.table for c in schemas["metrics"]} == {
        "daily",
        "weekly",
        "monthly",
        "monthly_by_location",
        "monthly_by_product",
    }
    assert "reconcile" not in " ".join(c.name for c in schemas["staging"] + schemas["marts"])


def test_metric_tables_reconcile_with_the_marts(schemas):
    """totals_match replaces the reconciliation lambdas 40_metrics once spelled by hand."""
    matches = sorted((c.table, c.name, c.references) for c in schemas["metrics"] if c.name.startswith("totals_match"))
    assert matches == sorted(
        [(t, f"totals_match__{t}__revenue__order_items", ("marts.order_items",)) for t in PUBLISHED]
        + [(t, f"totals_match__{t}__orders__orders", ("marts.orders",)) for t in PUBLISHED if t != "monthly_by_product"]
    )


def test_for_schema_time_checks_use_end_of_run_date(schemas):
    window = next(c for c in schemas["staging"] if c.name == "date_window__stg_orders__ordered_at")
    t = {
        "stg_orders": ibis.memtable(
            {"ordered_at": [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]}, schema={"ordered_at": "date"}
        )
    }
    assert outcome(window, t) == (1, None, "error if >0", "fail")
    fresh = next(c for c in schemas["marts"] if c.name == "freshness__orders__ordered_at")
    assert fresh.description == "the newest order is at most 2 days older than the run date"
    t = {"orders": ibis.memtable({"ordered_at": [dt.date(2024, 1, 29)]}, schema={"ordered_at": "date"})}
    assert outcome(fresh, t) == (1, pytest.approx(72 - 1 / 3600), "warn if >48 hours", "warn")
