"""End to end: `duckbook run` on the committed sample into a temporary warehouse and reports dir."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from duckbook import config, engine
from duckbook.engine import lake
from duckbook.engine.lake import SnapshotNotFound
from duckbook.run import runner
from tests.e2e.conftest import ROOT, SAMPLE_ROWS, duckbook

pytestmark = pytest.mark.slow

#: the stage notebooks, as the runner discovers them (never listed by hand)
STAGES = [s.name for s in runner.discover(config.load(ROOT))]


def copy_of_run(run: dict, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shared run's warehouse and of the sample source files, to break on purpose."""
    wh, src = tmp_path / "wh", tmp_path / "src"
    shutil.copytree(run["warehouse"], wh)
    src.mkdir()
    for f in (ROOT / "data" / "sample").glob("raw_*.csv"):
        (src / f.name).write_bytes(f.read_bytes())
    return wh, src


def query(warehouse: Path, sql: str) -> list[tuple]:
    with engine.connect_plain(dataclasses.replace(config.load(ROOT), warehouse=Path(warehouse)), read_only=True) as con:
        return con.execute(sql).fetchall()


def scalar(warehouse: Path, sql: str) -> object:
    return query(warehouse, sql)[0][0]


def test_raw_row_counts_reconcile(run):
    wh = run["warehouse"]
    for table, rows in SAMPLE_ROWS.items():
        assert scalar(wh, f"select count(*) from raw.{table}") == rows
    manifest = query(wh, "select rows_read, rows_landed, rows_quarantined from ops.ingest_manifest")
    assert len(manifest) == 6
    assert all(read == landed + quarantined for read, landed, quarantined in manifest)
    assert scalar(wh, "select count(*) from ops.quarantine") == 0


def test_mart_row_counts_and_keys(run):
    wh = run["warehouse"]
    assert scalar(wh, "select count(*) from marts.orders") == SAMPLE_ROWS["raw_orders"]
    assert scalar(wh, "select count(*) from marts.order_items") == SAMPLE_ROWS["raw_items"]
    assert scalar(wh, "select count(*) from marts.customers") == SAMPLE_ROWS["raw_customers"]
    assert scalar(wh, "select count(*) from marts.fct_order_items") == SAMPLE_ROWS["raw_items"]
    for table, key in [
        ("customers", "customer_id"),
        ("orders", "order_id"),
        ("order_items", "order_item_id"),
        ("products", "product_id"),
        ("locations", "location_id"),
        ("supplies", "supply_uuid"),
    ]:
        assert scalar(wh, f"select count(*) - count(distinct {key}) from marts.{table}") == 0, table


def test_mart_invariants(run):
    wh = run["warehouse"]
    assert scalar(wh, "select count(*) from marts.orders where order_total != subtotal + tax_paid") == 0
    assert (
        scalar(wh, "select count(*) from marts.orders where count_order_items > 0 and order_items_subtotal != subtotal")
        == 0
    )
    assert (
        scalar(
            wh, "select count(*) from marts.customers where lifetime_spend != lifetime_spend_pretax + lifetime_tax_paid"
        )
        == 0
    )
    assert {r[0] for r in query(wh, "select distinct customer_type from marts.customers")} == {"new", "returning"}
    assert scalar(wh, "select count(*) from marts.orders o anti join marts.customers c using (customer_id)") == 0
    assert scalar(wh, "select count(*) from marts.order_items i anti join marts.orders o using (order_id)") == 0
    # every fact key resolves to a dimension row
    for dim, key in [
        ("dim_customer", "customer_key"),
        ("dim_product", "product_key"),
        ("dim_location", "location_key"),
        ("dim_date", "date_key"),
    ]:
        assert scalar(wh, f"select count(*) from marts.fct_order_items f anti join marts.{dim} d using ({key})") == 0, (
            dim
        )


def test_marts_match_hand_written_sql(run):
    """The Ibis marts equal the benchmark's hand-written SQL floor, row for row."""
    wh = run["warehouse"]
    sql = (ROOT / "benchmarks" / "floor.sql").read_text().replace("{source}", str(ROOT / "data" / "sample"))
    cfg = dataclasses.replace(config.load(ROOT), warehouse=Path(wh))
    with engine.connect_plain(cfg, read_only=True) as con:  # the lake attached read-only as `lake`
        con.execute("USE memory")  # the floor builds its tables in memory beside it
        con.execute(sql)
        for table in ["customers", "orders", "order_items", "products", "locations", "supplies"]:
            cols = ", ".join(c[0] for c in con.execute(f"describe marts.{table}").fetchall())
            diff = con.execute(
                f"select count(*) from ((select {cols} from marts.{table} except all select {cols} from lake.marts.{table})"
                f" union all (select {cols} from lake.marts.{table} except all select {cols} from marts.{table}))"
            ).fetchone()[0]
            assert diff == 0, table


def test_checks_and_run_log_recorded(run):
    wh = run["warehouse"]
    assert scalar(wh, "select count(*) from ops.check_results where status = 'fail'") == 0
    assert scalar(wh, "select count(*) from ops.check_results") >= 50
    log = query(wh, "select stage, status, rows_written, duration_s, parameters from ops.run_log order by stage")
    assert [r[0] for r in log] == STAGES
    assert all(r[1] == "success" and r[3] > 0 for r in log)
    assert log[0][2] == sum(SAMPLE_ROWS.values())
    assert json.loads(log[0][4])["run_date"] == "2019-08-11"


def test_metrics_reconcile_with_marts(run):
    wh = run["warehouse"]
    revenue = scalar(wh, "select sum(product_price) from marts.order_items")
    for table in ["daily", "weekly", "monthly", "monthly_by_location", "monthly_by_product"]:
        assert scalar(wh, f"select sum(revenue) from metrics.{table}") == revenue
    for table in ["daily", "weekly", "monthly", "monthly_by_location"]:
        assert scalar(wh, f"select sum(orders) from metrics.{table}") == SAMPLE_ROWS["raw_orders"]
    aov = query(wh, "select average_order_value, revenue / orders from metrics.monthly")
    assert all(abs(a - b) < 1e-9 for a, b in aov)


@pytest.mark.parametrize(("name", "charts"), [("overview", 5), ("customers", 3), ("quality", 1)])
def test_report_is_self_contained_with_charts(run, name, charts):
    reports = run["reports"]
    page = (reports / f"{name}.html").read_text()
    assert len(re.findall(r"<img[^>]+src=\"data:image/svg\+xml;base64,", page)) == charts
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", page), (
        "network reference in report"
    )
    assert "def " not in page and "import " not in page, "code cells leaked into the report"
    assert "docs/index.html" in page, "footer links the docs"
    assert len(page.encode()) < 1_000_000, "a report page over 1 MB is a bug"
    index = (reports / "index.html").read_text()
    assert all(f"{page}.html" in index for page in ("overview", "customers", "quality")) and "2019-08-11" in index
    run_id = re.search(r"run (\d{8}T\d{6}Z-[0-9a-f]{6})", run["stdout"]).group(1)
    assert run_id in index
    executed = reports / "runs" / run_id
    assert sorted(p.name for p in executed.glob("*.ipynb")) == [f"{s}.ipynb" for s in STAGES]


def test_published_pages_name_the_snapshot_their_run_committed(run):
    run_id = re.search(r"run (\d{8}T\d{6}Z-[0-9a-f]{6})", run["stdout"]).group(1)
    with engine.connect_plain(config.load(warehouse=run["warehouse"]), read_only=True) as con:
        snapshot = lake.resolve(con, run_id)
    for name in ("overview", "customers", "quality"):
        page = (run["reports"] / f"{name}.html").read_text()
        assert f'data-duckbook-snapshot="{snapshot}">snapshot {snapshot}<' in page, name
        assert f"-p as_of={run_id}" in page, f"{name} says how to reproduce it"
    kept = (run["reports"] / "runs" / run_id / "overview.html").read_text()
    assert 'data-duckbook-snapshot=""' in kept, "the run directory keeps the page as rendered before the commit"


def test_rerun_is_idempotent(run, tmp_path):
    wh = run["warehouse"]
    before = {
        t: scalar(wh, f"select count(*) from {t}")
        for t in ["raw.raw_orders", "marts.orders", "ops.quarantine", "ops.ingest_manifest"]
    }
    proc = duckbook(
        "run", "--warehouse", str(wh), "--reports-dir", str(run["reports"]), "--stage", "ingest", "--stage", "staging",
        "-p", "run_date=2019-08-11", "--force",  # executed again (not skipped), with the shared run's parameters
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[:2] for line in proc.stdout.splitlines() if "success" in line.split()[1:2]] == [
        ["10_ingest", "success"], ["20_staging", "success"]
    ]  # fmt: skip
    after = {t: scalar(wh, f"select count(*) from {t}") for t in before}
    assert after == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nope=1"], "unknown parameter 'nope'"),
        (["-p", "run_date=2019-13-45"], "run_date"),
        (["-p", "bad name=1"], "not a valid parameter name"),
        (["-p", "run_date"], "NAME=VALUE"),
        (["--stage", "99_nothing"], "unknown stage"),
    ],
)
def test_bad_parameter_exits_2_and_writes_nothing(tmp_path, args, message):
    warehouse, reports = tmp_path / "w.duckdb", tmp_path / "reports"
    proc = duckbook("run", "--warehouse", str(warehouse), "--reports-dir", str(reports), *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_failing_stage_names_notebook_cell_and_keeps_warehouse(run, tmp_path):
    """A broken source stops the run at 10_ingest; the previous warehouse stays as it was."""
    wh, bad_source = copy_of_run(run, tmp_path)
    (bad_source / "raw_stores.csv").unlink()
    proc = duckbook(
        "run", "--warehouse", str(wh), "--reports-dir", str(tmp_path / "reports"), "-p", f"source_dir={bad_source}"
    )
    assert proc.returncode == 1
    assert "10_ingest" in proc.stderr and "cell" in proc.stderr and "raw_stores.csv: file is missing" in proc.stderr
    kept = list((tmp_path / "reports" / "runs").glob("*/10_ingest.ipynb"))
    assert len(kept) == 1
    assert scalar(wh, "select count(*) from marts.orders") == SAMPLE_ROWS["raw_orders"]
    assert (
        scalar(wh, "select status from ops.run_log where stage = '10_ingest' order by started_at desc limit 1")
        == "failed"
    )


def test_metrics_cli_list_and_query(run):
    wh = str(run["warehouse"])
    listed = duckbook("metrics", "list")
    assert listed.returncode == 0 and "revenue_growth_mom" in listed.stdout and "cumulative_revenue" in listed.stdout
    csv_out = duckbook(
        "metrics",
        "query",
        "revenue",
        "orders",
        "--by",
        "location_name",
        "--grain",
        "month",
        "--format",
        "csv",
        "--warehouse",
        wh,
    )
    assert csv_out.returncode == 0, csv_out.stderr
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0] == "period,location_name,revenue,orders"
    assert len(lines) == 1 + 4  # 2 months x 2 locations with orders
    expected = query(run["warehouse"], "select sum(product_price) from marts.order_items")[0][0]
    assert sum(float(line.split(",")[2]) for line in lines[1:]) == pytest.approx(float(expected))
    as_json = duckbook("metrics", "query", "orders", "--grain", "none", "--format", "json", "--warehouse", wh)
    assert json.loads(as_json.stdout) == [{"orders": SAMPLE_ROWS["raw_orders"]}]
    bad = duckbook("metrics", "query", "revenu", "--warehouse", wh)
    assert (
        bad.returncode == 2
        and "unknown metric 'revenu'; did you mean revenue" in bad.stderr
        and "revenue" in bad.stderr
    )
    bad_dim = duckbook("metrics", "query", "average_tax_rate", "--by", "product_type", "--warehouse", wh)
    assert bad_dim.returncode == 2 and "it allows: location_name" in bad_dim.stderr


def test_docs_site_covers_every_table_with_lineage(run):
    page = (Path(run["reports"]) / "docs" / "index.html").read_text()
    tables = query(
        run["warehouse"],
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where schema_name in ('raw','staging','marts','metrics','ops') and table_name not like '\\_%' escape '\\'",
    )
    assert len(tables) >= 30
    for (name,) in tables:
        assert f'<section class="table" id="{name}">' in page, name
    # table lineage: every staging/mart/metric table names what it is built from
    for (name,) in tables:
        if name.split(".")[0] in ("staging", "marts", "metrics"):
            section = page.split(f'id="{name}">', 1)[1].split("</section>", 1)[0]
            assert "built from: n/a" not in section, name
    # column lineage traced by sqlglot: orders.order_cost comes from order_items.supply_cost
    orders = page.split('id="marts.orders">', 1)[1].split("</section>", 1)[0]
    assert "marts.order_items.supply_cost" in orders
    assert "Customer full name" in page and "PII, hidden" in page


def test_check_cli_runs_declared_checks_on_the_warehouse(run):
    wh = str(run["warehouse"])
    proc = duckbook("check", "--warehouse", wh, "--run-date", "2019-08-11")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fail" not in proc.stdout.splitlines()[-1] and " pass" in proc.stdout.splitlines()[-1]
    stale = duckbook("check", "--warehouse", wh, "--select", "orders", "--run-date", "2019-09-30")
    assert stale.returncode == 0 and "freshness__orders__ordered_at" in stale.stdout and "1 warn" in stale.stdout
    bad = duckbook("check", "--warehouse", wh, "--select", "nope")
    assert bad.returncode == 2 and "--select: unknown table with checks 'nope'" in bad.stderr


def test_an_error_check_blocks_publication_in_a_real_run(run, tmp_path):
    """Orders whose total is not subtotal + tax: 30_marts audits, refuses to publish, the run
    fails, and the previously published warehouse is untouched."""
    wh, src = copy_of_run(run, tmp_path)
    orders = (src / "raw_orders.csv").read_text().splitlines()
    head, first = orders[0], orders[1].split(",")
    first[-1] = str(int(first[-1]) + 1)  # order_total off by one cent
    (src / "raw_orders.csv").write_text("\n".join([head, ",".join(first), *orders[2:]]) + "\n")
    proc = duckbook(
        "run", "--warehouse", str(wh), "--reports-dir", str(tmp_path / "reports"), "-p", f"source_dir={src}"
    )
    assert proc.returncode == 1
    assert "30_marts" in proc.stderr and "order_total_is_subtotal_plus_tax__orders: 1 failing row" in proc.stderr
    assert scalar(wh, "select count(*) from marts.orders where order_total != subtotal + tax_paid") == 0


def test_time_travel_to_an_earlier_run_and_a_reproduced_report(run, tmp_path):
    """A second run over a smaller delivery: readers see it, `as_of` the first run returns the
    first run's tables exactly, and a report re-executed as_of the first run shows its data."""
    wh, src = copy_of_run(run, tmp_path)
    first = re.search(r"run (\d{8}T\d{6}Z-[0-9a-f]{6})", run["stdout"]).group(1)
    orders = (src / "raw_orders.csv").read_text().splitlines()
    (src / "raw_orders.csv").write_text("\n".join(orders[:1001]) + "\n")  # the first 1000 orders
    kept = {line.split(",")[0] for line in orders[1:1001]}
    items = (src / "raw_items.csv").read_text().splitlines()
    header = items[0].split(",")
    order_col = header.index("order_id")
    (src / "raw_items.csv").write_text(
        "\n".join([items[0], *(i for i in items[1:] if i.split(",")[order_col] in kept)]) + "\n"
    )
    proc = duckbook(
        "run", "--warehouse", str(wh), "--reports-dir", str(tmp_path / "reports"), "-p", f"source_dir={src}",
        "-p", "run_date=2019-08-11", "--stage", "ingest", "--stage", "staging", "--stage", "marts",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert scalar(wh, "select count(*) from marts.orders") == 1000
    cfg = dataclasses.replace(config.load(ROOT), warehouse=wh)
    old = engine.connect(wh, read_only=True, as_of=first, cfg=cfg)
    assert old.table("orders", database="marts").count().execute() == SAMPLE_ROWS["raw_orders"]
    listed = duckbook("runs", "--warehouse", str(wh))
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows[first] == "success" and list(rows.values()).count("success") >= 2  # newest first
    out = tmp_path / "overview.ipynb"
    report = subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "50_report_overview.ipynb"), str(out),
         "-p", "warehouse", str(wh), "-p", "as_of", first, "-p", "run_date", "2019-08-11",
         "--cwd", str(ROOT / "notebooks"), "--no-progress-bar"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    shown = out.read_text()
    assert str(scalar(wh, "select max(ordered_at) from marts.orders"))[:10] == "2019-07-24"  # the second run's data
    assert "data through <b>2019-08-11</b>" in shown  # the report shows the first run's
    with pytest.raises(SnapshotNotFound, match="no-such-run"):
        engine.connect(wh, read_only=True, as_of="no-such-run", cfg=cfg)
    missing = duckbook("metrics", "query", "orders", "--warehouse", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist yet" in missing.stderr
