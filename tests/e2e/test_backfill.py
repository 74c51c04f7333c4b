"""End to end: `duckbook backfill` runs the real pipeline once per date, and a rerun skips them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import duckbook
from tests.e2e.test_run import query
from tests.pipeline import contents

pytestmark = pytest.mark.slow


def test_two_dates_run_then_a_rerun_skips_them_and_the_date_a_plain_run_did(run, tmp_path: Path):
    wh, reports = tmp_path / "wh", tmp_path / "reports"
    shutil.copytree(run["warehouse"], wh)  # the shared run did run_date=2019-08-11
    args = ["--warehouse", str(wh), "--reports-dir", str(reports)]

    first = duckbook("backfill", "--start", "2019-08-12", "--end", "2019-08-13", *args)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()  # not a terminal: one line per date, then the summary
    assert [line.split()[:2] for line in lines[:-1]] == [["2019-08-12", "success"], ["2019-08-13", "success"]]
    assert lines[-1].startswith("backfill 2019-08-12..2019-08-13: 2 date(s) run, 0 already done (skipped) in ")
    run_dates = query(wh, "SELECT run_id, any_value(parameters) FROM ops.run_log GROUP BY run_id")
    by_date = {json.loads(p)["run_date"] for _, p in run_dates}
    assert {"2019-08-11", "2019-08-12", "2019-08-13"} <= by_date
    assert (reports / "index.html").exists()

    again = duckbook("backfill", "--start", "2019-08-11", "--end", "2019-08-13", *args)
    assert again.returncode == 0, again.stdout + again.stderr
    lines = again.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [[f"2019-08-1{d}", "skipped"] for d in (1, 2, 3)]
    assert lines[-1].startswith("backfill 2019-08-11..2019-08-13: 0 date(s) run, 3 already done (skipped)")
    assert query(wh, "SELECT count(DISTINCT run_id) FROM ops.run_log")[0][0] == len(run_dates)  # nothing ran


def test_the_sample_deliveries_backfilled_day_by_day_equal_a_full_refresh(tmp_path: Path):
    """data/sample-drops through the real CLI: one run per delivery day (a backfill), then a full
    refresh of everything from the raw zone: every raw, staging, mart and metric table is the same."""
    wh, reports = tmp_path / "wh", tmp_path / "reports"
    args = ["--warehouse", str(wh), "--reports-dir", str(reports), "-p", "source_dir=data/sample-drops"]
    days = duckbook("backfill", "--start", "2019-07-22", "--end", "2019-07-27", *args)
    assert days.returncode == 0, days.stdout + days.stderr
    assert [line.split()[1] for line in days.stdout.splitlines()[:-1]] == ["success"] * 6
    replayed = contents(wh)
    files = query(wh, "SELECT count(*), count(DISTINCT file_path) FROM ops.ingest_manifest")[0]
    assert files[0] == files[1] == 20  # every delivered file ingested exactly once

    refresh = duckbook("run", "--full-refresh", "-p", "run_date=2019-07-27", *args)
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr
    refreshed = contents(wh)
    assert refreshed.keys() == replayed.keys()
    differ = [name for name in replayed if replayed[name] != refreshed[name]]
    assert not differ, f"tables differ between the day-by-day backfill and a full refresh: {differ}"
    prices = query(wh, "SELECT product_price FROM marts.dim_product WHERE product_id = 'JAF-002' ORDER BY valid_from")
    assert [float(p) for (p,) in prices] == [11.0, 12.1]  # the price change is history, not an overwrite
