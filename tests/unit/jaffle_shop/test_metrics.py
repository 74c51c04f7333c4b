"""The Jaffle Shop metric layer on a tiny, hand-computed set of marts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import ibis
import pytest

from jaffle_shop import metrics
from jaffle_shop.metrics import LAYER, TABLES
from tests.unit.helpers import rows

JAN, FEB = dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)


@pytest.fixture
def marts():
    """Two customers, two stores, four orders (o4 has no items), five order lines.

    =====  ========  =====  ==========  ======================================
    order  customer  store  day         items (price / supply cost)
    =====  ========  =====  ==========  ======================================
    o1     c1 (1st)  L1     2024-01-05  jaffle 11.00 / 3.00, drink 6.00 / 1.00
    o2     c2 (1st)  L2     2024-01-20  jaffle 12.00 / 4.00
    o3     c1 (2nd)  L1     2024-02-02  drink 5.00 / 0.50, jaffle 10.00 / 2.50
    o4     c2 (2nd)  L2     2024-02-10  none
    =====  ========  =====  ==========  ======================================
    """
    day = {"o1": dt.datetime(2024, 1, 5), "o2": dt.datetime(2024, 1, 20), "o3": dt.datetime(2024, 2, 2),
           "o4": dt.datetime(2024, 2, 10)}
    orders = ibis.memtable(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "customer_id": ["c1", "c2", "c1", "c2"],
            "location_id": ["L1", "L2", "L1", "L2"],
            "ordered_at": list(day.values()),
            "customer_order_number": [1, 1, 2, 2],
        }
    )
    lines = [  # order, price, cost, food
        ("o1", "11.00", "3.00", True),
        ("o1", "6.00", "1.00", False),
        ("o2", "12.00", "4.00", True),
        ("o3", "5.00", "0.50", False),
        ("o3", "10.00", "2.50", True),
    ]
    order_items = ibis.memtable(
        {
            "order_item_id": [f"i{n}" for n in range(1, len(lines) + 1)],
            "order_id": [o for o, *_ in lines],
            "ordered_at": [day[o] for o, *_ in lines],
            "product_price": [D(p) for _, p, _, _ in lines],
            "supply_cost": [D(c) for _, _, c, _ in lines],
            "is_food_item": [f for *_, f in lines],
            "is_drink_item": [not f for *_, f in lines],
        }
    )
    locations = ibis.memtable({"location_id": ["L1", "L2"], "location_name": ["Philly", "Brooklyn"]})
    return {"orders": orders, "order_items": order_items, "locations": locations}


ALL = ["revenue", "food_revenue", "drink_revenue", "order_cost", "order_count", "new_customer_orders",
       "returning_customer_orders", "average_order_value", "food_revenue_pct", "gross_profit"]


def test_models_add_location_name(marts):
    models = metrics.models(marts)
    assert [(r["order_id"], r["location_name"]) for r in rows(models["orders"], "order_id")] == [
        ("o1", "Philly"), ("o2", "Brooklyn"), ("o3", "Philly"), ("o4", "Brooklyn")
    ]
    assert [(r["order_item_id"], r["location_name"]) for r in rows(models["order_items"], "order_item_id")] == [
        ("i1", "Philly"), ("i2", "Philly"), ("i3", "Brooklyn"), ("i4", "Philly"), ("i5", "Philly")
    ]


def test_monthly_metrics(marts):
    got = rows(LAYER.compute(ALL, metrics.models(marts), grain="month"))
    assert got == [
        {"period": JAN, "revenue": D("29.00"), "food_revenue": D("23.00"), "drink_revenue": D("6.00"),
         "order_cost": D("8.00"), "order_count": 2, "new_customer_orders": 2, "returning_customer_orders": 0,
         "average_order_value": pytest.approx(14.5), "food_revenue_pct": pytest.approx(23 / 29),
         "gross_profit": D("21.00")},
        {"period": FEB, "revenue": D("15.00"), "food_revenue": D("10.00"), "drink_revenue": D("5.00"),
         "order_cost": D("3.00"), "order_count": 2, "new_customer_orders": 0, "returning_customer_orders": 2,
         "average_order_value": pytest.approx(7.5), "food_revenue_pct": pytest.approx(10 / 15),
         "gross_profit": D("12.00")},
    ]


def test_daily_metrics_include_a_day_with_an_order_but_no_items(marts):
    got = rows(LAYER.compute(["revenue", "order_count", "average_order_value", "gross_profit"],
                             metrics.models(marts), grain="day"))
    assert got == [
        {"period": dt.datetime(2024, 1, 5), "revenue": D("17.00"), "order_count": 1,
         "average_order_value": pytest.approx(17.0), "gross_profit": D("13.00")},
        {"period": dt.datetime(2024, 1, 20), "revenue": D("12.00"), "order_count": 1,
         "average_order_value": pytest.approx(12.0), "gross_profit": D("8.00")},
        {"period": dt.datetime(2024, 2, 2), "revenue": D("15.00"), "order_count": 1,
         "average_order_value": pytest.approx(15.0), "gross_profit": D("12.00")},
        {"period": dt.datetime(2024, 2, 10), "revenue": None, "order_count": 1,
         "average_order_value": None, "gross_profit": None},
    ]


def test_monthly_by_location(marts):
    got = rows(LAYER.compute(["revenue", "order_count", "new_customer_orders"], metrics.models(marts),
                             grain="month", by=["location_name"]))
    assert got == [
        {"period": JAN, "location_name": "Brooklyn", "revenue": D("12.00"), "order_count": 1, "new_customer_orders": 1},
        {"period": JAN, "location_name": "Philly", "revenue": D("17.00"), "order_count": 1, "new_customer_orders": 1},
        {"period": FEB, "location_name": "Brooklyn", "revenue": None, "order_count": 1, "new_customer_orders": 0},
        {"period": FEB, "location_name": "Philly", "revenue": D("15.00"), "order_count": 1, "new_customer_orders": 0},
    ]


def test_every_metric_can_be_sliced_by_location():
    assert {m.name: LAYER.dimensions(m.name) for m in LAYER.metrics} == {n: {"location_name"} for n in ALL}


def test_published_tables_compute(marts):
    models = metrics.models(marts)
    assert TABLES == {"daily": ("day", ()), "monthly": ("month", ()), "monthly_by_location": ("month", ("location_name",))}
    counts = {name: len(rows(LAYER.compute(ALL, models, grain=grain, by=by))) for name, (grain, by) in TABLES.items()}
    assert counts == {"daily": 4, "monthly": 2, "monthly_by_location": 4}
