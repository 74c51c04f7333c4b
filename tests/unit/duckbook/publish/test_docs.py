"""The docs site: descriptions from the project's declarations, the page from a small warehouse."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import ibis
import pytest

from duckbook import config, engine, ops, project
from duckbook.build import lineage
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
ROOT = Path(__file__).resolve().parents[4]
JAFFLE = project.load(config.load(ROOT))


def section(page: str, key: str) -> str:
    return page.split(f'<section class="table" id="{key}">', 1)[1].split("</section>", 1)[0]


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
        origins={"raw.customers": "sources.yml", "raw.empty": "sources.yml", "staging.stg_customers": "models.yml"},
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
    staging = section(page, "staging.stg_customers")
    assert 'built from: <a href="#raw.customers"><code>raw.customers</code></a>' in staging
    assert "<details><summary>Checks (2)</summary>" in staging
    assert (
        '<code>not_null__&lt;note&gt;</code> (warn): <span class="status-failed">fail</span> (3 failing rows)'
        in staging
    )
    assert '<code>unique__customer_id</code> (error): <span class="status-success">pass</span></li>' in staging
    assert '<a href="#raw.customers"><code>raw.customers.name</code></a>' in staging  # staged name traced to final
    assert "<td>&lt;b&gt;</td><td>" + "x" * 39 + "…</td>" in staging  # min/max escaped and shortened
    raw = section(page, "raw.customers")
    assert "built from: <code>file:data/raw_customers.csv</code>" in raw
    assert "<li>none</li>" in raw
    metrics = section(page, "metrics.monthly")
    assert "built from: n/a" in metrics and "<i>no description</i>" in metrics
    assert "<td>Item revenue before tax.</td>" in metrics
    svg = page.split('<div class="lineage">', 1)[1].split("</div>", 1)[0]
    assert svg.startswith("<svg ") and svg.count('<path class="edge"') == 2 and "raw_customers.csv</text>" in svg


def test_page_of_an_empty_warehouse():
    con = ibis.duckdb.connect()
    try:
        page = docs.render(con, docs.Descriptions())
    finally:
        con.disconnect()
    assert "<p>0 tables." in page and '<section class="table"' not in page and "Built from the warehouse" in page


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
    assert '<p class="materialization">materialized: table</p>' in dim_product  # rebuilt in full
    assert (
        '<p class="materialization">materialized: snapshot (SCD2, check strategy on all columns; key product_id)</p>'
        in section(page, "staging.stg_products")
    )
    assert (
        '<p class="materialization">materialized: incremental by ordered_at (3 days lookback), key order_item_id</p>'
        in section(page, "marts.fct_order_items")
    )


def search_entries(page: str) -> list[list[str]]:
    return json.loads(page.split('<script type="application/json" id="docs-index">', 1)[1].split("</script>", 1)[0])


def quarantine(con: engine.DuckDBBackend, source: str, raw_rows: list[str]) -> None:
    rows = [
        {**dict.fromkeys(ops.columns("quarantine")), "source_table": source, "line": i, "raw_row": r, "run_id": "r1"}
        for i, r in enumerate(raw_rows, 2)
    ]
    ops.record(con, "quarantine", ibis.memtable(rows, schema=ops.schema("quarantine")), replace_where={"run_id": "r1"})


def test_quarantined_lines_and_failing_rows_never_show_their_values(warehouse, descriptions):
    """A quarantined raw_customers line holds a name (PII): raw_row's min/max is hidden, as are
    failing rows and samples; nor is any value in the search index."""
    quarantine(warehouse, "raw.customers", ["zz-id,Zed Private,extra", "aa-id,Al Private"])
    page = docs.render(warehouse, descriptions)
    assert "Private" not in page and "zz-id" not in page
    raw_row = section(page, "ops.quarantine").split("<td><code>raw_row</code></td>", 1)[1].split("</tr>", 1)[0]
    assert raw_row.count('<span class="pii">raw values, hidden</span>') == 2
    results = section(page, "ops.check_results").split("<td><code>failing_sample</code></td>", 1)[1]
    assert "raw values, hidden" in results.split("</tr>", 1)[0]
    index = search_entries(page)
    assert not any("Secret" in " ".join(e) or "Private" in " ".join(e) for e in index)


def test_a_column_traced_to_a_pii_column_is_pii_too(warehouse):
    """stg_customers.customer_name is not declared PII, but sqlglot traces it to raw.customers.name."""
    declared = {"raw.customers": DECLARED["raw.customers"]}
    page = docs.render(warehouse, docs.Descriptions.from_table_docs(declared, {}))
    staging = section(page, "staging.stg_customers")
    name = staging.split("<td><code>customer_name</code></td>", 1)[1].split("</tr>", 1)[0]
    assert name.count("PII, hidden") == 2 and "Bob Hidden" not in page


def test_search_index_lists_tables_and_columns_with_descriptions_escaped(warehouse, descriptions):
    page = docs.render(warehouse, descriptions)
    raw_json = page.split('id="docs-index">', 1)[1].split("</script>", 1)[0]
    assert "<" not in raw_json and "&" not in raw_json  # nothing that could end the script element
    index = search_entries(page)
    assert ["#raw.customers", "table", "raw.customers", "Customers & <friends>"] in index
    assert ["#raw.customers", "column", "raw.customers.name", "Full name."] in index
    assert ["#staging.stg_customers", "column", "staging.stg_customers.customer_id", "Customer id (uuid)."] in index
    assert len([e for e in index if e[1] == "table"]) == 5
    assert '<input id="search" type="search"' in page and "innerHTML" not in page


def test_model_panel_shows_sql_tests_downstream_and_exposures(warehouse, descriptions):
    """What a report stage read (ops.stage_reads) is the table's exposure: in its panel and graph."""
    reads = [
        {"stage": "50_report_customers", "table_name": "staging.stg_customers", "run_id": "r1"},
        {"stage": "30_marts", "table_name": "staging.stg_customers", "run_id": "r1"},  # not a report
    ]
    ops.record(warehouse, "stage_reads", ibis.memtable(reads), replace_where={"run_id": "r1"})
    page = docs.render(warehouse, descriptions, run_id="r7")
    assert '<p class="run-meta">Built from run r7 · ' in page
    staging = section(page, "staging.stg_customers")
    assert '· reports (exposures): <span class="exposures"><a href="../customers.html">customers</a></span>' in staging
    assert '<a href="#focus=staging.stg_customers">focus lineage</a>' in staging
    assert '<pre class="sql"><code>SELECT t.id AS customer_id, t.name AS customer_name, &#39;x&#39; AS note' in staging
    raw = section(page, "raw.customers")
    assert 'used by: <a href="#staging.stg_customers"><code>staging.stg_customers</code></a>' in raw
    assert "declared in <code>sources.yml</code>" in raw and "Compiled SQL" not in raw  # "-- read" is no query
    svg = page.split('<div class="lineage">', 1)[1].split("</div>", 1)[0]
    assert 'data-from="staging.stg_customers" data-to="report:customers"' in svg
    assert '<a class="node band-report" data-id="report:customers" href="../customers.html">' in svg
    assert "report:marts" not in svg and "30_marts" not in svg


def test_column_tests_and_table_status(tmp_path):
    con = ibis.duckdb.connect()
    try:
        fill_warehouse(con)
        r = ops.table(con, "check_results")
        fixed = r.mutate(column_name=ibis.ifelse(r.check_name.startswith("unique"), "customer_id", r.column_name))
        ops.record(con, "check_results", ibis.memtable(fixed.to_pyarrow()), replace_where={"schema_name": "staging"})
        page = docs.render(con, docs.Descriptions())
    finally:
        con.disconnect()
    staging = section(page, "staging.stg_customers")
    cid = staging.split("<td><code>customer_id</code></td>", 1)[1].split("</tr>", 1)[0]
    assert '<span class="status-success" title="unique__customer_id">unique</span>' in cid
    assert 'checks: <span class="status-stale">warn</span>' in staging  # a warn check failed


def test_page_shows_no_machine_path(tmp_path):
    """Source files, raw-zone paths and project files appear relative to their roots."""
    src, wh = tmp_path / "src", tmp_path / "wh"
    con = ibis.duckdb.connect()
    try:
        fill_warehouse(con)
        con.create_table(
            "orders", ibis.memtable({"_source_file": [f"{src}/2019-08-11/raw_orders.csv"]}), database="raw"
        )
        upstream = [f"file:{src}/2019-08-11/raw_orders.csv", f"lake:{wh}/raw/raw_orders"]
        lineage.record(con, "raw", {"orders": {"upstream": upstream, "sql": "-- read"}}, run_id="r1")
        manifest = {
            **dict.fromkeys(ops.columns("ingest_manifest")),
            "table": "raw.orders",
            "source_file": f"{src}/2019-08-11/raw_orders.csv",
            "file_path": "2019-08-11/raw_orders.csv",
            "parquet_path": f"{wh}/raw/raw_orders/batch_id=1/part.parquet",
            "run_id": "r1",
        }
        ops.record(
            con,
            "ingest_manifest",
            ibis.memtable([manifest], schema=ops.schema("ingest_manifest")),
            replace_where={"run_id": "r1"},
        )
        doc = TableDoc("raw.orders", str(ROOT / "lib" / "jaffle_shop" / "sources.yml"), "Orders.")
        page = docs.render(con, docs.Descriptions.from_table_docs({"raw.orders": doc}, {}), roots=[wh, ROOT])
    finally:
        con.disconnect()
    for machine in ("/work/", "/tmp/", "/home/", str(tmp_path), str(ROOT)):
        assert machine not in page, machine
    orders = section(page, "raw.orders")
    assert "built from: <code>file:2019-08-11/raw_orders.csv</code>" in orders and "lake:" not in orders
    assert "<td>2019-08-11/raw_orders.csv</td>" in orders and "<code>lib/jaffle_shop/sources.yml</code>" in orders
    assert "raw/raw_orders/batch_id=1/part.parquet" in section(page, "ops.ingest_manifest")


def test_built_from_names_the_snapshot_and_the_run_that_published_it(tmp_path):
    cfg = config.load(tmp_path, warehouse=str(tmp_path / "wh"), reports_dir=str(tmp_path / "reports"))
    con = engine.connect(cfg=cfg)
    engine.begin(con)
    fill_warehouse(con)
    engine.publish(con, message="fill", extra={"run_id": "r5"})
    engine.close_writer(cfg)
    reader = engine.connect(cfg.warehouse, read_only=True, cfg=cfg)
    try:
        assert re.fullmatch(r"run r5, snapshot \d+", docs.built_from(reader))
        assert docs.built_from(reader, "r9").startswith("run r9, snapshot ")
    finally:
        reader.disconnect()


def test_a_column_behind_an_unexpanded_star_is_pii_when_its_namesake_is():
    con = ibis.duckdb.connect()
    try:
        fill_warehouse(con)
        con.create_table("people", ibis.memtable({"name": ["Cy Starred"]}), database="staging")
        sql = "SELECT t.name FROM (SELECT * FROM raw.customers) AS t"  # a star sqlglot cannot expand
        lineage.record(con, "staging", {"people": {"upstream": ["raw.customers"], "sql": sql}}, run_id="r1")
        page = docs.render(con, docs.Descriptions.from_table_docs({"raw.customers": DECLARED["raw.customers"]}, {}))
    finally:
        con.disconnect()
    people = section(page, "staging.people")
    assert "raw.customers.*" in people and people.count("PII, hidden") == 2 and "Cy Starred" not in page
