"""Dated deliveries through the ingest stage: a file ingested before is a no-op, a changed one
stops (or is a correction when its source allows it), a missing day is a warning, a delivery
after the run date waits, a re-sent event row is not new and keeps its first-seen values, and a
malformed ``source_dir`` stops with an error naming it. Tests that run the stage more than once
are slow; the last runs the whole pipeline on a tiny jaffle shop: a correction gives what a fresh
run of the corrected files gives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

import duckbook
from duckbook import config, engine
from duckbook.build.context import start_stage
from duckbook.build.ingest import Ingested, ingest
from duckbook.ingest.contracts import Column, Contract, ContractError
from tests.pipeline import contents, run_pipeline
from tests.replay_support import assert_same, rows_of, small_shop, write_csv

D1, D2, D3 = "2024-01-01", "2024-01-02", "2024-01-03"
EVENT = Contract(
    "events",
    "events.csv",
    (Column("id", "string"), Column("v", "int64"), Column("at", "timestamp")),
    ("id",),
    kind="events",
    event_time="at",
)
THING = Contract("things", "things.csv", (Column("id", "string"), Column("name", "string")), ("id",))
CONTRACTS = {"events": EVENT, "things": THING}
_RUNS = itertools.count()
_START = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def deliver(source: Path, day: str, **files: str) -> None:
    """Write ``day``'s folder: ``events="a,1"`` writes events.csv with that line (``;`` separates lines)."""
    folder = source / day
    folder.mkdir(parents=True, exist_ok=True)
    headers = {"events": "id,v,at", "things": "id,name"}
    for name, lines in files.items():
        body = "".join(f"{line}\n" for line in lines.split(";") if line)
        (folder / f"{name}.csv").write_text(f"{headers[name]}\n{body}", encoding="utf-8")


def ingest_at(warehouse: Path, source: Path, run_date: str, contracts: Mapping[str, Contract] = CONTRACTS) -> Ingested:
    """Run the ingest stage by hand as of ``run_date``: published, or rolled back when it raises."""
    # a second apart, as real runs are (each lasts seconds under the run lock): the manifest orders
    # a file's batches by ingested_at, the run's start to the second
    n = next(_RUNS)
    started = (_START + dt.timedelta(seconds=n)).isoformat(timespec="seconds")
    ctx = start_stage("10_ingest", run_id=f"r{n}", run_started_at=started, run_date=run_date, warehouse=str(warehouse))
    try:
        done = ingest(ctx, contracts, source)
        done.build.audit()
        done.build.publish()
    except BaseException:
        engine.rollback(ctx.con)
        engine.close_writer(ctx.cfg)
        raise
    ctx.close()
    return done


def state(warehouse: Path) -> dict[str, list[dict[str, object]]]:
    """The manifest and every raw table, all columns, rows sorted; the raw zone's files."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        out = {"ops.ingest_manifest": con.table("ingest_manifest", database="ops").to_pyarrow().to_pylist()}
        for name in con.list_tables(database="raw"):
            out[f"raw.{name}"] = con.table(name, database="raw").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    out = {k: sorted(v, key=repr) for k, v in out.items()}
    out["raw zone"] = sorted(str(p.relative_to(warehouse)) for p in (warehouse / "raw").rglob("*"))
    return out


def manifest(warehouse: Path) -> list[dict[str, object]]:
    return sorted(state(warehouse)["ops.ingest_manifest"], key=lambda r: (r["delivery_date"], r["table"]))


def raw(warehouse: Path, table: str) -> dict[str, dict[str, object]]:
    return {r["id"]: r for r in state(warehouse)[f"raw.{table}"]}


@pytest.mark.slow
def test_a_file_ingested_before_is_skipped_and_nothing_changes(tmp_path):
    src, wh = tmp_path / "src", tmp_path / "wh"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00", things="x,X")
    deliver(src, D2, events="b,2,2024-01-02T10:00:00")
    first = ingest_at(wh, src, D2)
    assert (first.manifest.height, first.skipped) == (3, 0)
    before = state(wh)
    for run_date in (D2, D3):
        again = ingest_at(wh, src, run_date)
        assert (again.manifest.height, again.skipped) == (0, 3)
        assert state(wh) == before, "a rerun must not add a batch, a manifest row or a raw row"


@pytest.mark.slow
def test_a_changed_file_under_an_ingested_path_stops_naming_it_and_the_policy(tmp_path):
    src, wh = tmp_path / "src", tmp_path / "wh"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00", things="x,X")
    ingest_at(wh, src, D1)
    before = state(wh)
    deliver(src, D1, events="a,5,2024-01-01T10:00:00")  # same path, other bytes
    deliver(src, D2, events="b,2,2024-01-02T10:00:00")
    with pytest.raises(ContractError) as info:
        ingest_at(wh, src, D2)
    message = str(info.value)
    assert f"{src / D1 / 'events.csv'}: ingested before with sha256" in message
    assert "source events: on_changed_file: error; set it to correct to accept corrections" in message
    assert "things.csv" not in message, "only the changed file is named"
    assert state(wh) == before, "nothing is ingested, not even the next day's new file"


@pytest.mark.slow
def test_with_on_changed_file_correct_a_changed_file_replaces_its_batch(tmp_path):
    src, wh = tmp_path / "src", tmp_path / "wh"
    contracts = {"events": dataclasses.replace(EVENT, on_changed_file="correct"), "things": THING}
    deliver(src, D1, events="a,1,2024-01-01T10:00:00;b,2,2024-01-01T11:00:00")
    deliver(src, D2, events="c,3,2024-01-02T10:00:00")
    ingest_at(wh, src, D2, contracts)
    deliver(src, D1, events="a,10,2024-01-01T10:00:00;d,4,2024-01-01T12:00:00")  # b withdrawn, a corrected
    done = ingest_at(wh, src, D2, contracts)
    assert [(r["file_path"], r["status"]) for r in done.manifest.to_dicts()] == [(f"{D1}/events.csv", "correction")]
    assert {k: r["v"] for k, r in raw(wh, "events").items()} == {"a": 10, "c": 3, "d": 4}
    fresh = tmp_path / "fresh"
    ingest_at(fresh, src, D2, contracts)

    def landed(warehouse: Path) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k != "_ingested_at"} for r in state(warehouse)["raw.events"]]

    assert landed(wh) == landed(fresh), "as a warehouse that only ever saw the corrected file"


def test_a_missing_day_between_folders_is_a_warning(tmp_path):
    src = tmp_path / "src"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00", things="x,X")
    deliver(src, D3, events="b,2,2024-01-03T10:00:00")
    done = ingest_at(tmp_path / "wh", src, D3)
    assert done.warnings == ["no delivery folder for 2024-01-02 (between deliveries)"]
    assert sorted(done.manifest["file_path"].to_list()) == [f"{D1}/events.csv", f"{D1}/things.csv", f"{D3}/events.csv"]


@pytest.mark.slow
def test_deliveries_dated_after_the_run_date_wait_for_a_later_run(tmp_path):
    src, wh = tmp_path / "src", tmp_path / "wh"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00", things="x,X")
    deliver(src, D2, events="b,2,2024-01-02T10:00:00", things="x,Y")
    deliver(src, D3, events="c,3,2024-01-03T10:00:00")
    ingest_at(wh, src, D1)
    assert {str(r["delivery_date"]) for r in manifest(wh)} == {D1}
    assert sorted(raw(wh, "events")) == ["a"] and raw(wh, "things")["x"]["name"] == "X"
    ingest_at(wh, src, D3)
    assert [(str(r["delivery_date"]), r["table"]) for r in manifest(wh)] == [
        (D1, "events"),
        (D1, "things"),
        (D2, "events"),
        (D2, "things"),
        (D3, "events"),
    ]
    assert sorted(raw(wh, "events")) == ["a", "b", "c"] and raw(wh, "things")["x"]["name"] == "Y"


def _resend(tmp_path: Path, day_by_day: bool) -> Path:
    """Ingest two days whose second re-sends event ``a`` with other values; return the warehouse."""
    src, wh = tmp_path / "src", tmp_path / "wh"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00;b,2,2024-01-01T11:00:00")
    deliver(src, D2, events="a,99,2024-01-02T09:00:00;c,3,2024-01-02T10:00:00")  # a again, other values
    for run_date in [D1, D2] if day_by_day else [D2]:
        ingest_at(wh, src, run_date)
    return wh


@pytest.mark.slow
@pytest.mark.parametrize("day_by_day", [True, False], ids=["day-by-day", "catch-up"])
def test_a_resent_event_row_keeps_its_first_seen_values(tmp_path, day_by_day):
    rows = raw(_resend(tmp_path, day_by_day), "events")
    assert sorted(rows) == ["a", "b", "c"]
    assert (rows["a"]["v"], rows["a"]["at"], str(rows["a"]["_delivery_date"])) == (1, dt.datetime(2024, 1, 1, 10), D1)


@pytest.mark.slow
@pytest.mark.parametrize(
    "day_by_day",
    [True, False],
    ids=["day-by-day", "catch-up"],
)
def test_a_resent_event_row_is_not_counted_as_new(tmp_path, day_by_day):
    counts = [
        (str(r["delivery_date"]), r["rows_landed"], r["rows_new"]) for r in manifest(_resend(tmp_path, day_by_day))
    ]
    assert counts == [(D1, 2, 2), (D2, 2, 1)]


def test_a_folder_that_is_not_a_real_date_stops_naming_it(tmp_path):
    src = tmp_path / "src"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00")
    deliver(src, "2024-02-30", events="b,2,2024-01-02T10:00:00")
    with pytest.raises(ContractError, match=r"2024-02-30: delivery folder is not a valid date \(YYYY-MM-DD\)"):
        ingest_at(tmp_path / "wh", src, D3)


def test_dated_folders_beside_raw_files_stop_naming_the_files(tmp_path):
    src = tmp_path / "src"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00")
    (src / "things.csv").write_text("id,name\nx,X\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        ingest_at(tmp_path / "wh", src, D1)
    assert f"source_dir {src} holds both dated delivery folders and raw files (things.csv)" in str(info.value)
    assert "move the files into a YYYY-MM-DD/ folder" in str(info.value)


# -- the whole pipeline on a tiny shop --------------------------------------------------------

SHOP = small_shop(dt.date(2019, 7, 22), 2, per_day=4)
DAY1, DAY2 = "2019-07-22", "2019-07-23"


def _deliver_shop(source: Path) -> None:
    """Day 1: every entity and day 1's orders; day 2: day 2's orders and the same products again."""
    for order_day, folder in ((dt.date(2019, 7, 22), DAY1), (dt.date(2019, 7, 23), DAY2)):
        orders = [o for o in SHOP.orders if o.day == order_day]
        write_csv(source / folder / "raw_orders.csv", "raw_orders", [o.row for o in orders])
        write_csv(source / folder / "raw_items.csv", "raw_items", [i for o in orders for i in o.items])
    for table, rows in SHOP.entities.items():
        write_csv(source / DAY1 / f"{table}.csv", table, rows)
    shutil.copyfile(source / DAY1 / "raw_products.csv", source / DAY2 / "raw_products.csv")


def _correct_day1(source: Path) -> None:
    """Day 1's orders with one order moved to another customer and one new order (no items);
    day 1's customers with one renamed."""
    orders = [o.row for o in SHOP.orders if o.day == dt.date(2019, 7, 22)]
    other = SHOP.entities["raw_customers"][5]["id"]
    new = {**orders[0], "id": "00000000-0000-4000-8000-000000000001", "customer": other}
    write_csv(source / DAY1 / "raw_orders.csv", "raw_orders", [{**orders[0], "customer": other}, *orders[1:], new])
    customers = [dict(r) for r in SHOP.entities["raw_customers"]]
    customers[2]["name"] = "Corrected Name"
    write_csv(source / DAY1 / "raw_customers.csv", "raw_customers", customers)


def _correcting_project(tmp_path: Path) -> str:
    """The project's files, with a copy of sources.yml whose event orders and customers accept corrections."""
    cfg = config.load()
    sources = next(p for p in cfg.project_files if p.name == "sources.yml")
    spec = yaml.safe_load(sources.read_text(encoding="utf-8"))
    for name in ("raw_orders", "raw_customers"):
        spec["sources"][name]["on_changed_file"] = "correct"
    copy = tmp_path / "sources.yml"
    copy.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return ",".join(str(copy if p == sources else p) for p in cfg.project_files)


def _manifest_rows(warehouse: Path) -> list[tuple]:
    return sorted((str(r["delivery_date"]), r["table"], r["status"]) for r in state(warehouse)["ops.ingest_manifest"])


@pytest.mark.slow
def test_a_correction_of_the_shop_equals_a_fresh_run_that_only_saw_the_corrected_files(tmp_path, monkeypatch):
    src, wh = tmp_path / "src", tmp_path / "wh"
    _deliver_shop(src)
    run_pipeline(wh, src, DAY1)
    run_pipeline(wh, src, DAY2)
    before, ops_before = contents(wh), state(wh)["ops.ingest_manifest"]
    products = rows_of(before, "staging.stg_products")
    assert len(products) == len(SHOP.entities["raw_products"]), "the same snapshot again adds no version"
    assert ("2019-07-23", "raw_products", "new") in _manifest_rows(wh)

    _correct_day1(src)
    with pytest.raises(ContractError) as info:  # the project's policy: on_changed_file: error
        run_pipeline(wh, src, DAY2)
    engine.close_writer(config.load(warehouse=str(wh)))  # the harness leaves a failed stage's writer open
    for table in ("raw_orders", "raw_customers"):
        assert f"{src / DAY1 / table}.csv: ingested before" in str(info.value)
        assert f"source {table}: on_changed_file: error" in str(info.value)
    assert contents(wh) == before and state(wh)["ops.ingest_manifest"] == ops_before, "nothing is published"

    monkeypatch.setenv("DUCKBOOK_PROJECT_FILES", _correcting_project(tmp_path))
    run_pipeline(wh, src, DAY2)
    corrected = contents(wh)
    statuses = _manifest_rows(wh)
    assert ("2019-07-22", "raw_orders", "correction") in statuses
    assert ("2019-07-22", "raw_customers", "correction") in statuses
    assert "00000000-0000-4000-8000-000000000001" in {r["order_id"] for r in rows_of(corrected, "marts.orders")}

    fresh = tmp_path / "fresh"  # a warehouse that only ever saw the corrected files (same paths: raw keeps them)
    run_pipeline(fresh, src, DAY2)
    assert_same(corrected, contents(fresh), "a correction vs a fresh run of the corrected files")


@pytest.mark.slow
def test_a_long_catch_up_lands_and_merges_every_delivery_in_one_run(tmp_path):
    """Skipping runs for months is harmless: one run lands and merges 150 deliveries (a chain of
    one union per file once exceeded Python's recursion limit at about 70 files)."""
    src, wh = tmp_path / "src", tmp_path / "wh"
    first = dt.date(2024, 1, 1)
    deliver(src, first.isoformat(), events="e0,0,2024-01-01T10:00:00", things="t1,one")
    ingest_at(wh, src, first.isoformat())
    days = [first + dt.timedelta(days=n) for n in range(1, 151)]
    for n, day in enumerate(days, start=1):
        bad = ";x,not-a-number,2024-01-01T10:00:00" if n % 10 == 0 else ""  # some quarantine rows too
        deliver(src, day.isoformat(), events=f"e{n},{n},{day}T10:00:00;e0,9,2024-01-01T10:00:00{bad}")
    done = ingest_at(wh, src, days[-1].isoformat())
    assert done.manifest.height == 150
    rows = raw(wh, "events")
    assert len(rows) == 151 and rows["e0"]["v"] == 0  # the re-sent e0 kept its first-seen value
    assert sum(r["rows_new"] for r in manifest(wh)) == 1 + 1 + 150  # e0, t1, then one new event a day
    con = duckbook.connect(wh, read_only=True)
    try:
        assert con.table("quarantine", database="ops").count().execute() == 15
    finally:
        con.disconnect()


@pytest.mark.slow
def test_a_moved_warehouse_rebuilds_from_its_own_raw_zone(tmp_path):
    """The manifest records where a batch was landed, but a rebuild reads the warehouse's own raw
    zone: a copied or moved root works after the original is gone."""
    src, wh = tmp_path / "src", tmp_path / "wh"
    deliver(src, D1, events="a,1,2024-01-01T10:00:00", things="t1,one")
    deliver(src, D2, events="b,2,2024-01-02T10:00:00")
    ingest_at(wh, src, D2)
    before = state(wh)
    moved = tmp_path / "moved"
    shutil.move(wh, moved)
    ctx = start_stage("10_ingest", run_id="moved", run_date=D2, warehouse=str(moved))
    try:
        done = ingest(ctx, CONTRACTS, src, full_refresh=True)
        done.build.audit()
        done.build.publish()
    finally:
        ctx.close()
    after = state(moved)
    assert after["raw.events"] == before["raw.events"] and after["raw.things"] == before["raw.things"]
