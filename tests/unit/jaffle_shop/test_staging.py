"""Staging models on tiny in-memory raw tables."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal as D

import ibis
import ibis.expr.datatypes as idt
import pyarrow as pa

from jaffle_shop.staging import (
    cents_to_dollars,
    stg_customers,
    stg_locations,
    stg_order_items,
    stg_orders,
    stg_products,
    stg_supplies,
)
from tests.unit.helpers import rows


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# --- cents_to_dollars ---------------------------------------------------------------------


def test_cents_to_dollars_is_decimal_16_2():
    t = ibis.memtable({"c": [1]})
    assert cents_to_dollars(t.c).type() == idt.Decimal(16, 2)


def test_cents_to_dollars_values():
    t = ibis.memtable(pa.table({"c": pa.array([0, 1, 99, 100, 1005, 123456, -250, None], pa.int64())}))
    got = [r["d"] for r in rows(t.select(d=cents_to_dollars(t.c)))]
    assert got == [D("0.00"), D("0.01"), D("0.99"), D("1.00"), D("10.05"), D("1234.56"), D("-2.50"), None]


def test_cents_to_dollars_rounds_fractional_cents_to_two_places():
    t = ibis.memtable({"c": [1234.4, 1234.56, 1234.5]})
    got = [r["d"] for r in rows(t.select(d=cents_to_dollars(t.c)))]
    assert got == [D("12.34"), D("12.35"), D("12.35")]
    assert all(d.as_tuple().exponent == -2 for d in got)


# --- the staging models --------------------------------------------------------------------


def test_stg_customers_renames():
    raw = ibis.memtable({"id": ["c1", "c2"], "name": ["Ann", "Bob"]})
    assert rows(stg_customers(raw), "customer_id") == [
        {"customer_id": "c1", "customer_name": "Ann"},
        {"customer_id": "c2", "customer_name": "Bob"},
    ]


def test_stg_orders_truncates_ordered_at_and_keeps_cents():
    raw = ibis.memtable(
        {
            "id": ["o1"],
            "customer": ["c1"],
            "ordered_at": [dt.datetime(2024, 3, 5, 17, 42, 9)],
            "store_id": ["s1"],
            "subtotal": [1700],
            "tax_paid": [105],
            "order_total": [1805],
        }
    )
    assert rows(stg_orders(raw)) == [
        {
            "order_id": "o1",
            "location_id": "s1",
            "customer_id": "c1",
            "subtotal_cents": 1700,
            "tax_paid_cents": 105,
            "order_total_cents": 1805,
            "subtotal": D("17.00"),
            "tax_paid": D("1.05"),
            "order_total": D("18.05"),
            "ordered_at": dt.datetime(2024, 3, 5),
        }
    ]


def test_stg_orders_money_types():
    raw = ibis.memtable(
        {
            "id": ["o1"],
            "customer": ["c1"],
            "ordered_at": [dt.datetime(2024, 1, 1)],
            "store_id": ["s1"],
            "subtotal": [1],
            "tax_paid": [1],
            "order_total": [2],
        }
    )
    schema = stg_orders(raw).schema()
    for col in ("subtotal", "tax_paid", "order_total"):
        assert schema[col] == idt.Decimal(16, 2)
    assert schema["ordered_at"].is_timestamp()


def test_stg_order_items_renames():
    raw = ibis.memtable({"id": ["i1"], "order_id": ["o1"], "sku": ["JAF-001"]})
    assert rows(stg_order_items(raw)) == [{"order_item_id": "i1", "order_id": "o1", "product_id": "JAF-001"}]


def test_stg_products_flags_and_price():
    raw = ibis.memtable(
        {
            "sku": ["BEV-001", "JAF-001", "ZZZ-001"],
            "name": ["tea", "jaffle", "mystery"],
            "type": ["beverage", "jaffle", None],
            "price": [600, 1100, 5],
            "description": ["hot", "toasted", ""],
        }
    )
    assert rows(stg_products(raw), "product_id") == [
        {
            "product_id": "BEV-001",
            "product_name": "tea",
            "product_type": "beverage",
            "product_description": "hot",
            "product_price": D("6.00"),
            "is_food_item": False,
            "is_drink_item": True,
        },
        {
            "product_id": "JAF-001",
            "product_name": "jaffle",
            "product_type": "jaffle",
            "product_description": "toasted",
            "product_price": D("11.00"),
            "is_food_item": True,
            "is_drink_item": False,
        },
        {
            "product_id": "ZZZ-001",
            "product_name": "mystery",
            "product_type": None,
            "product_description": "",
            "product_price": D("0.05"),
            "is_food_item": False,
            "is_drink_item": False,
        },
    ]


def test_stg_locations_truncates_opened_date():
    raw = ibis.memtable(
        {"id": ["s1"], "name": ["Philadelphia"], "opened_at": [dt.datetime(2016, 9, 1, 8, 30)], "tax_rate": [0.06]}
    )
    assert rows(stg_locations(raw)) == [
        {"location_id": "s1", "location_name": "Philadelphia", "tax_rate": 0.06, "opened_date": dt.datetime(2016, 9, 1)}
    ]


def test_stg_supplies_surrogate_key_and_cost():
    raw = ibis.memtable(
        {
            "id": ["SUP-001", "SUP-001", "SUP-002", None],
            "name": ["bread", "bread", "cup", "ghost"],
            "cost": [300, 300, 25, 1],
            "perishable": [True, True, False, None],
            "sku": ["JAF-001", "JAF-002", None, "JAF-001"],
        }
    )
    null = "_dbt_utils_surrogate_key_null_"
    got = rows(stg_supplies(raw), "supply_name", "product_id")
    assert got == [
        {
            "supply_uuid": md5("SUP-001-JAF-001"),
            "supply_id": "SUP-001",
            "product_id": "JAF-001",
            "supply_name": "bread",
            "supply_cost": D("3.00"),
            "is_perishable_supply": True,
        },
        {
            "supply_uuid": md5("SUP-001-JAF-002"),
            "supply_id": "SUP-001",
            "product_id": "JAF-002",
            "supply_name": "bread",
            "supply_cost": D("3.00"),
            "is_perishable_supply": True,
        },
        {
            "supply_uuid": md5(f"SUP-002-{null}"),
            "supply_id": "SUP-002",
            "product_id": None,
            "supply_name": "cup",
            "supply_cost": D("0.25"),
            "is_perishable_supply": False,
        },
        {
            "supply_uuid": md5(f"{null}-JAF-001"),
            "supply_id": None,
            "product_id": "JAF-001",
            "supply_name": "ghost",
            "supply_cost": D("0.01"),
            "is_perishable_supply": None,
        },
    ]
