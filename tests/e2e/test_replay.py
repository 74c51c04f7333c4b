"""The invariant of daily deliveries: replaying them day by day gives exactly the same raw tables,
staging models, marts, facts, dimensions and metric tables as one catch-up run over all of them,
and as a full refresh; running the last date again changes nothing.

A property test draws delivery plans over a small synthetic shop (late orders, orders delivered
again, skipped days, entity snapshots with changes, event files in shuffled order); a
deterministic test replays the committed six-day set ``data/sample-drops`` and checks the SCD2
history of the defects its ``deliveries.json`` lists.

Each pipeline run costs seconds, so the property test runs few examples, derandomized (the same
plans in CI every time). ``DUCKBOOK_REPLAY_EXAMPLES=<n>`` runs ``n`` random plans instead.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.pipeline import contents, run_pipeline
from tests.replay_support import ENTITIES, Row, assert_same, rows_of, small_shop, write_csv

pytestmark = pytest.mark.slow

FIRST = dt.date(2019, 7, 22)
MAX_DAYS = 4
#: two days of orders before the first delivery (its historical load), then one day per delivery
SHOP = small_shop(FIRST - dt.timedelta(days=2), MAX_DAYS + 2)
STORE, OTHER_STORE = SHOP.entities["raw_stores"][0]["id"], SHOP.entities["raw_stores"][1]["id"]
CUSTOMER = SHOP.entities["raw_customers"][0]["id"]
SUPPLY = (SHOP.entities["raw_supplies"][0]["id"], SHOP.entities["raw_supplies"][0]["sku"])
PRICED, WITHDRAWN = "JAF-002", "BEV-002"


def _set(source: str, match: Callable[[Row], bool], **values: str) -> Callable[[dict[str, list[Row]]], None]:
    def change(state: dict[str, list[Row]]) -> None:
        state[source] = [{**r, **values} if match(r) else r for r in state[source]]

    return change


def _withdraw(state: dict[str, list[Row]]) -> None:
    state["raw_products"] = [r for r in state["raw_products"] if r["sku"] != WITHDRAWN]


#: entity changes a plan can deliver: (source whose snapshot carries it, how the snapshot changes)
CHANGES: dict[str, tuple[str, Callable[[dict[str, list[Row]]], None]]] = {
    "price_change": ("raw_products", _set("raw_products", lambda r: r["sku"] == PRICED, price="1210")),
    "tax_rate_change": ("raw_stores", _set("raw_stores", lambda r: r["id"] == STORE, tax_rate="0.07")),
    "store_renamed": ("raw_stores", _set("raw_stores", lambda r: r["id"] == OTHER_STORE, name="Brooklyn Heights")),
    "supply_cost_change": ("raw_supplies", _set("raw_supplies", lambda r: (r["id"], r["sku"]) == SUPPLY, cost="9")),
    "product_withdrawn": ("raw_products", _withdraw),
    "customer_renamed": ("raw_customers", _set("raw_customers", lambda r: r["id"] == CUSTOMER, name="Ann Once")),
    "customer_renamed_again": ("raw_customers", _set("raw_customers", lambda r: r["id"] == CUSTOMER, name="Ann Twice")),
    "supplies_resent": ("raw_supplies", lambda state: None),  # the same snapshot again: no new version
}


@dataclasses.dataclass(frozen=True)
class Plan:
    """How the shop's data is delivered over ``days`` days from :data:`FIRST` (day indexes)."""

    days: int
    skipped: tuple[int, ...]  # days without a folder (never the first or the last)
    late: dict[int, int]  # order index -> days late (an older order: after the first day)
    resent: dict[int, tuple[int, bool]]  # order index -> (days after its delivery it comes again, altered)
    changes: dict[str, int]  # CHANGES entry -> day of the snapshot carrying it
    shuffle: int | None  # seed shuffling the rows of every event file (None: in order)
    header_only: bool  # a day without event rows: header-only event files (else none)

    @property
    def dates(self) -> list[dt.date]:
        return [FIRST + dt.timedelta(days=n) for n in range(self.days)]


def _index(order: int) -> int:
    """The day index of an order (negative: before the first delivery)."""
    return (SHOP.orders[order].day - FIRST).days


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    days = draw(st.integers(2, MAX_DAYS))
    skipped = tuple(n for n in range(1, days - 1) if draw(st.booleans()))
    folders = [n for n in range(days) if n not in skipped]
    orders = [i for i in range(len(SHOP.orders)) if _index(i) < days]
    late = draw(
        st.dictionaries(st.sampled_from([i for i in orders if _index(i) < days - 1]), st.integers(1, 3), max_size=6)
    )
    resent = draw(st.dictionaries(st.sampled_from(orders), st.tuples(st.integers(1, 3), st.booleans()), max_size=4))
    changes = {}
    for name in CHANGES:
        if name == "customer_renamed_again":
            first = changes.get("customer_renamed")
            later = [n for n in folders if first is not None and n > first]
            day = draw(st.none() | st.sampled_from(later)) if later else None
        else:
            day = draw(st.none() | st.sampled_from(folders[1:]))
        if day is not None:
            changes[name] = day
    shuffle = draw(st.none() | st.integers(0, 2**16))
    return Plan(days, skipped, late, resent, changes, shuffle, draw(st.booleans()))


def write_deliveries(plan: Plan, out: Path) -> dict[str, object]:
    """Write the plan's dated folders into ``out``; return what they deliver (the oracle): the
    orders delivered with their first-seen customer, and their items' ids."""
    folders = [n for n in range(plan.days) if n not in plan.skipped]

    def folder(n: int) -> int:  # the delivery that carries day n's rows
        return next((f for f in folders if f >= n), folders[-1])

    events: dict[int, list[tuple[Row, tuple[Row, ...]]]] = collections.defaultdict(list)
    delivered = {}
    for i, order in enumerate(SHOP.orders):
        if _index(i) >= plan.days:
            continue  # placed after the last delivery
        day = folder(max(_index(i), 0) + plan.late.get(i, 0))
        events[day].append((order.row, order.items))
        delivered[order.row["id"]] = order.row["customer"]
        if i in plan.resent:
            after, altered = plan.resent[i]
            again = folder(day + after)
            if again != day:  # never twice in one file: that is quarantined as a duplicate key
                row, items = order.row, order.items
                if altered:  # another customer and other products: the first delivery must win
                    row = {**row, "customer": SHOP.entities["raw_customers"][1]["id"]}
                    items = tuple({**item, "sku": PRICED} for item in items)
                events[again].append((row, items))
    state = {source: [dict(r) for r in SHOP.entities[source]] for source in ENTITIES}
    for n in folders:
        path = out / (FIRST + dt.timedelta(days=n)).isoformat()
        path.mkdir(parents=True)
        orders = [row for row, _ in events[n]]
        items = [item for _, its in events[n] for item in its]
        if plan.shuffle is not None:
            rng = random.Random(plan.shuffle + n)
            rng.shuffle(orders)
            rng.shuffle(items)
        if orders or plan.header_only:
            write_csv(path / "raw_orders.csv", "raw_orders", orders)
            write_csv(path / "raw_items.csv", "raw_items", items)
        changed = {source for source, _ in CHANGES.values()} if n == 0 else set()
        for name, day in sorted(plan.changes.items()):
            if day == n:
                source, change = CHANGES[name]
                change(state)
                changed.add(source)
        for source in sorted(changed):
            write_csv(path / f"{source}.csv", source, state[source])
    items = {item["id"] for o in SHOP.orders if o.row["id"] in delivered for item in o.items}
    return {"orders": delivered, "items": items}


RICH = Plan(  # every defect at once: an explicit example whatever the draws are
    days=4,
    skipped=(1,),
    late={20: 1, 21: 3, 30: 2, 45: 1},
    resent={3: (1, True), 25: (2, False), 40: (1, True)},
    changes={
        "price_change": 2,
        "tax_rate_change": 3,
        "store_renamed": 2,
        "supply_cost_change": 2,
        "product_withdrawn": 3,
        "customer_renamed": 2,
        "customer_renamed_again": 3,
        "supplies_resent": 3,
    },
    shuffle=11,
    header_only=False,
)
EXAMPLES = int(os.environ.get("DUCKBOOK_REPLAY_EXAMPLES") or 0)


@settings(
    max_examples=EXAMPLES or 3,
    derandomize=not EXAMPLES,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: every example costs several runs
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
@example(plan=RICH)
def test_day_by_day_replay_equals_one_catch_up_and_a_full_refresh(tmp_path: Path, plan: Plan) -> None:
    base = Path(tempfile.mkdtemp(dir=tmp_path))  # one tmp_path serves every example
    try:
        source, replayed, caught_up = base / "drops", base / "replayed", base / "caught_up"
        expected = write_deliveries(plan, source)
        last = plan.dates[-1]
        for day in plan.dates:  # skipped days too: a run without a folder to ingest
            run_pipeline(replayed, source, day)
        day_by_day = contents(replayed)
        _check_oracle(plan, day_by_day, expected)

        run_pipeline(caught_up, source, last)
        assert_same(day_by_day, contents(caught_up), "day-by-day replay vs one catch-up run")
        run_pipeline(replayed, source, last)
        assert_same(day_by_day, contents(replayed), "day-by-day replay vs the last date run again")
        run_pipeline(replayed, source, last, full_refresh=True)
        assert_same(day_by_day, contents(replayed), "day-by-day replay vs a full refresh")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _check_oracle(plan: Plan, found: dict[str, list[tuple]], expected: dict[str, object]) -> None:
    """The replay holds what the plan delivered: every order once with its first-seen values,
    one SCD2 version per change, the withdrawn product without a current version."""
    orders = {r["id"]: r["customer"] for r in rows_of(found, "raw.raw_orders")}
    assert orders == expected["orders"], "raw_orders: each delivered order once, as first delivered"
    assert {r["id"] for r in rows_of(found, "raw.raw_items")} == expected["items"]
    assert len(found["marts.orders"]) == len(orders) and len(found["marts.fct_order_items"]) == len(expected["items"])

    def versions(table: str, key: str, value: str) -> list[dict[str, object]]:
        return sorted((r for r in rows_of(found, table) if r[key] == value), key=lambda r: r["valid_from"])

    renames = sum(name in plan.changes for name in ("customer_renamed", "customer_renamed_again"))
    assert len(versions("staging.stg_customers", "customer_id", CUSTOMER)) == 1 + renames
    assert len(versions("marts.dim_customer", "customer_id", CUSTOMER)) == 1 + renames
    priced = versions("marts.dim_product", "product_id", PRICED)
    assert len(priced) == 1 + ("price_change" in plan.changes)
    if "price_change" in plan.changes:
        change_day = dt.datetime.combine(plan.dates[plan.changes["price_change"]], dt.time())
        assert priced[1]["valid_from"] == change_day and str(priced[1]["product_price"]) == "12.10"
    supply = [r for r in versions("staging.stg_supplies", "supply_id", SUPPLY[0]) if r["product_id"] == SUPPLY[1]]
    assert len(supply) == 1 + ("supply_cost_change" in plan.changes)
    withdrawn = versions("staging.stg_products", "product_id", WITHDRAWN)
    assert [v["is_current"] for v in withdrawn] == ["product_withdrawn" not in plan.changes]


# -- the committed six-day set ------------------------------------------------------------------

DROPS = Path(__file__).resolve().parents[2] / "data" / "sample-drops"
MANIFEST = json.loads((DROPS / "deliveries.json").read_text(encoding="utf-8"))
DAYS = [dt.date.fromisoformat(d) for d in MANIFEST["days"]]
CHANGED = {c["kind"]: c for c in MANIFEST["changes"]}
DIMENSIONS = {
    "marts.dim_customer": "customer_id",
    "marts.dim_product": "product_id",
    "marts.dim_location": "location_id",
}
HISTORIES = {
    "staging.stg_customers": "customer_id",
    "staging.stg_products": "product_id",
    "staging.stg_locations": "location_id",
    "staging.stg_supplies": "supply_uuid",
}


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[tuple]]]:
    """The sample drops replayed day by day, caught up in one run, and the replay fully refreshed."""
    base = tmp_path_factory.mktemp("sample-drops")
    for day in DAYS:
        run_pipeline(base / "replayed", DROPS, day)
    replayed = contents(base / "replayed")
    run_pipeline(base / "caught_up", DROPS, DAYS[-1])
    caught_up = contents(base / "caught_up")
    run_pipeline(base / "replayed", DROPS, DAYS[-1], full_refresh=True)
    return {"replayed": replayed, "caught_up": caught_up, "refreshed": contents(base / "replayed")}


def _day(change: str) -> dt.datetime:
    return dt.datetime.fromisoformat(CHANGED[change]["day"])


def _versions(drops: dict[str, dict[str, list[tuple]]], table: str, key: str, value: str) -> list[dict[str, object]]:
    found = [r for r in rows_of(drops["replayed"], table) if r[key] == value]
    return sorted(found, key=lambda r: r["valid_from"])


def test_sample_drops_replay_equals_catch_up_and_full_refresh(drops):
    assert_same(drops["replayed"], drops["caught_up"], "sample-drops: day-by-day replay vs one catch-up run")
    assert_same(drops["replayed"], drops["refreshed"], "sample-drops: day-by-day replay vs a full refresh")


def test_the_price_change_gives_two_versions_the_second_from_its_day(drops):
    change = CHANGED["price_change"]
    sku = change["key"]["sku"]
    for table in ("staging.stg_products", "marts.dim_product"):
        old, new = _versions(drops, table, "product_id", sku)
        assert (old["valid_to"], old["is_current"]) == (_day("price_change"), False), table
        assert (new["valid_from"], new["is_current"]) == (_day("price_change"), True), table
        assert [old["product_price"] * 100, new["product_price"] * 100] == [int(change["old"]), int(change["new"])]


def test_the_tax_rate_change_gives_two_versions_of_the_store(drops):
    change = CHANGED["tax_rate_change"]
    old, new = _versions(drops, "marts.dim_location", "location_id", change["key"]["id"])
    assert [old["tax_rate"], new["tax_rate"]] == [float(change["old"]), float(change["new"])]
    assert old["valid_to"] == new["valid_from"] == _day("tax_rate_change") and new["is_current"]


def test_the_renamed_customer_has_two_versions(drops):
    change = CHANGED["renamed"]
    old, new = _versions(drops, "marts.dim_customer", "customer_id", change["key"]["id"])
    assert [old["customer_name"], new["customer_name"]] == [change["old"], change["new"]]
    assert old["valid_to"] == new["valid_from"] == _day("renamed") and new["is_current"]


def test_the_withdrawn_product_has_no_current_version_but_keeps_its_last_attributes(drops):
    sku = CHANGED["withdrawn"]["key"]["sku"]
    for table in ("staging.stg_products", "marts.dim_product"):
        versions = _versions(drops, table, "product_id", sku)
        assert versions and not any(v["is_current"] for v in versions), table
        assert versions[-1]["valid_to"] == _day("withdrawn"), table
    (product,) = [r for r in rows_of(drops["replayed"], "marts.products") if r["product_id"] == sku]
    last = _versions(drops, "staging.stg_products", "product_id", sku)[-1]
    assert {k: product[k] for k in product} == {k: last[k] for k in product}


def test_every_dimension_and_history_has_one_current_version_per_key(drops):
    withdrawn = CHANGED["withdrawn"]["key"]["sku"]
    for table, key in {**DIMENSIONS, **HISTORIES}.items():
        rows = rows_of(drops["replayed"], table)
        current = collections.Counter(r[key] for r in rows if r["is_current"])
        keys = {r[key] for r in rows} - ({withdrawn} if key == "product_id" else set())
        assert set(current) == keys and set(current.values()) == {1}, table


def test_facts_carry_the_price_in_force_and_the_marts_the_current_price(drops):
    change = CHANGED["price_change"]
    sku, day = change["key"]["sku"], _day("price_change")
    old, new = int(change["old"]), int(change["new"])
    keys = {r["product_key"] for r in rows_of(drops["replayed"], "marts.dim_product") if r["product_id"] == sku}
    facts = [r for r in rows_of(drops["replayed"], "marts.fct_order_items") if r["product_key"] in keys]
    before = {r["product_price"] * 100 for r in facts if r["ordered_at"] < day}
    after = {r["product_price"] * 100 for r in facts if r["ordered_at"] >= day}
    assert (before, after) == ({old}, {new})
    items = [r for r in rows_of(drops["replayed"], "marts.order_items") if r["product_id"] == sku]
    assert len(items) == len(facts) and {r["product_price"] * 100 for r in items} == {new}
