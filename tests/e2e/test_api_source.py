"""An HTTP API source end to end: the toy bakery project gains ``api_orders`` served by the loopback
Jaffle orders API; the ingest stage polls it, lands its pages and ingests them into raw with
quarantine and manifest, a second run takes only what is new, and the token is written nowhere."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from duckbook import config, engine
from duckbook.build.context import start_stage
from duckbook.build.ingest import ingest
from tests.jaffle_api import sample_orders, serve

pytestmark = pytest.mark.slow

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_project"
TOKEN = "e2e-t0ken-never-written"
API_SOURCE = {
    "api": {
        "base_url": "${TOY_API_URL:-http://127.0.0.1:9}",
        "endpoint": "/orders",
        "records": "data.orders",
        "pagination": {"type": "page", "param": "page", "size_param": "per_page", "size": 10},
        "watermark": {"param": "updated_since", "field": "updated_at"},
        "auth": {"bearer_env": "TOY_API_TOKEN"},
    },
    "primary_key": ["id"],
    "duplicates": {"keep": "latest", "by": "updated_at"},
    "columns": {
        "id": {"type": "string"},
        "customer": {"type": "string", "nullable": False},
        "ordered_at": {"type": "timestamp"},
        "order_total": {"type": "int64", "nullable": False},
        "updated_at": {"type": "timestamp"},
    },
}


def toy_with_api(tmp_path: Path) -> Path:
    """A copy of the toy project whose YAML also declares the API source :data:`API_SOURCE`."""
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    project = root / "toy_bakery" / "project.yml"
    doc = yaml.safe_load(project.read_text())
    doc["sources"]["api_orders"] = API_SOURCE
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


@pytest.fixture
def toy(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DUCKBOOK_")]:
        monkeypatch.delenv(name)
    root = toy_with_api(tmp_path)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(root))
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(tmp_path / "toy-warehouse"))
    monkeypatch.setenv("TOY_API_TOKEN", TOKEN)
    yield root
    for mod in [m for m in sys.modules if m.split(".")[0] == "toy_bakery"]:
        del sys.modules[mod]


def run_ingest(run_id: str, capsys):
    ctx = start_stage("10_ingest", run_id=run_id, run_started_at="2024-03-04T06:00:00", run_date="2024-03-03")
    ingested = ingest(ctx, ctx.project.sources, "data")
    print(ingested.manifest, ingested.warnings, ingested.build.audit())
    ingested.build.publish()
    ctx.close()
    return ingested


def test_an_api_source_lands_in_raw_with_quarantine_and_manifest(toy, tmp_path, monkeypatch, capsys):
    orders = sorted(sample_orders(25), key=lambda o: (o["updated_at"], o["id"]))  # the API's order
    orders[3] = {**orders[3], "order_total": "lots"}  # breaks the contract: quarantined, on page 1
    orders[17] = {k: v for k, v in orders[17].items() if k != "customer"}  # a required field left out (page 2)
    with serve(orders, TOKEN) as server:
        monkeypatch.setenv("TOY_API_URL", server.url)
        first = run_ingest("api-run-1", capsys)
        server.orders.append({**sample_orders(26)[25], "updated_at": "2030-01-01T00:00:00"})
        second = run_ingest("api-run-2", capsys)
        server.malformed = 3  # every fetch of the next poll's first page: landed for quarantine, the poll stops
        third = run_ingest("api-run-3", capsys)
    page = f"{server.url}/orders?updated_since=2030-01-01T00%3A00%3A00&per_page=10&page=1"
    assert third.warnings == [f"api_orders: polling stopped at a malformed page (invalid_json: {page})"]

    api_batches = first.manifest.filter(first.manifest["table"] == "api_orders")
    assert api_batches.height == 3  # one batch per page
    assert api_batches["rows_read"].sum() == 25 and api_batches["rows_quarantined"].sum() == 2
    again = second.manifest.filter(second.manifest["table"] == "api_orders")
    assert again.height == 1 and again["rows_new"].to_list() == [1]  # the boundary record again: not new
    with engine.connect_plain(config.load(), read_only=True) as con:
        assert con.execute("select count(*) from raw.api_orders").fetchone() == (24,)
        quarantined = con.execute(
            "select reason, source_file, raw_row from ops.quarantine where source_table = 'api_orders' order by reason"
        ).fetchall()
        totals = con.execute(
            "select sum(rows_read), sum(rows_landed + rows_quarantined) from ops.ingest_manifest "
            "where \"table\" = 'api_orders'"
        ).fetchone()
    assert [(r.split(" ")[0], Path(f).name[:12]) for r, f, _ in quarantined] == [
        ("invalid_int64:order_total", "000001-page1"),
        ("invalid_json:", "000005-page1"),
        ("missing_value:customer", "000002-page2"),
    ]
    assert "-invalid-" in quarantined[1][1] and quarantined[1][2].startswith('{"data": {"orders": [{"id"')
    assert quarantined[0][2].startswith('{"id":') and '"order_total":"lots"' in quarantined[0][2]
    assert totals[0] == totals[1] == 28

    written = [p for p in (tmp_path).rglob("*") if p.is_file()]
    assert written and not [p for p in written if TOKEN.encode() in p.read_bytes()]
    assert TOKEN not in capsys.readouterr().out


def test_duckbook_pull_lands_pages_that_the_next_ingest_takes(toy, monkeypatch, capsys):
    from typer.testing import CliRunner

    from duckbook import cli

    with serve(sample_orders(12), TOKEN) as server:
        monkeypatch.setenv("TOY_API_URL", server.url)
        typo = CliRunner().invoke(cli.app, ["pull", "api_ordrs"])
        assert typo.exit_code == 2
        assert "SOURCE: unknown API source 'api_ordrs'; did you mean api_orders?" in typo.output
        pulled = CliRunner().invoke(cli.app, ["pull"])
        assert pulled.exit_code == 0, pulled.output
        assert pulled.output.startswith("api_orders: 12 record(s) in 2 page(s) landed in ")
        ingested = run_ingest("api-run-pulled", capsys)
    api_batches = ingested.manifest.filter(ingested.manifest["table"] == "api_orders")
    # the run's own poll re-fetched only the boundary record: a page of 1, not new
    assert api_batches["rows_read"].to_list() == [10, 2, 1] and api_batches["rows_new"].to_list() == [10, 2, 0]
    assert TOKEN not in pulled.output + capsys.readouterr().out


def test_duckbook_run_polls_the_api_every_run_and_writes_the_token_nowhere(tmp_path):
    import subprocess

    root = toy_with_api(tmp_path)
    (root / "notebooks").mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "notebooks" / "10_ingest.ipynb", root / "notebooks")
    lib = Path(__file__).resolve().parents[2] / "lib"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCKBOOK_")}
    orders = sorted(sample_orders(25), key=lambda o: (o["updated_at"], o["id"]))
    orders[5] = {**orders[5], "ordered_at": "not a time"}
    args = ["run", "--warehouse", str(tmp_path / "wh"), "--reports-dir", str(tmp_path / "reports")]
    args += ["-p", "run_date=2024-03-03", "-p", "source_dir=data"]
    outputs = []
    with serve(orders, TOKEN) as server:
        env.update(
            DUCKBOOK_PROJECT_DIR=str(root), PYTHONPATH=f"{root}:{lib}", TOY_API_URL=server.url, TOY_API_TOKEN=TOKEN
        )
        for _ in range(2):
            proc = subprocess.run(
                [str(Path(sys.executable).with_name("duckbook")), *args],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            outputs.append(proc.stdout + proc.stderr)
            server.orders.append({**sample_orders(26)[25], "updated_at": "2030-01-01T00:00:00"})
    assert "skipped" not in outputs[1]  # an API source: the ingest stage polls on every run
    with engine.connect_plain(config.load(root, warehouse=tmp_path / "wh"), read_only=True) as con:
        assert con.execute("select count(*) from raw.api_orders").fetchone() == (25,)  # 25 + 1 new - 1 broken
        read, accounted, batches = con.execute(
            "select sum(rows_read), sum(rows_landed + rows_quarantined), count(*) from ops.ingest_manifest "
            "where \"table\" = 'api_orders'"
        ).fetchone()
        reasons = con.execute("select reason from ops.quarantine where source_table = 'api_orders'").fetchall()
    assert read == accounted and batches == 4  # 3 pages, then a page of the boundary and the new record
    assert reasons == [("invalid_timestamp:ordered_at",)]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 10 and not [p for p in written if TOKEN.encode() in p.read_bytes()]
    assert TOKEN not in "".join(outputs)
