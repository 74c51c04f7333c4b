"""The CDC slots on the runs page and in `duckbook runs show`: lag, retained WAL, WAL status, the
last landed commit, a lag chart over the runs and warnings; nothing for a project without CDC."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

from duckbook.ops.history import CdcHealth, CheckCounts, RunRecord, StageRecord
from duckbook.publish import runs
from duckbook.publish.runs_cdc import cdc_warnings, readable_bytes

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)


def health(lag: int, status: str = "reserved", *, slot: str = "shop", retained: int = 5_000_000) -> CdcHealth:
    return CdcHealth(slot, slot, lag, retained, status, "0/16B3748", T0, 4, 17)


def run(run_id: str, hours: int, *cdc: CdcHealth) -> RunRecord:
    stage = StageRecord("10_ingest", "success", 1.0, 10)
    started = T0 + dt.timedelta(hours=hours)
    return RunRecord(run_id, "success", started, 1.0, 10, (stage,), CheckCounts(1, 0, 0), 0, "", None, cdc)


def page(tmp_path: Path, records: list[RunRecord]) -> str:
    return runs.write_runs_page(tmp_path, records, generated_at=T0).read_text(encoding="utf-8")


def test_a_project_without_cdc_shows_nothing_of_it(tmp_path):
    records = [run("r2", 1), run("r1", 0)]
    html = page(tmp_path, records)
    assert "CDC" not in html and "slot" not in html and "lag" not in html.lower()
    assert html.count("<svg") == 2  # the duration and trend charts only
    assert not any("CDC" in line for line in runs.describe(records[0], Path("reports/runs")))


def test_the_page_shows_each_slot_of_the_newest_run_and_a_lag_chart(tmp_path):
    records = [run("r3", 2, health(1_234_567), health(0, slot="crm")), run("r2", 1, health(20_000)), run("r1", 0)]
    html = page(tmp_path, records)
    assert "<h2>CDC slots</h2>" in html and html.count("<svg") == 3
    assert 'aria-label="CDC slot lag per run, oldest on the left"' in html
    newest = html.split("<h2>CDC slots</h2>")[1].split("<h2>Last runs</h2>")[0]
    assert "As run <code>r3</code>" in newest
    row = re.search(r"<tr><td>shop</td>.*?</tr>", newest, re.S)
    assert row is not None
    for cell in ("1.2 MB", "5.0 MB", "reserved", "0/16B3748", "2024-01-02 03:04:05", ">4<", ">17<"):
        assert cell in row.group(0)
    assert "<tr><td>crm</td>" in newest
    # each run's details list its own slots; r1 read none
    assert "r2 slot shop: lag 20.0 kB, WAL reserved" in html  # the chart point's title
    assert "CDC warning" not in html


def test_a_wal_status_other_than_reserved_is_warned_with_the_remedy(tmp_path):
    html = page(tmp_path, [run("r2", 1, health(10, "lost")), run("r1", 0, health(10))])
    assert (
        '<p class="cdc-warning"><strong>CDC warning:</strong> slot shop: WAL status lost: the WAL it needs was '
        "removed: run `duckbook cdc resnapshot shop`</p>"
    ) in html
    assert '<strong class="status-stale">lost</strong>' in html


def test_lag_growing_over_the_last_runs_is_warned(tmp_path):
    growing = [run("r3", 2, health(3_000_000)), run("r2", 1, health(2_000_000)), run("r1", 0, health(1_000))]
    assert cdc_warnings(growing) == [
        "slot shop: lag grew over the last 3 runs (1.0 kB, 2.0 MB, 3.0 MB): the ingest is not keeping up with the database"
    ]
    assert "CDC warning:</strong> slot shop: lag grew" in page(tmp_path, growing)
    caught_up = [run("r4", 3, health(0)), *growing]
    assert cdc_warnings(caught_up) == []
    assert cdc_warnings(growing[:2]) == []  # two runs are no trend


def test_describe_prints_each_slot_and_its_warning():
    record = run("r1", 0, health(1_500, "unreserved"))
    lines = runs.describe(record, Path("reports/runs"))
    assert lines[-3:] == [
        "CDC slots:",
        (
            "  shop (slot shop): lag 1.5 kB, retained WAL 5.0 MB, WAL unreserved, landed 0/16B3748 committed "
            "2024-01-02 03:04:05 UTC, 4 transactions, 17 events"
        ),
        (
            "warning: slot shop: WAL status unreserved: its WAL will be removed at the next checkpoint: "
            "the slot is about to be lost"
        ),
    ]


def test_a_slot_missing_from_a_run_leaves_a_gap_in_its_line(tmp_path):
    records = [run("r3", 2, health(30)), run("r2", 1), run("r1", 0, health(10))]
    html = page(tmp_path, records)
    assert html.count("<circle") == 2 and "<polyline" not in html  # two points, never joined across r2
    joined = [records[0], dataclasses.replace(records[1], cdc=(health(20),)), records[2]]
    assert page(tmp_path, joined).count("<polyline") == 1


def test_sizes_are_readable():
    assert [readable_bytes(n) for n in (12, 1_200, 1_200_000, 3_400_000_000)] == ["12 B", "1.2 kB", "1.2 MB", "3.4 GB"]
