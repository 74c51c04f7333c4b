"""Which delivered files a run ingests: discovery of dated folders, run_date, checksums, policies."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from duckbook.ingest.contracts import Column, Contract, ContractError
from duckbook.ingest.deliveries import discover, file_digest, missing_days, plan

ORDERS = Contract("raw_orders", "raw_orders.csv", (Column("id", "string"),), ("id",), kind="events")
STORES = Contract("raw_stores", "raw_stores.csv", (Column("id", "string"),), ("id",))
CONTRACTS = {"raw_orders": ORDERS, "raw_stores": STORES}


def deliver(root: Path, day: str | None, name: str, text: str = "id\n1\n") -> Path:
    folder = root if day is None else root / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_dated_folders_in_date_order_each_with_its_files(tmp_path):
    deliver(tmp_path, "2024-01-02", "raw_orders.csv")
    deliver(tmp_path, "2024-01-01", "raw_orders.csv")
    deliver(tmp_path, "2024-01-01", "raw_stores.csv")
    found = discover(tmp_path)
    assert [(d.date, d.files) for d in found] == [
        (dt.date(2024, 1, 1), ("raw_orders.csv", "raw_stores.csv")),
        (dt.date(2024, 1, 2), ("raw_orders.csv",)),
    ]


def test_raw_files_at_the_top_are_one_undated_delivery(tmp_path):
    deliver(tmp_path, None, "raw_orders.csv")
    (found,) = discover(tmp_path)
    assert found.date is None and found.files == ("raw_orders.csv",)


def test_mixing_dated_folders_and_raw_files_is_an_error(tmp_path):
    deliver(tmp_path, None, "raw_orders.csv")
    deliver(tmp_path, "2024-01-01", "raw_orders.csv")
    with pytest.raises(ContractError, match="both dated delivery folders and raw files.*raw_orders.csv"):
        discover(tmp_path)


def test_a_folder_that_is_not_a_real_date_is_named(tmp_path):
    deliver(tmp_path, "2024-02-30", "raw_orders.csv")
    with pytest.raises(ContractError, match="2024-02-30: delivery folder is not a valid date"):
        discover(tmp_path)


def test_missing_source_dir_is_named(tmp_path):
    with pytest.raises(ContractError, match="nowhere is not a directory"):
        discover(tmp_path / "nowhere")


def test_missing_days_between_folders(tmp_path):
    for day in ("2024-01-01", "2024-01-04", "2024-01-05"):
        deliver(tmp_path, day, "raw_orders.csv")
    assert missing_days(discover(tmp_path)) == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def test_plan_takes_deliveries_up_to_run_date_in_order(tmp_path):
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        deliver(tmp_path, day, "raw_orders.csv", f"id\n{day}\n")
    deliver(tmp_path, "2024-01-02", "raw_stores.csv")
    todo = plan(discover(tmp_path), CONTRACTS, run_date=dt.date(2024, 1, 2), ingested={})
    assert [(f.relative, f.status) for f in todo] == [
        ("2024-01-01/raw_orders.csv", "new"),
        ("2024-01-02/raw_orders.csv", "new"),
        ("2024-01-02/raw_stores.csv", "new"),
    ]
    first = todo[0]
    assert first.checksum == file_digest(first.path) and first.size == first.path.stat().st_size


def test_the_same_file_again_is_skipped(tmp_path):
    path = deliver(tmp_path, "2024-01-01", "raw_orders.csv")
    ingested = {"2024-01-01/raw_orders.csv": file_digest(path)}
    assert plan(discover(tmp_path), CONTRACTS, run_date=dt.date(2024, 1, 9), ingested=ingested) == []


def test_a_changed_dated_file_stops_by_default_naming_path_and_policy(tmp_path):
    deliver(tmp_path, "2024-01-01", "raw_orders.csv", "id\n2\n")
    ingested = {"2024-01-01/raw_orders.csv": "0" * 64}
    with pytest.raises(ContractError, match=r"2024-01-01/raw_orders.csv: ingested before .*on_changed_file: error"):
        plan(discover(tmp_path), CONTRACTS, run_date=dt.date(2024, 1, 9), ingested=ingested)


def test_a_changed_dated_file_is_a_correction_when_the_source_accepts_them(tmp_path):
    deliver(tmp_path, "2024-01-01", "raw_orders.csv", "id\n2\n")
    contracts = {"raw_orders": dataclasses.replace(ORDERS, on_changed_file="correct")}
    ingested = {"2024-01-01/raw_orders.csv": "0" * 64}
    (todo,) = plan(discover(tmp_path), contracts, run_date=dt.date(2024, 1, 9), ingested=ingested)
    assert todo.status == "correction"


def test_a_changed_undated_file_is_a_new_full_delivery(tmp_path):
    deliver(tmp_path, None, "raw_orders.csv", "id\n2\n")
    stores = deliver(tmp_path, None, "raw_stores.csv")
    ingested = {"raw_orders.csv": "x", "raw_stores.csv": file_digest(stores)}
    (todo,) = plan(discover(tmp_path), CONTRACTS, run_date=dt.date(2024, 1, 9), ingested=ingested)
    assert (todo.relative, todo.status) == ("raw_orders.csv", "refresh")


def test_an_undated_source_dir_needs_every_file(tmp_path):
    deliver(tmp_path, None, "raw_orders.csv")
    with pytest.raises(ContractError, match=r"raw_stores.csv: file is missing \(source raw_stores\)"):
        plan(discover(tmp_path), CONTRACTS, run_date=dt.date(2024, 1, 9), ingested={})


def test_a_dated_delivery_may_hold_any_subset(tmp_path):
    deliver(tmp_path, "2024-01-01", "raw_stores.csv")
    assert [
        f.contract.name for f in plan(discover(tmp_path), CONTRACTS, run_date=dt.date(2024, 1, 9), ingested={})
    ] == ["raw_stores"]
