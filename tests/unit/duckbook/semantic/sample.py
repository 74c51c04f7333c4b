"""A small shop for the semantic layer tests: three tables, a layer over them, helpers.

Every expected row in the tests is worked out by hand from the tables below.
"""

from __future__ import annotations

import copy
import datetime as dt

import ibis

from duckbook.semantic import SemanticLayer
from tests.unit.helpers import rows

T, D = dt.datetime, dt.date

# Seven orders over Dec 2023 .. Apr 2024; February has none (a gap). Order 4 has no channel.
#
# ==  ========  ========  ================  =====  =======
# id  customer  location  ordered_at        total  channel
# ==  ========  ========  ================  =====  =======
# 1   c1        L1        2023-12-31 23:30  25.0   app
# 2   c1        L1        2024-01-03 10:00  10.0   web
# 3   c2        L2        2024-01-15 00:00  20.0   app
# 4   c1        L1        2024-01-31 23:00   5.0   (null)
# 5   c3        L1        2024-03-02 12:00  40.0   web
# 6   c2        L2        2024-03-20 08:00  15.0   web
# 7   c1        L1        2024-04-01 00:00  30.0   app
# ==  ========  ========  ================  =====  =======
#
# Monthly order totals: Dec 25, Jan 35, Mar 55, Apr 30 (145 in all).
# Locations: L1 Brooklyn, L2 Chicago, L3 Denver (no orders).
# Items (price): order 2: 6 + 4, order 3: 20, order 5: 25 + 15, order 6: 15; orders 1, 4, 7 have none.
ORDERS = [
    (1, "c1", "L1", T(2023, 12, 31, 23, 30), 25.0, "app"),
    (2, "c1", "L1", T(2024, 1, 3, 10), 10.0, "web"),
    (3, "c2", "L2", T(2024, 1, 15), 20.0, "app"),
    (4, "c1", "L1", T(2024, 1, 31, 23), 5.0, None),
    (5, "c3", "L1", T(2024, 3, 2, 12), 40.0, "web"),
    (6, "c2", "L2", T(2024, 3, 20, 8), 15.0, "web"),
    (7, "c1", "L1", T(2024, 4, 1), 30.0, "app"),
]
ITEMS = [  # item_id, order_id, price, is_food
    (1, 2, 6.0, True),
    (2, 2, 4.0, False),
    (3, 3, 20.0, True),
    (4, 5, 25.0, True),
    (5, 5, 15.0, False),
    (6, 6, 15.0, True),
]


def columns(names, records):
    return {name: [r[i] for r in records] for i, name in enumerate(names)}


def shop_tables():
    ordered_at = {o[0]: o[3] for o in ORDERS}
    items = [(*i, ordered_at[i[1]]) for i in ITEMS]
    return {
        "shop.orders": ibis.memtable(
            columns(["id", "customer_id", "location_id", "ordered_at", "total", "channel"], ORDERS)
        ),
        "shop.items": ibis.memtable(columns(["item_id", "order_id", "price", "is_food", "ordered_at"], items)),
        "shop.locations": ibis.memtable(
            {
                "id": ["L1", "L2", "L3"],
                "name": ["Brooklyn", "Chicago", "Denver"],
                "opened_at": [T(2023, 1, 1), T(2023, 6, 1), T(2024, 6, 1)],
            }
        ),
    }


SPEC = {
    "semantic_models": {
        "orders": {
            "table": "shop.orders",
            "entities": [
                {"name": "order", "type": "primary", "expr": "id"},
                {"name": "location", "type": "foreign", "expr": "location_id"},
            ],
            "dimensions": [{"name": "ordered_at", "type": "time"}, {"name": "channel"}],
            "measures": [
                {"name": "order_total", "agg": "sum", "expr": "total"},
                {"name": "order_count", "agg": "count_distinct", "expr": "id"},
                {"name": "large_order_count", "agg": "count_distinct", "expr": "id", "filter": "total >= 20"},
                {"name": "web_order_count", "agg": "count_distinct", "expr": "id", "filter": "channel == 'web'"},
                {"name": "total_count", "agg": "count", "expr": "total"},
                {"name": "customer_count", "agg": "count_distinct", "expr": "customer_id"},
                {"name": "total_avg", "agg": "avg", "expr": "total"},
                {"name": "total_min", "agg": "min", "expr": "total"},
                {"name": "total_max", "agg": "max", "expr": "total"},
                {"name": "total_median", "agg": "median", "expr": "total"},
            ],
        },
        "items": {
            "table": "shop.items",
            "entities": [
                {"name": "item", "type": "primary", "expr": "item_id"},
                {"name": "order", "type": "foreign", "expr": "order_id"},
            ],
            "dimensions": [{"name": "item_ordered_at", "type": "time", "expr": "ordered_at"}, {"name": "is_food"}],
            "measures": [{"name": "item_price", "agg": "sum", "expr": "price"}],
        },
        "locations": {
            "table": "shop.locations",
            "entities": [{"name": "location", "type": "primary", "expr": "id"}],
            "dimensions": [{"name": "opened_at", "type": "time"}, {"name": "location_name", "expr": "name"}],
        },
    },
    "metrics": [
        {"name": "revenue", "type": "simple", "measure": "order_total"},
        {"name": "orders", "type": "simple", "measure": "order_count", "fill_nulls_with": 0},
        {"name": "web_revenue", "type": "simple", "measure": "order_total", "filter": "channel == 'web'"},
        # a measure filter (total >= 20) and a metric filter (web) together
        {"name": "large_web_orders", "type": "simple", "measure": "large_order_count", "filter": "channel == 'web'"},
        {"name": "web_orders", "type": "simple", "measure": "web_order_count"},
        {"name": "revenue_per_web_order", "type": "ratio", "numerator": "revenue", "denominator": "web_orders"},
        {
            "name": "revenue_growth",
            "type": "derived",
            "expr": "(revenue - revenue_prev) / revenue_prev",
            "inputs": [{"metric": "revenue"}, {"metric": "revenue", "alias": "revenue_prev", "offset": 1}],
        },
        {"name": "cumulative_revenue", "type": "cumulative", "metric": "revenue"},
        {"name": "trailing_revenue", "type": "cumulative", "metric": "revenue", "window": 2},
        {"name": "item_revenue", "type": "simple", "measure": "item_price"},
        *(
            {"name": m, "type": "simple", "measure": m}
            for m in ["total_count", "customer_count", "total_avg", "total_min", "total_max", "total_median"]
        ),
    ],
}

LAYER = SemanticLayer.from_dict(SPEC)


def query(tables, *metrics, **kwargs):
    return rows(LAYER.query(list(metrics), tables, **kwargs))


def changed(change):
    """A copy of SPEC with ``change`` applied to it."""
    spec = copy.deepcopy(SPEC)
    change(spec)
    return spec


def orders_model(spec):
    return spec["semantic_models"]["orders"]


def on_one_axis(spec):
    """Orders and items both measure when the order was placed, so a metric may divide one by the other."""
    orders_model(spec)["dimensions"][0]["axis"] = "order_time"
    spec["semantic_models"]["items"]["dimensions"][0]["axis"] = "order_time"
    spec["metrics"].append(
        {"name": "item_revenue_per_order", "type": "ratio", "numerator": "item_revenue", "denominator": "orders"}
    )
