"""Every published page stays under 1 MB on a year of data (jafgen), not only on the sample: a
page that grows with the data (a chart point per day, a row per check and run) fails here.

The sizes of both runs are written to tests/artifacts/page_sizes.json (ignored by git)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, duckbook

LIMIT = 1_000_000
ARTIFACT = ROOT / "tests" / "artifacts" / "page_sizes.json"
JAFGEN = str(Path(sys.executable).with_name("jafgen"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run plus `duckbook docs` on one year of jafgen data; its reports directory."""
    base = tmp_path_factory.mktemp("one-year")
    source = base / "source"
    if (ROOT / "data" / "jaffle-1y" / "raw_orders.csv").is_file():  # made by `make data` / `make bench`
        shutil.copytree(ROOT / "data" / "jaffle-1y", source)
    else:
        subprocess.run([JAFGEN, "1", "--pre", "raw"], cwd=base, check=True, capture_output=True, timeout=600)
        source.mkdir()
        for csv in (base / "jaffle-data").glob("raw_*.csv"):  # as `make data` does: no tweets
            if csv.name != "raw_tweets.csv":
                csv.rename(source / csv.name)
    warehouse, reports = base / "warehouse", base / "reports"
    common = ("--warehouse", str(warehouse))
    proc = duckbook("run", *common, "--reports-dir", str(reports), "-p", f"source_dir={source}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = duckbook("docs", *common, "--reports-dir", str(reports))
    assert docs.returncode == 0, docs.stdout + docs.stderr
    return reports


def sizes(reports: Path) -> dict[str, int]:
    """Every published page (run directories left out) and its size in bytes."""
    return {
        str(p.relative_to(reports)): p.stat().st_size
        for p in sorted(reports.rglob("*.html"))
        if p.relative_to(reports).parts[0] != "runs"
    }


def test_every_page_is_under_1_mb_on_the_sample_and_on_a_year_of_data(run, one_year):
    measured = {"sample": sizes(Path(run["reports"])), "1y": sizes(one_year)}
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(measured, indent=2), encoding="utf-8")
    expected = {"index.html", "overview.html", "customers.html", "quality.html", "runs.html", "docs/index.html"}
    for data, pages in measured.items():
        assert expected <= set(pages), f"{data}: pages missing: {expected - set(pages)}"
        assert {p: s for p, s in pages.items() if s >= LIMIT} == {}, f"{data}: pages of 1 MB or more"
