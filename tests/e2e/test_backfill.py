"""End to end: `duckbook backfill` runs the real pipeline once per date, and a rerun skips them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import duckbook
from tests.e2e.test_run import query

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
