"""Marts on tiny in-memory staging tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import ibis
import pytest

from jaffle_shop import marts
from tests.unit.helpers import history, rows


def stg_orders_table(orders: list[tuple[str, str, dt.datetime, str, str, str]]):
    """(order_id, customer_id, ordered_at, subtotal, tax_paid, order_total) -> stg_orders."""
    ids, customers, at, sub, tax, total = zip(*orders, strict=True)
    return ibis.memtable(
        {
            "order_id": list(ids),
            "location_id": ["s1"] * len(ids),
            "customer_id": list(customers),
            "subtotal": [D(v) for v in sub],
            "tax_paid": [D(v) for v in tax],
            "order_total": [D(v) for v in total],
            "ordered_at": list(at),
        }
    )


@pytest.fixture
def stg_orders():
    return stg_orders_table(
        [
            ("o1", "c1", dt.datetime(2024, 1, 1), "17.00", "1.02", "18.02"),
            ("o2", "c1", dt.datetime(2024, 1, 5), "0.00", "0.00", "0.00"),
        ]
    )


@pytest.fixture
def stg_order_items():
    return ibis.memtable(
        {"order_item_id": ["i1", "i2"], "order_id": ["o1", "o1"], "product_id": ["JAF-001", "BEV-001"]}
    )


# --- order_items ---------------------------------------------------------------------------


def test_order_items_one_food_one_drink_with_summed_supply_cost(
    stg_order_items, stg_orders, stg_products, stg_supplies
):
    got = rows(marts.order_items(stg_order_items, stg_orders, stg_products, stg_supplies), "order_item_id")
    assert got == [
        {
            "order_item_id": "i1",
            "order_id": "o1",
            "product_id": "JAF-001",
            "ordered_at": dt.datetime(2024, 1, 1),
            "product_name": "nutellaphone",
            "product_price": D("11.00"),
            "is_food_item": True,
            "is_drink_item": False,
            "supply_cost": D("1.75"),
        },
        {
            "order_item_id": "i2",
            "order_id": "o1",
            "product_id": "BEV-001",
            "ordered_at": dt.datetime(2024, 1, 1),
            "product_name": "tea",
            "product_price": D("6.00"),
            "is_food_item": False,
            "is_drink_item": True,
            "supply_cost": D("0.10"),
        },
    ]


def test_order_items_keeps_lines_with_unknown_product_or_order(stg_orders, stg_products, stg_supplies):
    items = ibis.memtable(
        {"order_item_id": ["i1", "i2"], "order_id": ["o1", "gone"], "product_id": ["NOPE", "BEV-001"]}
    )
    got = rows(marts.order_items(items, stg_orders, stg_products, stg_supplies), "order_item_id")
    assert [
        (r["order_item_id"], r["ordered_at"], r["product_name"], r["product_price"], r["supply_cost"]) for r in got
    ] == [
        ("i1", dt.datetime(2024, 1, 1), None, None, None),
        ("i2", None, "tea", D("6.00"), D("0.10")),
    ]


# --- orders --------------------------------------------------------------------------------


def test_orders_with_items_and_without_items(stg_order_items, stg_orders, stg_products, stg_supplies):
    items = marts.order_items(stg_order_items, stg_orders, stg_products, stg_supplies)
    got = rows(marts.orders(stg_orders, items), "order_id")
    assert got == [
        {
            "order_id": "o1",
            "location_id": "s1",
            "customer_id": "c1",
            "subtotal": D("17.00"),
            "tax_paid": D("1.02"),
            "order_total": D("18.02"),
            "ordered_at": dt.datetime(2024, 1, 1),
            "order_cost": D("1.85"),
            "order_items_subtotal": D("17.00"),
            "count_order_items": 2,
            "count_food_items": 1,
            "count_drink_items": 1,
            "is_food_order": True,
            "is_drink_order": True,
            "customer_order_number": 1,
        },
        # no items: the aggregates and the flags are NULL (a left join), the order is still numbered
        {
            "order_id": "o2",
            "location_id": "s1",
            "customer_id": "c1",
            "subtotal": D("0.00"),
            "tax_paid": D("0.00"),
            "order_total": D("0.00"),
            "ordered_at": dt.datetime(2024, 1, 5),
            "order_cost": None,
            "order_items_subtotal": None,
            "count_order_items": None,
            "count_food_items": None,
            "count_drink_items": None,
            "is_food_order": None,
            "is_drink_order": None,
            "customer_order_number": 2,
        },
    ]


def test_orders_drink_only_order_is_not_a_food_order(stg_orders, stg_products, stg_supplies):
    items = ibis.memtable({"order_item_id": ["i1"], "order_id": ["o1"], "product_id": ["BEV-001"]})
    order_items = marts.order_items(items, stg_orders, stg_products, stg_supplies)
    got = rows(marts.orders(stg_orders, order_items).filter(ibis._.order_id == "o1"))
    assert (got[0]["count_food_items"], got[0]["is_food_order"], got[0]["is_drink_order"]) == (0, False, True)


def test_customer_order_number_by_day_then_order_id():
    stg = stg_orders_table(
        [
            # c1: o9 is earlier by day, so it is first although its id sorts last
            ("o1", "c1", dt.datetime(2024, 1, 2), "1", "0", "1"),
            ("o9", "c1", dt.datetime(2024, 1, 1), "1", "0", "1"),
            # c2: two orders on the same day: the tie is broken by order_id
            ("o4", "c2", dt.datetime(2024, 1, 3), "1", "0", "1"),
            ("o3", "c2", dt.datetime(2024, 1, 3), "1", "0", "1"),
        ]
    )
    no_items = ibis.memtable(
        {
            "order_item_id": ["x"],
            "order_id": ["none"],
            "product_price": [D("1")],
            "supply_cost": [D("1")],
            "is_food_item": [True],
            "is_drink_item": [False],
        }
    )
    got = rows(marts.orders(stg, no_items).select("customer_id", "order_id", "customer_order_number"), "order_id")
    assert got == [
        {"customer_id": "c1", "order_id": "o1", "customer_order_number": 2},
        {"customer_id": "c2", "order_id": "o3", "customer_order_number": 1},
        {"customer_id": "c2", "order_id": "o4", "customer_order_number": 2},
        {"customer_id": "c1", "order_id": "o9", "customer_order_number": 1},
    ]


# --- customers -----------------------------------------------------------------------------


def test_customers_returning_new_and_without_orders():
    stg_customers = history(ibis.memtable({"customer_id": ["c1", "c2", "c3"], "customer_name": ["Ann", "Bob", "Cy"]}))
    orders = stg_orders_table(
        [
            ("o1", "c1", dt.datetime(2024, 1, 1), "10.00", "0.60", "10.60"),
            ("o2", "c1", dt.datetime(2024, 2, 1), "5.00", "0.30", "5.30"),
            ("o3", "c2", dt.datetime(2024, 1, 15), "3.00", "0.18", "3.18"),
        ]
    )
    got = rows(marts.customers(stg_customers, orders), "customer_id")
    assert got == [
        {
            "customer_id": "c1",
            "customer_name": "Ann",
            "count_lifetime_orders": 2,
            "first_ordered_at": dt.datetime(2024, 1, 1),
            "last_ordered_at": dt.datetime(2024, 2, 1),
            "lifetime_spend_pretax": D("15.00"),
            "lifetime_tax_paid": D("0.90"),
            "lifetime_spend": D("15.90"),
            "customer_type": "returning",
        },
        {
            "customer_id": "c2",
            "customer_name": "Bob",
            "count_lifetime_orders": 1,
            "first_ordered_at": dt.datetime(2024, 1, 15),
            "last_ordered_at": dt.datetime(2024, 1, 15),
            "lifetime_spend_pretax": D("3.00"),
            "lifetime_tax_paid": D("0.18"),
            "lifetime_spend": D("3.18"),
            "customer_type": "new",
        },
        {
            "customer_id": "c3",
            "customer_name": "Cy",
            "count_lifetime_orders": None,
            "first_ordered_at": None,
            "last_ordered_at": None,
            "lifetime_spend_pretax": None,
            "lifetime_tax_paid": None,
            "lifetime_spend": None,
            "customer_type": "new",
        },
    ]


# --- pass-through marts --------------------------------------------------------------------


def test_products_locations_supplies_are_the_latest_versions(stg_products, stg_supplies):
    locations = history(ibis.memtable({"location_id": ["s1"], "location_name": ["Philly"]}))
    assert rows(marts.products(stg_products), "product_id") == rows(
        stg_products.drop("valid_from", "valid_to", "is_current"), "product_id"
    )
    assert rows(marts.supplies(stg_supplies), "supply_uuid") == rows(
        stg_supplies.drop("valid_from", "valid_to", "is_current"), "supply_uuid"
    )
    assert rows(marts.locations(locations)) == [{"location_id": "s1", "location_name": "Philly"}]


def test_marts_take_the_latest_version_of_a_member_with_history():
    versions = ibis.memtable(
        {
            "location_id": ["s1", "s1", "s2"],
            "tax_rate": [0.06, 0.07, 0.05],
            "valid_from": [dt.datetime(1900, 1, 1), dt.datetime(2024, 3, 1), dt.datetime(1900, 1, 1)],
            "valid_to": [dt.datetime(2024, 3, 1), dt.datetime(9999, 12, 31), dt.datetime(2024, 4, 1)],
            "is_current": [False, True, False],  # s2 was deleted on 2024-04-01: it keeps its last version
        }
    )
    assert rows(marts.locations(versions), "location_id") == [
        {"location_id": "s1", "tax_rate": 0.07},
        {"location_id": "s2", "tax_rate": 0.05},
    ]
