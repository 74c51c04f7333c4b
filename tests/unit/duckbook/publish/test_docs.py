"""The docs site: descriptions from the project's declarations, the page from a small warehouse."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import ibis
import pytest

from duckbook import config, engine, ops, project
from duckbook.project import ColumnDoc, TableDoc, model
from duckbook.publish import docs
from tests.unit.duckbook.publish.conftest import fill_warehouse

DECLARED = {
    "raw.customers": TableDoc(
        "raw.customers",
        "sources.yml",
        "Customers & <friends>",
        {"id": ColumnDoc("Customer id."), "name": ColumnDoc("Full name.", pii=True)},
    ),
    "raw.empty": TableDoc("raw.empty", "sources.yml"),
    "staging.stg_customers": TableDoc(
        "staging.stg_customers",
        "models.yml",
        columns={
            "customer_id": ColumnDoc("Customer id (uuid)."),
            "customer_name": ColumnDoc(pii=True),
            "note": ColumnDoc(),
        },
    ),
}
METRICS = {"revenue": "Item revenue before tax."}
#: the repository's own project (the jaffle shop): its declared models and docs
JAFFLE = project.load(config.load(Path(__file__).resolve().parents[4]))


@pytest.fixture
def descriptions() -> docs.Descriptions:
    return docs.Descriptions.from_table_docs(DECLARED, METRICS)


def test_from_table_docs_keeps_descriptions_and_pii(descriptions):
    assert descriptions == docs.Descriptions(
        tables={
            **{f"ops.{name}": text for name, text in ops.DESCRIPTIONS.items()},
            "raw.customers": "Customers & <friends>",
            "raw.empty": "",
            "staging.stg_customers": "",
        },
        columns={
            "raw.customers": {"id": "Customer id.", "name": "Full name."},
            "raw.empty": {},
            "staging.stg_customers": {"customer_id": "Customer id (uuid).", "customer_name": "", "note": ""},
        },
        pii={"raw.customers": {"name"}, "staging.stg_customers": {"customer_name"}},
        metrics=METRICS,
    )


def test_column_descriptions_fall_back_to_toolkit_metric_and_staging_columns(descriptions):
    assert descriptions.column("raw.customers", "name") == "Full name."
    assert descriptions.column("raw.customers", "_batch_id") == docs.TOOLKIT_COLUMNS["_batch_id"]
    assert descriptions.column("metrics.monthly", "revenue") == "Item revenue before tax."
    assert descriptions.column("marts.customers", "revenue") == ""  # metric names count in metrics only
    assert descriptions.column("marts.customers", "customer_id") == "Customer id (uuid)."
    assert descriptions.column("marts.customers", "nope") == ""


def test_page_describes_every_table_and_hides_pii(warehouse, descriptions):
    page = docs.render(warehouse, descriptions)
    for key in ["raw.customers", "staging.stg_customers", "metrics.monthly", "ops.lineage", "ops.check_results"]:
        assert f'<section class="table" id="{key}">' in page, key
    assert page.index('id="raw.customers"') < page.index('id="staging.stg_customers"') < page.index('id="ops.lineage"')
    assert "Ann Secret" not in page and "Bob Hidden" not in page
    assert page.count('<span class="pii">PII, hidden</span>') == 4  # min and max of two PII columns
    assert "<p>Customers &amp; &lt;friends&gt;</p>" in page
    assert "<p>5 tables." in page


def test_page_shows_lineage_checks_and_column_sources(warehouse, descriptions):
    page = docs.render(warehouse, descriptions)
    staging = page.split('id="staging.stg_customers">', 1)[1].split("</section>", 1)[0]
    assert 'built from: <a href="#raw.customers"><code>raw.customers</code></a>' in staging
    assert "<details><summary>Checks (2)</summary>" in staging
    assert (
        '<code>not_null__&lt;note&gt;</code> (warn): <span class="status-failed">fail</span> (3 failing rows)'
        in staging
    )
    assert '<code>unique__customer_id</code> (error): <span class="status-success">pass</span></li>' in staging
    assert '<a href="#raw.customers"><code>raw.customers.name</code></a>' in staging  # staged name traced to final
    assert "<td>&lt;b&gt;</td><td>" + "x" * 39 + "…</td>" in staging  # min/max escaped and shortened
    raw = page.split('id="raw.customers">', 1)[1].split("</section>", 1)[0]
    assert "built from: <code>file:data/raw_customers.csv</code>" in raw
    assert "<li>none</li>" in raw
    metrics = page.split('id="metrics.monthly">', 1)[1].split("</section>", 1)[0]
    assert "built from: n/a" in metrics and "<i>no description</i>" in metrics
    assert "<td>Item revenue before tax.</td>" in metrics
    svg = page.split('<div class="lineage">', 1)[1].split("</div>", 1)[0]
    assert svg.startswith("<svg ") and svg.count("<path ") == 2 and "raw_customers.csv</text>" in svg


def test_page_of_an_empty_warehouse():
    con = ibis.duckdb.connect()
    try:
        page = docs.render(con, docs.Descriptions())
    finally:
        con.disconnect()
    assert "<p>0 tables." in page and "<h2>Tables</h2><ul></ul>" in page


def test_build_writes_the_page_and_caches_column_lineage(tmp_path, descriptions):
    cfg = config.load(tmp_path, warehouse=str(tmp_path / "wh"), reports_dir=str(tmp_path / "reports"))
    con = engine.connect(cfg=cfg)  # the warehouse's writer: one published snapshot
    engine.begin(con)
    fill_warehouse(con)
    engine.publish(con, message="fill", extra={})
    engine.close_writer(cfg)
    out = docs.build(cfg, descriptions)
    assert out == tmp_path / "reports" / "docs" / "index.html"
    assert '<section class="table" id="staging.stg_customers">' in out.read_text(encoding="utf-8")
    cache = json.loads((out.parent / ".column-lineage-cache.json").read_text(encoding="utf-8"))
    assert list(cache.values()) == [
        {"customer_id": ["raw.customers.id"], "customer_name": ["raw.customers.name"], "note": []}
    ]
    other = docs.build(cfg, docs.Descriptions(), out_dir=tmp_path / "site")
    assert other == tmp_path / "site" / "index.html" and "<i>no description</i>" in other.read_text(encoding="utf-8")


def section(page: str, key: str) -> str:
    return page.split(f'id="{key}">', 1)[1].split("</section>", 1)[0]


def test_materialization_line_of_each_kind():
    def f(t, /):
        return t

    tracked = model(f, schema="s", materialization="snapshot", unique_key="id", tracked=["price", "name"])
    assert docs.materialization_line(tracked) == "snapshot (SCD2, check strategy on price, name; key id)"
    one_day = model(f, schema="s", materialization="incremental", time_column="ordered_at", lookback_days=1)
    assert docs.materialization_line(one_day) == "incremental by ordered_at (1 day lookback)"
    (daily,) = [m for m in JAFFLE.models.values() if m.qualified == "metrics.daily"]
    assert docs.materialization_line(daily) == "incremental by period (day grain)"


def test_page_shows_the_history_columns_of_a_dimension_and_how_tables_are_materialized():
    """The jaffle project's own declarations: dim_product is SCD2 (history columns documented),
    stg_products a snapshot model, fct_order_items incremental by order time."""
    descriptions = docs.Descriptions.from_table_docs(JAFFLE.docs, JAFFLE.metric_descriptions(), JAFFLE.models.values())
    versions = {
        "valid_from": [dt.datetime(1900, 1, 1), dt.datetime(2019, 7, 23)],
        "valid_to": [dt.datetime(2019, 7, 23), dt.datetime(9999, 12, 31)],
        "is_current": [False, True],
    }
    con = ibis.duckdb.connect()
    try:
        for schema in ("staging", "marts"):
            engine.ensure_schema(con, schema)
        con.create_table("stg_products", ibis.memtable({"product_id": ["JAF-002"] * 2, **versions}), database="staging")
        dim = {"product_key": ["k1", "k2"], "product_id": ["JAF-002"] * 2, "product_price": [11.0, 12.1], **versions}
        con.create_table("dim_product", ibis.memtable(dim), database="marts")
        con.create_table("fct_order_items", ibis.memtable({"order_item_id": ["i1"]}), database="marts")
        page = docs.render(con, descriptions)
    finally:
        con.disconnect()
    dim_product = section(page, "marts.dim_product")
    assert "<p>Product dimension, SCD2: one row per version of each product" in dim_product
    assert (
        "<td><code>valid_from</code></td><td>TIMESTAMP</td><td>Start of the version: 1900-01-01 for a member&#39;s"
        " first version, else the start of the day of the delivery that changed it.</td>"
    ) in dim_product
    assert (
        "<td><code>valid_to</code></td><td>TIMESTAMP</td><td>End of the version (exclusive): the next version&#39;s"
        " valid_from, the day the member was deleted, or 9999-12-31 while current.</td>"
    ) in dim_product
    assert "<td><code>is_current</code></td><td>BOOLEAN</td><td>Whether this is the member&#39;s current version" in (
        dim_product
    )
    assert "materialized:" not in dim_product  # a table model: rebuilt in full, nothing to say
    assert (
        '<p class="materialization">materialized: snapshot (SCD2, check strategy on all columns; key product_id)</p>'
        in section(page, "staging.stg_products")
    )
    assert (
        '<p class="materialization">materialized: incremental by ordered_at (3 days lookback), key order_item_id</p>'
        in section(page, "marts.fct_order_items")
    )
