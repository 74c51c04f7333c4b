"""The daily bench section's pure helpers: sizes, growth, ratios, the slowest cells, the cache's
eviction, and the report (no timing: the section itself runs only under `make bench`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import doctest
import json
import math
from pathlib import Path

import pytest
from benchmarks import daily


def result(**changes: object) -> daily.DailyResult:
    base = daily.DailyResult(
        drops="/data/bench-daily/drops-jaffle-3y-0123456789ab",
        repeat=3,
        first_day="2018-09-01",
        preloaded_through="2021-07-30",
        preloaded_deliveries=1064,
        preloaded_by="38 catch-up run(s) of at most 28 deliveries, then maintain",
        preloaded_at="2026-11-26T18:00:00Z",
        daily_run_date="2021-07-31",
        daily_delivery_rows={"raw_orders": 701, "raw_items": 1043},
        daily_run_s=6.0,
        full_refresh_s=80.0,
        full_load_s=900.0,
        floor_sql_s=7.5,
        daily_stages_s={"10_ingest": 2.0, "30_marts": 1.5},
        full_refresh_stages_s={"10_ingest": 30.0, "30_marts": 40.0},
        full_load_stages_s={"10_ingest": 800.0, "30_marts": 60.0},
        daily_slowest_cells=[("10_ingest", 1.25, "ingested = ingest(ctx, ...)")],
        warehouse_before_bytes=612_000_000,
        full_load_warehouse_bytes=630_000_000,
        growth_per_day_bytes={"warehouse root": 2_345_678, "raw zone": 61_000, "table files": 2_200_000},
        full_refresh_growth_bytes=310_000_000,
        made_now=[],
    )
    return dataclasses.replace(base, **changes)


def test_doctests() -> None:
    assert doctest.testmod(daily).failed == 0


def test_ratios_are_daily_over_each_reference() -> None:
    ratios = result().ratios()
    assert ratios == {
        "daily_over_full_refresh": 0.075,
        "daily_over_full_load": 0.007,
        "daily_over_floor_sql": 0.8,
        "full_refresh_over_floor_sql": 10.667,
    }
    assert math.isnan(daily.ratio(1.0, 0.0))


def test_as_json_is_serializable_and_carries_the_target() -> None:
    data = json.loads(json.dumps(result().as_json()))
    assert data["target_ratio"] == daily.TARGET == 0.10
    assert data["ratios"]["daily_over_full_refresh"] == 0.075
    assert data["preloaded_by"].startswith("38 catch-up run(s)")
    assert data["growth_per_day_bytes"]["warehouse root"] == 2_345_678


def test_report_gives_both_figures_the_ratio_and_the_growth() -> None:
    text = "\n".join(daily.report(result()))
    assert "a. daily run (wall)                  6.00 s" in text
    assert "b. full refresh (wall)              80.00 s" in text
    assert "c. full load from scratch (wall)   900.00 s" in text
    assert "ratio daily / full refresh     = 0.075   (target <= 0.10: met)" in text
    assert (
        "1064 deliveries 2018-09-01..2021-07-30 loaded by 38 catch-up run(s) of at most 28 deliveries, then "
        "maintain: not a day-by-day replay"
    ) in text
    assert (
        "c. full load from scratch (wall)   900.00 s   (the start state's catch-up runs, 2026-11-26T18:00:00Z)" in text
    )
    assert "next delivery: 2021-07-31 (raw_orders 701, raw_items 1,043 rows)" in text
    assert "+2,345,678 bytes  +2.35 MB" in text
    assert "raw zone" in text and "+61,000 bytes  +0.06 MB" in text
    assert "outside the stages                   2.50 s" in text  # 6.0 - (2.0 + 1.5)
    assert "10_ingest               1.25 s  ingested = ingest(ctx, ...)" in text
    assert "from the cache of 2026-11-26T18:00:00Z" in text


def test_report_says_when_the_target_is_missed_and_what_was_prepared() -> None:
    text = "\n".join(daily.report(result(daily_run_s=12.0, made_now=["drops", "preloaded warehouse"])))
    assert "= 0.150   (target <= 0.10: MISSED)" in text
    assert "prepared now: drops, preloaded warehouse" in text


def test_sizes_and_growth_per_part(tmp_path: Path) -> None:
    (tmp_path / "raw" / "raw_orders").mkdir(parents=True)
    (tmp_path / "raw" / "raw_orders" / "b1.parquet").write_bytes(b"x" * 100)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.parquet").write_bytes(b"x" * 30)
    (tmp_path / "catalog.sqlite").write_bytes(b"x" * 5)
    (tmp_path / "catalog.sqlite-wal").write_bytes(b"x" * 2)
    before = daily.sizes(tmp_path)
    assert before == {"warehouse root": 137, "raw zone": 100, "table files": 30, "catalog": 7}
    (tmp_path / "raw" / "raw_orders" / "b2.parquet").write_bytes(b"x" * 50)
    assert daily.growth(before, daily.sizes(tmp_path)) == {
        "warehouse root": 50,
        "raw zone": 50,
        "table files": 0,
        "catalog": 0,
    }


def test_sizes_of_an_empty_warehouse_are_zero(tmp_path: Path) -> None:
    assert set(daily.sizes(tmp_path / "missing").values()) == {0}


def _notebook(path: Path, cells: list[dict]) -> None:
    path.write_text(json.dumps({"cells": cells}))


def _cell(source: str, seconds: float | None, kind: str = "code") -> dict:
    meta = {} if seconds is None else {"papermill": {"duration": seconds}}
    return {"cell_type": kind, "source": source, "metadata": meta}


def test_slowest_cells_across_notebooks(tmp_path: Path) -> None:
    _notebook(
        tmp_path / "10_ingest.ipynb",
        [_cell("# Ingest", 9.0, kind="markdown"), _cell("import duckbook\nx = 1", 0.5), _cell("ingest(ctx)", 3.0)],
    )
    _notebook(
        tmp_path / "30_marts.ipynb",
        [_cell("# NBVAL_IGNORE_OUTPUT\nbuild()", 2.0), _cell("   ", 5.0), _cell("never ran", None), _cell("# x", 0.1)],
    )
    assert daily.slowest_cells(tmp_path, 2) == [("10_ingest", 3.0, "ingest(ctx)"), ("30_marts", 2.0, "build()")]
    assert daily.slowest_cells(tmp_path, 10)[-2:] == [("10_ingest", 0.5, "import duckbook"), ("30_marts", 0.1, "# x")]


def test_fingerprint_follows_bytes_names_and_parameters(tmp_path: Path) -> None:
    f = tmp_path / "raw_orders.csv"
    f.write_text("id\n1\n")
    first = daily.fingerprint([f], tmp_path, {"seed": 0})
    assert len(first) == 12
    f.write_text("id\n2\n")
    assert daily.fingerprint([f], tmp_path, {"seed": 0}) != first
    assert daily.fingerprint([f], tmp_path.parent, {"seed": 0}) != daily.fingerprint([f], tmp_path, {"seed": 0})


def test_the_cache_keeps_one_entry_of_each_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daily, "CACHE", tmp_path)
    for name in ("drops-jaffle-3y-aaa", "drops-jaffle-1y-bbb", "preloaded-drops-jaffle-3y-aaa-ccc"):
        (tmp_path / name).mkdir()
    daily._drop_others(tmp_path / "drops-jaffle-3y-ddd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preloaded-drops-jaffle-3y-aaa-ccc"]


def test_catch_up_dates_cover_every_delivery_through_the_cutoff_in_order() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(100) if n != 40]  # a skipped day
    through = dt.date(2024, 3, 31)
    dates = daily.catch_up_dates(days, through, 28)
    assert dates[-1] == through and dates == sorted(dates)
    loaded = [d for d in days if d <= through]
    assert [loaded.index(d) + 1 for d in dates] == [28, 56, 84, len(loaded)]
    assert daily.catch_up_dates(days, through, 0) == [through]
    assert daily.catch_up_dates(days, through, 1000) == [through]
