"""A second domain end to end: the toy bakery (tests/fixtures/toy_project) is ingested, built,
audited and published through the same stage machinery as the Jaffle Shop, and checked and
queried afterwards. Nothing in the toolkit names the Jaffle Shop."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from duckbook import config, engine, metrics
from duckbook.build.audit import check_warehouse
from duckbook.build.context import start_stage
from duckbook.build.ingest import ingest
from duckbook.project import load

pytestmark = pytest.mark.slow

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_project"


@pytest.fixture
def toy(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DUCKBOOK_")]:
        monkeypatch.delenv(name)
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(root))
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(tmp_path / "toy-warehouse"))
    yield root
    for mod in [m for m in sys.modules if m.split(".")[0] == "toy_bakery"]:
        del sys.modules[mod]


def stage(name: str):
    return start_stage(name, run_id="toy-run", run_started_at="2024-03-04T06:00:00", run_date="2024-03-03")


def test_the_toy_domain_builds_end_to_end(toy, tmp_path):
    ctx = stage("10_ingest")
    ingested = ingest(ctx, ctx.project.sources, "data")
    build, manifest = ingested.build, ingested.manifest
    audit = build.audit()
    assert set(audit["status"]) == {"pass"}
    build.publish()
    ctx.close()
    assert dict(manifest.select("table", "rows_quarantined").iter_rows()) == {"raw_sales": 1, "raw_breads": 0}

    for group in ("staging", "marts", "metrics"):
        ctx = stage(f"stage_{group}")
        build = ctx.build_models(group)
        results = build.audit()
        assert "fail" not in set(results["status"]), results
        build.publish()
        ctx.close()

    with engine.connect_plain(config.load(), read_only=True) as con:
        count, total = con.execute("select count(*), sum(amount) from marts.sales").fetchone()
        assert (count, total) == (4, pytest.approx(16.2))
        first_day = con.execute("select revenue, sales from metrics.daily_sales order by period").fetchall()[0]
        assert first_day == (pytest.approx(7.7), 2)
        checked = dict(
            con.execute("select check_name, status from ops.check_results where schema_name = 'marts'").fetchall()
        )
    # the unknown bread b9 is an orphan: a warning, declared in the toy's YAML
    assert checked["relationship__sales__bread_id__staging.stg_breads"] == "warn"
    assert checked["row_count_min__sales"] == "pass"

    results = check_warehouse(load(), run_date=None)
    assert {"raw", "staging", "marts", "metrics", "ops"} <= set(results["schema_name"])
    assert "fail" not in set(results["status"])
    assert metrics.query(["revenue"], grain=None).to_pyarrow().to_pylist() == [{"revenue": pytest.approx(16.2)}]
