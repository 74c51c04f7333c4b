"""duckbook.ingest.drops: daily delivery folders with declared defects, checked against the input."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from duckbook import cli
from duckbook.errors import UserError
from duckbook.ingest import drops
from duckbook.ingest.drops import CHANGES, ENTITIES, EVENTS, MANIFEST, DropsError, DropsSummary, split

ROOT = Path(__file__).resolve().parents[4]
SAMPLE = ROOT / "data" / "sample"
COMMITTED = ROOT / "data" / "sample-drops"
#: the command that regenerates data/sample-drops (documented in data/sample/README.md)
COMMITTED_OPTIONS = {"days": 6, "seed": 3}
DAY = dt.timedelta(days=1)


# -- inputs ---------------------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


def tiny(root: Path, *, first: dt.date = dt.date(2024, 1, 1), days: int = 8, per_day: int = 4) -> Path:
    """A hand-made jafgen directory: ``per_day`` orders a day (1 or 2 items each), small entities."""
    root.mkdir(parents=True)
    orders, items = [], []
    for d in range(days):
        for n in range(per_day):
            oid = f"o{d:02d}{n}"
            at = dt.datetime.combine(first + d * DAY, dt.time(8 + n))
            orders.append([oid, f"c{n % 4}", at.isoformat(), "s1" if n % 2 else "s2", "1100", "66", "1166"])
            items += [[f"i{oid}{k}", oid, ("JAF-001", "BEV-001")[k]] for k in range(1 + n % 2)]
    write_csv(
        root / "raw_orders.csv",
        ["id", "customer", "ordered_at", "store_id", "subtotal", "tax_paid", "order_total"],
        orders,
    )
    write_csv(root / "raw_items.csv", ["id", "order_id", "sku"], items)
    names = ["Ann Lee", "Bob Ray", "Cy Young", "Di Fox"]
    write_csv(root / "raw_customers.csv", ["id", "name"], [[f"c{i}", name] for i, name in enumerate(names)])
    products = [
        ["JAF-001", "doctor stew", "jaffle", "1100", "beef stew, in a jaffle"],
        ["BEV-001", "tangaroo", "beverage", "600", 'mango "and" tangerine'],
        ["BEV-002", "chai", "beverage", "450", "oatmilk chai"],
    ]
    write_csv(root / "raw_products.csv", ["sku", "name", "type", "price", "description"], products)
    stores = [
        ["s1", "Philadelphia", "2018-09-01T00:00:00", "0.06"],
        ["s2", "Brooklyn", "2019-03-12T00:00:00", "0.0625"],
    ]
    write_csv(root / "raw_stores.csv", ["id", "name", "opened_at", "tax_rate"], stores)
    supplies = [["SUP-001", "knife", "7", "False", "JAF-001"], ["SUP-001", "knife", "7", "False", "BEV-001"]]
    write_csv(root / "raw_supplies.csv", ["id", "name", "cost", "perishable", "sku"], supplies)
    return root


# -- the invariants -------------------------------------------------------------------------------


def check_deliveries(source: Path, out: Path, summary: DropsSummary) -> None:
    """Every invariant of the interface, from the files alone (the summary only says what was declared)."""
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in folders] == [d.isoformat() for d in summary.days]
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest == json.loads(json.dumps(summary.manifest(), default=str))
    first, last = summary.days[0], summary.days[-1]
    start = min(summary.days[0], *summary.skipped) if summary.skipped else summary.days[0]

    # (1) dedup by key (first seen) over all folders gives back exactly the input rows of the range
    inputs = {name: read_csv(source / f"{name}.csv") for name in EVENTS}
    (orders_header, orders), (_, items) = inputs["raw_orders"], inputs["raw_items"]
    at = orders_header.index("ordered_at")
    day_of = {row[0]: dt.date.fromisoformat(row[at][:10]) for row in orders}
    seen: dict[str, dict[str, tuple[list[str], int]]] = {name: {} for name in EVENTS}  # key -> (row, folder)
    copies: dict[str, dict[str, list[int]]] = {name: {} for name in EVENTS}
    for index, folder in enumerate(folders):
        for name in EVENTS:
            header, rows = read_csv(folder / f"{name}.csv")
            assert header == inputs[name][0]
            assert summary.files[summary.days[index]][f"{name}.csv"] == len(rows)
            for row in rows:
                if row[0] in seen[name]:
                    assert seen[name][row[0]][0] == row, "a repeated row is an exact duplicate"
                seen[name].setdefault(row[0], (row, index))
                copies[name].setdefault(row[0], []).append(index)
    in_range = [row for row in orders if day_of[row[0]] <= last]
    position = {row[0]: i for i, row in enumerate(orders)}
    assert [r for r, _ in sorted(seen["raw_orders"].values(), key=lambda s: position[s[0][0]])] == in_range
    kept = {row[0] for row in in_range}
    assert sorted(r for r, _ in seen["raw_items"].values()) == sorted(r for r in items if r[1] in kept)
    assert summary.not_delivered == {
        "raw_orders": len(orders) - len(in_range),
        "raw_items": len(items) - len(seen["raw_items"]),
    }

    # (2) late rows are 1..3 deliveries late; an item is in every folder its order is in
    late = {}
    for key, (_, index) in seen["raw_orders"].items():
        due = next(i for i, d in enumerate(summary.days) if d >= max(day_of[key], start))
        assert index >= due
        if index > due:
            late[key] = index - due
    assert set(late) == {r.key for r in summary.late}
    assert all(1 <= delay <= 3 for delay in late.values())
    if not summary.skipped:  # then a delivery is a day
        assert all(1 <= (r.delivered - r.event_day).days <= 3 for r in summary.late)
    assert all(day_of[key] >= start for key in late), "the historical load is never late"
    assert {r.key: (r.event_day, r.delivered) for r in summary.late} == {
        k: (day_of[k], summary.days[seen["raw_orders"][k][1]]) for k in late
    }
    for key, (row, _) in seen["raw_items"].items():
        assert copies["raw_items"][key] == copies["raw_orders"][row[1]]

    # (3) the doubled folder: exactly the rows of the folder before it, again, ahead of its own
    x, again = (summary.days.index(d) for d in summary.doubled)
    assert again == x + 1
    for name in EVENTS:
        twice = {key for key, where in copies[name].items() if len(where) > 1}
        assert twice == {key for key, (_, index) in seen[name].items() if index == x}
        assert all(copies[name][key] == [x, again] for key in twice)
        _, rows = read_csv(folders[again] / f"{name}.csv")
        assert [r[0] for r in rows[: len(twice)]] == [r[0] for r in read_csv(folders[x] / f"{name}.csv")[1]]

    # (3) entity snapshots: all in the first folder (the input, byte for byte), then one per declared change
    for name, key_columns in ENTITIES.items():
        assert (folders[0] / f"{name}.csv").read_bytes() == (source / f"{name}.csv").read_bytes()
        header, previous = read_csv(source / f"{name}.csv")
        declared = {c.day: c for c in summary.changes if c.source == name}
        written = [d for d in summary.days[1:] if (out / d.isoformat() / f"{name}.csv").exists()]
        assert written == sorted(declared)
        for day in written:
            change = declared[day]
            _, snapshot = read_csv(out / day.isoformat() / f"{name}.csv")
            key_of = {tuple(r[header.index(k)] for k in key_columns): r for r in previous}
            member = tuple(change.key[k] for k in key_columns)
            if change.kind == "withdrawn":
                assert snapshot == [r for r in previous if r is not key_of[member]]
            else:
                col = header.index(change.column)
                assert key_of[member][col] == change.old != change.new
                assert snapshot == [
                    [change.new if r is key_of[member] and c == col else v for c, v in enumerate(r)] for r in previous
                ]
            previous = snapshot
    changes = {c.kind: c for c in summary.changes}
    assert set(changes) == set(CHANGES)
    price, tax = changes["price_change"], changes["tax_rate_change"]
    assert Decimal(price.new) == (Decimal(price.old) * Decimal("1.1")).quantize(Decimal(1))
    assert Decimal(tax.new) == Decimal(tax.old) + Decimal("0.01")
    assert changes["renamed"].new.split()[0] == changes["renamed"].old.split()[0]
    assert price.day < changes["withdrawn"].day and price.key != changes["withdrawn"].key
    last_products = max(out.glob("*/raw_products.csv"))
    assert changes["withdrawn"].key["sku"] not in [r[0] for r in read_csv(last_products)[1]]
    defect_days = [c.day for c in summary.changes] + [summary.doubled[1]]
    assert len(set(defect_days)) == len(defect_days) and all(first < d <= last for d in defect_days)


def all_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# -- tiny inputs ----------------------------------------------------------------------------------


def test_tiny_input_keeps_every_invariant(tmp_path):
    source = tiny(tmp_path / "in")
    summary = split(source, tmp_path / "out", late_fraction=0.25)
    assert summary.days == tuple(dt.date(2024, 1, 1) + i * DAY for i in range(8))
    assert len(summary.late) == 7  # a quarter of the 28 orders not on the last day
    check_deliveries(source, tmp_path / "out", summary)
    quoted = (tmp_path / "out" / "2024-01-01" / "raw_products.csv").read_bytes()
    assert b'"beef stew, in a jaffle"\r\n' in quoted and b'"mango ""and"" tangerine"' in quoted


def test_start_days_and_skipped_days(tmp_path):
    source = tiny(tmp_path / "in", days=12)
    skipped = dt.date(2024, 1, 5)
    summary = split(source, tmp_path / "out", start=dt.date(2024, 1, 3), days=8, skip_days=[skipped], late_fraction=0.2)
    assert summary.days[0] == dt.date(2024, 1, 3) and summary.days[-1] == dt.date(2024, 1, 10)
    assert skipped not in summary.days and summary.skipped == (skipped,)
    assert not (tmp_path / "out" / "2024-01-05").exists()
    assert summary.not_delivered == {"raw_orders": 8, "raw_items": 12}  # the two days after the range
    first = read_csv(tmp_path / "out" / "2024-01-03" / "raw_orders.csv")[1]
    assert {r[2][:10] for r in first} >= {"2024-01-01", "2024-01-02", "2024-01-03"}  # the historical load
    after_skip = read_csv(tmp_path / "out" / "2024-01-06" / "raw_orders.csv")[1]
    assert {r[2][:10] for r in after_skip} >= {"2024-01-05", "2024-01-06"}
    check_deliveries(source, tmp_path / "out", summary)


def test_defects_on_distinct_days_of_a_short_range(tmp_path):
    source = tiny(tmp_path / "in", days=6)
    summary = split(source, tmp_path / "out")
    days = [c.day for c in summary.changes] + [summary.doubled[1]]
    assert sorted(days) == list(summary.days[1:])
    check_deliveries(source, tmp_path / "out", summary)


def test_place_spreads_defects_at_their_fractions():
    assert drops._place(14) == {"price_change": 4, "tax_rate_change": 6, "double": 7, "renamed": 8, "withdrawn": 10}
    assert sorted(drops._place(drops.MIN_DAYS).values()) == list(range(1, drops.MIN_DAYS))


@given(st.integers(min_value=drops.MIN_DAYS, max_value=2000))
def test_place_is_inside_the_range_on_distinct_days(count):
    slots = drops._place(count)
    assert len(set(slots.values())) == len(slots) and all(1 <= s < count for s in slots.values())
    assert slots["price_change"] < slots["withdrawn"]


def test_same_seed_same_bytes_another_seed_other_late_rows(tmp_path):
    source = tiny(tmp_path / "in", days=10)
    a = split(source, tmp_path / "a", seed=7, late_fraction=0.3)
    b = split(source, tmp_path / "b", seed=7, late_fraction=0.3)
    c = split(source, tmp_path / "c", seed=8, late_fraction=0.3)
    assert all_bytes(tmp_path / "a") == all_bytes(tmp_path / "b")
    assert a == dataclasses.replace(b, out_dir=a.out_dir)
    assert {r.key for r in a.late} != {r.key for r in c.late}
    check_deliveries(source, tmp_path / "c", c)


def test_no_late_rows_with_a_zero_fraction(tmp_path):
    source = tiny(tmp_path / "in")
    summary = split(source, tmp_path / "out", late_fraction=0)
    assert summary.late == ()
    check_deliveries(source, tmp_path / "out", summary)


# -- errors ---------------------------------------------------------------------------------------


def test_missing_input_file_is_named(tmp_path):
    source = tiny(tmp_path / "in")
    (source / "raw_stores.csv").unlink()
    with pytest.raises(DropsError, match=r"in/raw_stores\.csv: missing \(the jafgen layout: raw_orders, "):
        split(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert issubclass(DropsError, UserError)


def test_non_empty_out_needs_force_which_replaces_it(tmp_path):
    source = tiny(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(DropsError, match=r"out: exists and is not empty \(--force replaces it\)"):
        split(source, out)
    assert (out / "old.txt").exists()
    summary = split(source, out, force=True)
    assert not (out / "old.txt").exists() and (out / MANIFEST).exists()
    check_deliveries(source, out, summary)
    (tmp_path / "empty").mkdir()
    split(source, tmp_path / "empty")  # an empty directory is fine without --force
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 5}, r"--days: 5 deliveries from 2024-01-01 to 2024-01-05, the defects need 6"),
        ({"days": 6, "skip_days": [dt.date(2024, 1, 2)]}, r"--days: 5 deliveries from 2024-01-01 to 2024-01-06"),
        ({"skip_days": [dt.date(2024, 1, 8)]}, r"--skip-day 2024-01-08 must be a day from 2024-01-01 to 2024-01-07"),
        ({"skip_days": [dt.date(2023, 12, 31)]}, r"--skip-day 2023-12-31 must be"),
        ({"late_fraction": 1.5}, r"--late-fraction must be between 0 and 1, not 1.5"),
        ({"start": dt.date(2024, 2, 1)}, r"--start 2024-02-01 is after the last event day 2024-01-08: give --days"),
    ],
)
def test_bad_options_are_refused(tmp_path, options, message):
    with pytest.raises(DropsError, match=message):
        split(tiny(tmp_path / "in"), tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_malformed_inputs_are_refused(tmp_path):
    source = tiny(tmp_path / "in")
    with open(source / "raw_items.csv", "a", encoding="utf-8", newline="") as f:
        f.write("ix,nope,JAF-001\r\n")
    with pytest.raises(DropsError, match=r"raw_items\.csv: data row 49: order_id 'nope' is not in raw_orders\.csv"):
        split(source, tmp_path / "out")
    write_csv(source / "raw_orders.csv", ["id", "customer", "ordered_at"], [["o1", "c1", "yesterday"]])
    with pytest.raises(DropsError, match=r"raw_orders\.csv: data row 1: ordered_at 'yesterday' is not a timestamp"):
        split(source, tmp_path / "out")
    write_csv(source / "raw_orders.csv", ["id", "customer"], [["o1", "c1"]])
    with pytest.raises(DropsError, match=r"raw_orders\.csv: no column 'ordered_at' \(columns: id, customer\)"):
        split(source, tmp_path / "out")
    (source / "raw_orders.csv").write_text("id,customer\r\no1\r\n", encoding="utf-8")
    with pytest.raises(DropsError, match=r"raw_orders\.csv: data row 1 has 1 fields, the header 2"):
        split(source, tmp_path / "out")
    write_csv(source / "raw_orders.csv", ["id", "customer", "ordered_at"], [])
    with pytest.raises(DropsError, match=r"raw_orders: no event rows, give --start and --days"):
        split(source, tmp_path / "out")


def test_force_never_deletes_the_source(tmp_path):
    source = tiny(tmp_path / "data" / "in")
    with pytest.raises(DropsError, match=r"holds the source directory .*--force would delete it"):
        split(source, tmp_path / "data", force=True)
    assert (source / "raw_orders.csv").exists()


# -- the sample and the committed delivery set ----------------------------------------------------


@pytest.mark.slow
def test_the_sample_keeps_every_invariant(tmp_path):
    summary = split(SAMPLE, tmp_path / "out")
    assert len(summary.days) == 21 and summary.not_delivered == {"raw_orders": 0, "raw_items": 0}
    check_deliveries(SAMPLE, tmp_path / "out", summary)


@pytest.mark.slow
def test_committed_sample_drops_is_a_fresh_split(tmp_path):
    """data/sample-drops never goes stale: it is what the documented command writes."""
    summary = split(SAMPLE, tmp_path / "fresh", **COMMITTED_OPTIONS)
    assert all_bytes(COMMITTED) == all_bytes(tmp_path / "fresh")
    assert sum(len(b) for b in all_bytes(COMMITTED).values()) < 800_000
    check_deliveries(SAMPLE, COMMITTED, summary)
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert "duckbook drops data/sample data/sample-drops --days 6 --seed 3" in readme


# -- the command ----------------------------------------------------------------------------------


def test_cli_drops_prints_the_summary_and_the_defects(tmp_path):
    source = tiny(tmp_path / "in")
    out = tmp_path / "out"
    args = ["drops", str(source), str(out), "--seed", "1", "--late-fraction", "0.2", "--skip-day", "2024-01-03"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"wrote 7 deliveries 2024-01-01..2024-01-08 to {out} (raw_orders ")
    assert "  2024-01-03: skipped (its rows are in the next folder)" in lines
    assert any(line.startswith("  6 late rows") for line in lines)
    assert sum(" price_change raw_products sku=" in line and " price " in line for line in lines) == 1
    assert json.loads((out / MANIFEST).read_text())["skipped"] == ["2024-01-03"]
    again = CliRunner().invoke(cli.app, args)
    assert again.exit_code == 2 and "error: " in again.output and "exists and is not empty (--force" in again.output
    bad = CliRunner().invoke(cli.app, ["drops", str(source), str(tmp_path / "x"), "--start", "2024-13-01"])
    assert bad.exit_code == 2 and "--start: '2024-13-01' is not a date" in bad.output
