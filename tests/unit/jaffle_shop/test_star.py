"""Star schema: dimensions with an unknown member, the date dimension and the order-line fact."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from decimal import Decimal as D

import ibis
import pytest

from jaffle_shop import star
from tests.unit.helpers import history, rows

BEGIN = dt.datetime(1900, 1, 1)
END = dt.datetime(9999, 12, 31)
SCD = {"valid_from": BEGIN, "valid_to": END, "is_current": True}


def key(natural_key: str) -> str:
    """The dimension surrogate key: md5 of ``natural key - valid_from``."""
    return hashlib.md5(f"{natural_key}-1900-01-01 00:00:00".encode()).hexdigest()


@pytest.fixture
def customers():
    return history(
        ibis.memtable(
            {"customer_id": ["c1", "c2"], "customer_name": ["Ann", "Bob"], "customer_type": ["returning", "new"]}
        )
    )


@pytest.fixture
def products(stg_products):
    return stg_products


@pytest.fixture
def supplies(stg_supplies):
    return stg_supplies


@pytest.fixture
def locations():
    return history(
        ibis.memtable(
            {
                "location_id": ["s1"],
                "location_name": ["Philly"],
                "tax_rate": [0.06],
                "opened_date": [dt.datetime(2016, 9, 1)],
            }
        )
    )


@pytest.fixture
def stg_orders():
    return ibis.memtable(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["c1", "c-missing"],
            "location_id": ["s1", "s-missing"],
            "ordered_at": [dt.datetime(2024, 1, 15), dt.datetime(2024, 2, 3)],
        }
    )


def unknown_rows(dim, key_name):
    return rows(dim.filter(dim[key_name] == star.UNKNOWN_KEY))


# --- dimensions ----------------------------------------------------------------------------


def test_dim_customer(customers):
    assert rows(star.dim_customer(customers), "customer_id") == [
        {"customer_key": key("c1"), "customer_id": "c1", "customer_name": "Ann", **SCD},
        {"customer_key": key("c2"), "customer_id": "c2", "customer_name": "Bob", **SCD},
        {"customer_key": "-1", "customer_id": "unknown", "customer_name": "unknown", **SCD},
    ]


def test_dim_product_sums_supply_cost_and_has_unknown_member(products, supplies):
    assert rows(star.dim_product(products, supplies), "product_id") == [
        {
            "product_key": key("BEV-001"),
            "product_id": "BEV-001",
            "product_name": "tea",
            "product_type": "beverage",
            "product_description": "hot",
            "product_price": D("6.00"),
            "is_food_item": False,
            "is_drink_item": True,
            "supply_cost": D("0.10"),
            **SCD,
        },
        {
            "product_key": key("JAF-001"),
            "product_id": "JAF-001",
            "product_name": "nutellaphone",
            "product_type": "jaffle",
            "product_description": "toasted",
            "product_price": D("11.00"),
            "is_food_item": True,
            "is_drink_item": False,
            "supply_cost": D("1.75"),
            **SCD,
        },
        {
            "product_key": "-1",
            "product_id": "unknown",
            "product_name": "unknown",
            "product_type": None,
            "product_description": None,
            "product_price": None,
            "is_food_item": None,
            "is_drink_item": None,
            "supply_cost": None,
            **SCD,
        },
    ]


def test_dim_location(locations):
    assert rows(star.dim_location(locations), "location_key") == [
        {
            "location_key": "-1",
            "location_id": "unknown",
            "location_name": "unknown",
            "tax_rate": None,
            "opened_date": None,
            **SCD,
        },
        {
            "location_key": key("s1"),
            "location_id": "s1",
            "location_name": "Philly",
            "tax_rate": 0.06,
            "opened_date": dt.datetime(2016, 9, 1),
            **SCD,
        },
    ]


def test_every_dimension_has_exactly_one_unknown_member(customers, products, supplies, locations, stg_orders):
    dims = {
        "customer_key": star.dim_customer(customers),
        "product_key": star.dim_product(products, supplies),
        "location_key": star.dim_location(locations),
    }
    for key_name, dim in dims.items():
        assert len(unknown_rows(dim, key_name)) == 1, key_name
    assert len(rows(star.dim_date(stg_orders).filter(ibis._.date_key == -1))) == 1


def test_dimension_of_an_empty_source_is_only_the_unknown_member(customers):
    empty = customers.filter(ibis.literal(False))
    assert rows(star.dim_customer(empty)) == [
        {"customer_key": "-1", "customer_id": "unknown", "customer_name": "unknown", **SCD}
    ]


# --- dim_date ------------------------------------------------------------------------------


def test_dim_date_covers_whole_months(stg_orders):
    got = rows(star.dim_date(stg_orders).filter(ibis._.date_key != -1), "date_key")
    # orders on 2024-01-15 and 2024-02-03: all of January and February (a leap year)
    assert len(got) == 31 + 29
    assert got[0]["date_day"] == dt.date(2024, 1, 1)
    assert got[-1]["date_day"] == dt.date(2024, 2, 29)
    assert [r["date_key"] for r in got[:3]] == [20240101, 20240102, 20240103]
    assert all(r["date_key"] == int(r["date_day"].strftime("%Y%m%d")) for r in got)
    days = [r["date_day"] for r in got]
    assert all(b - a == dt.timedelta(days=1) for a, b in itertools.pairwise(days))


def test_dim_date_attributes_of_one_day(stg_orders):
    got = rows(star.dim_date(stg_orders).filter(ibis._.date_key == 20240106))
    assert got == [
        {
            "date_key": 20240106,
            "date_day": dt.date(2024, 1, 6),
            "year": 2024,
            "quarter": 1,
            "month": 1,
            "month_name": "January",
            "month_start": dt.date(2024, 1, 1),
            "week_start": dt.date(2024, 1, 1),
            "day_of_month": 6,
            "day_of_week": 6,
            "day_name": "Saturday",
            "is_weekend": True,
        }
    ]


def test_dim_date_unknown_row(stg_orders):
    got = rows(star.dim_date(stg_orders).filter(ibis._.date_key == -1))
    assert got == [
        {
            "date_key": -1,
            "date_day": None,
            "year": None,
            "quarter": None,
            "month": None,
            "month_name": "unknown",
            "month_start": None,
            "week_start": None,
            "day_of_month": None,
            "day_of_week": None,
            "day_name": "unknown",
            "is_weekend": None,
        }
    ]
    assert star.dim_date(stg_orders).schema()["date_key"].is_int64()


# --- fct_order_items -----------------------------------------------------------------------


def test_fct_order_items_never_drops_a_line(customers, products, supplies, locations, stg_orders):
    items = ibis.memtable(
        {
            "order_item_id": ["i1", "i2", "i3", "i4"],
            "order_id": ["o1", "o1", "gone", "o2"],
            "product_id": ["JAF-001", "NOPE", "BEV-001", "BEV-001"],
        }
    )
    fct = star.fct_order_items(
        items,
        stg_orders,
        star.dim_customer(customers),
        star.dim_product(products, supplies),
        star.dim_location(locations),
        star.dim_date(stg_orders),
    )
    assert rows(fct, "order_item_id") == [
        # everything known
        {
            "order_item_id": "i1",
            "order_id": "o1",
            "date_key": 20240115,
            "customer_key": key("c1"),
            "product_key": key("JAF-001"),
            "location_key": key("s1"),
            "ordered_at": dt.datetime(2024, 1, 15),
            "product_price": D("11.00"),
            "supply_cost": D("1.75"),
            "gross_profit": D("9.25"),
        },
        # product missing: unknown product, no measures
        {
            "order_item_id": "i2",
            "order_id": "o1",
            "date_key": 20240115,
            "customer_key": key("c1"),
            "product_key": "-1",
            "location_key": key("s1"),
            "ordered_at": dt.datetime(2024, 1, 15),
            "product_price": None,
            "supply_cost": None,
            "gross_profit": None,
        },
        # order missing: customer, location and date are unknown; the product is still known
        {
            "order_item_id": "i3",
            "order_id": "gone",
            "date_key": -1,
            "customer_key": "-1",
            "product_key": key("BEV-001"),
            "location_key": "-1",
            "ordered_at": None,
            "product_price": D("6.00"),
            "supply_cost": D("0.10"),
            "gross_profit": D("5.90"),
        },
        # order known but its customer and location are not in the dimensions
        {
            "order_item_id": "i4",
            "order_id": "o2",
            "date_key": 20240203,
            "customer_key": "-1",
            "product_key": key("BEV-001"),
            "location_key": "-1",
            "ordered_at": dt.datetime(2024, 2, 3),
            "product_price": D("6.00"),
            "supply_cost": D("0.10"),
            "gross_profit": D("5.90"),
        },
    ]


def test_fct_order_items_every_key_is_in_its_dimension(customers, products, supplies, locations, stg_orders):
    items = ibis.memtable(
        {
            "order_item_id": ["i1", "i2", "i3"],
            "order_id": ["o1", "gone", "o2"],
            "product_id": ["JAF-001", "X", "BEV-001"],
        }
    )
    dims = {
        "customer_key": star.dim_customer(customers),
        "product_key": star.dim_product(products, supplies),
        "location_key": star.dim_location(locations),
        "date_key": star.dim_date(stg_orders),
    }
    fct = rows(star.fct_order_items(items, stg_orders, *dims.values()))
    assert len(fct) == 3
    for key_name, dim in dims.items():
        known = {r[key_name] for r in rows(dim.select(key_name))}
        assert {r[key_name] for r in fct} <= known, key_name


def test_fct_date_key_is_unknown_for_a_day_outside_dim_date(customers, products, supplies, locations, stg_orders):
    items = ibis.memtable({"order_item_id": ["i1"], "order_id": ["o1"], "product_id": ["JAF-001"]})
    march_only = ibis.memtable({"ordered_at": [dt.datetime(2024, 3, 1)]})
    fct = star.fct_order_items(
        items,
        stg_orders,
        star.dim_customer(customers),
        star.dim_product(products, supplies),
        star.dim_location(locations),
        star.dim_date(march_only),
    )
    assert [r["date_key"] for r in rows(fct)] == [-1]
