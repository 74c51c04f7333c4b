"""duckbook.metrics: a small semantic layer over in-memory tables, every expected row worked out by
hand, and the definition and query errors."""

from __future__ import annotations

import copy
import datetime as dt

import ibis
import pytest

from duckbook.metrics import MetricError, SemanticLayer
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


@pytest.fixture
def tables():
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


# --- metric types -----------------------------------------------------------------------------


def test_simple_metrics_with_measure_and_metric_filters(tables):
    assert query(tables, "revenue", "orders", "web_revenue", "web_orders", "large_web_orders") == [
        {
            "period": D(2023, 12, 1),
            "revenue": 25.0,
            "orders": 1,
            "web_revenue": None,
            "web_orders": 0,
            "large_web_orders": 0,
        },
        {
            "period": D(2024, 1, 1),
            "revenue": 35.0,
            "orders": 3,
            "web_revenue": 10.0,
            "web_orders": 1,
            "large_web_orders": 0,
        },
        # no row for February: no facts, and no keep_empty
        {
            "period": D(2024, 3, 1),
            "revenue": 55.0,
            "orders": 2,
            "web_revenue": 55.0,
            "web_orders": 2,
            "large_web_orders": 1,
        },
        {
            "period": D(2024, 4, 1),
            "revenue": 30.0,
            "orders": 1,
            "web_revenue": None,
            "web_orders": 0,
            "large_web_orders": 0,
        },
    ]


AGGREGATIONS = ["revenue", "total_count", "customer_count", "total_avg", "total_min", "total_max", "total_median"]


def test_every_aggregation_by_month(tables):
    assert query(tables, *AGGREGATIONS) == [
        {
            "period": D(2023, 12, 1),
            "revenue": 25.0,
            "total_count": 1,
            "customer_count": 1,
            "total_avg": 25.0,
            "total_min": 25.0,
            "total_max": 25.0,
            "total_median": 25.0,
        },
        {
            "period": D(2024, 1, 1),
            "revenue": 35.0,
            "total_count": 3,
            "customer_count": 2,
            "total_avg": pytest.approx(35 / 3),
            "total_min": 5.0,
            "total_max": 20.0,
            "total_median": 10.0,
        },
        # median of an even count is the mean of the middle two
        {
            "period": D(2024, 3, 1),
            "revenue": 55.0,
            "total_count": 2,
            "customer_count": 2,
            "total_avg": 27.5,
            "total_min": 15.0,
            "total_max": 40.0,
            "total_median": 27.5,
        },
        {
            "period": D(2024, 4, 1),
            "revenue": 30.0,
            "total_count": 1,
            "customer_count": 1,
            "total_avg": 30.0,
            "total_min": 30.0,
            "total_max": 30.0,
            "total_median": 30.0,
        },
    ]


def test_every_aggregation_in_total(tables):
    assert query(tables, *AGGREGATIONS, grain=None) == [
        {
            "revenue": 145.0,
            "total_count": 7,
            "customer_count": 3,
            "total_avg": pytest.approx(145 / 7),
            "total_min": 5.0,
            "total_max": 40.0,
            "total_median": 20.0,
        },
    ]


def test_ratio_is_null_when_the_denominator_is_zero(tables):
    assert query(tables, "revenue", "web_orders", "revenue_per_web_order") == [
        {"period": D(2023, 12, 1), "revenue": 25.0, "web_orders": 0, "revenue_per_web_order": None},
        {"period": D(2024, 1, 1), "revenue": 35.0, "web_orders": 1, "revenue_per_web_order": 35.0},
        {"period": D(2024, 3, 1), "revenue": 55.0, "web_orders": 2, "revenue_per_web_order": 27.5},
        {"period": D(2024, 4, 1), "revenue": 30.0, "web_orders": 0, "revenue_per_web_order": None},
    ]


def test_derived_with_offset_compares_with_the_previous_period(tables):
    assert query(tables, "revenue_growth") == [
        {"period": D(2023, 12, 1), "revenue_growth": None},  # no previous period
        {"period": D(2024, 1, 1), "revenue_growth": pytest.approx((35 - 25) / 25)},
        {"period": D(2024, 3, 1), "revenue_growth": None},  # February had no revenue
        {"period": D(2024, 4, 1), "revenue_growth": pytest.approx((30 - 55) / 55)},
        # and no May: shifting April forward must not invent a period
    ]


def test_derived_with_offset_by_quarter(tables):
    assert query(tables, "revenue_growth", grain="quarter") == [
        {"period": D(2023, 10, 1), "revenue_growth": None},
        {"period": D(2024, 1, 1), "revenue_growth": pytest.approx((90 - 25) / 25)},
        {"period": D(2024, 4, 1), "revenue_growth": pytest.approx((30 - 90) / 90)},
    ]


def test_derived_with_offset_looks_before_start(tables):
    """``start`` hides earlier periods but the offset still reads them (January vs December)."""
    assert query(tables, "revenue_growth", start="2024-01-01") == [
        {"period": D(2024, 1, 1), "revenue_growth": pytest.approx(0.4)},
        {"period": D(2024, 3, 1), "revenue_growth": None},
        {"period": D(2024, 4, 1), "revenue_growth": pytest.approx((30 - 55) / 55)},
    ]


def test_derived_with_offset_by_dimension_with_a_null_member(tables):
    assert query(tables, "revenue_growth", by=["channel"]) == [
        {"period": D(2023, 12, 1), "channel": "app", "revenue_growth": None},
        {"period": D(2024, 1, 1), "channel": "app", "revenue_growth": pytest.approx((20 - 25) / 25)},
        {"period": D(2024, 1, 1), "channel": "web", "revenue_growth": None},
        {"period": D(2024, 1, 1), "channel": None, "revenue_growth": None},
        {"period": D(2024, 3, 1), "channel": "web", "revenue_growth": None},
        {"period": D(2024, 4, 1), "channel": "app", "revenue_growth": None},
    ]


def test_cumulative_running_total_and_trailing_window_over_a_gap(tables):
    """The cumulative metrics fill February (no facts) with 0, which brings in a February row."""
    assert query(tables, "revenue", "cumulative_revenue", "trailing_revenue") == [
        {"period": D(2023, 12, 1), "revenue": 25.0, "cumulative_revenue": 25.0, "trailing_revenue": 25.0},
        {"period": D(2024, 1, 1), "revenue": 35.0, "cumulative_revenue": 60.0, "trailing_revenue": 60.0},
        {"period": D(2024, 2, 1), "revenue": None, "cumulative_revenue": 60.0, "trailing_revenue": 35.0},  # 35 + 0
        {"period": D(2024, 3, 1), "revenue": 55.0, "cumulative_revenue": 115.0, "trailing_revenue": 55.0},  # 0 + 55
        {"period": D(2024, 4, 1), "revenue": 30.0, "cumulative_revenue": 145.0, "trailing_revenue": 85.0},
    ]


def test_cumulative_by_dimension_accumulates_per_member(tables):
    assert query(tables, "cumulative_revenue", "trailing_revenue", by=["location_name"], start="2024-02-01") == [
        {"period": D(2024, 2, 1), "location_name": "Brooklyn", "cumulative_revenue": 40.0, "trailing_revenue": 15.0},
        {"period": D(2024, 2, 1), "location_name": "Chicago", "cumulative_revenue": 20.0, "trailing_revenue": 20.0},
        {"period": D(2024, 3, 1), "location_name": "Brooklyn", "cumulative_revenue": 80.0, "trailing_revenue": 40.0},
        {"period": D(2024, 3, 1), "location_name": "Chicago", "cumulative_revenue": 35.0, "trailing_revenue": 15.0},
        {"period": D(2024, 4, 1), "location_name": "Brooklyn", "cumulative_revenue": 110.0, "trailing_revenue": 70.0},
        {"period": D(2024, 4, 1), "location_name": "Chicago", "cumulative_revenue": 35.0, "trailing_revenue": 15.0},
    ]


def test_cumulative_without_grain_is_the_total(tables):
    assert query(tables, "cumulative_revenue", "trailing_revenue", grain=None) == [
        {"cumulative_revenue": 145.0, "trailing_revenue": 145.0},
    ]


# --- grains -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grain", "expected"),
    [
        (
            "day",
            [
                (D(2023, 12, 31), 1),
                (D(2024, 1, 3), 1),
                (D(2024, 1, 15), 1),
                (D(2024, 1, 31), 1),
                (D(2024, 3, 2), 1),
                (D(2024, 3, 20), 1),
                (D(2024, 4, 1), 1),
            ],
        ),
        # ISO weeks start on Monday: Sunday 2023-12-31 is in the week of 2023-12-25
        (
            "week",
            [
                (D(2023, 12, 25), 1),
                (D(2024, 1, 1), 1),
                (D(2024, 1, 15), 1),
                (D(2024, 1, 29), 1),
                (D(2024, 2, 26), 1),
                (D(2024, 3, 18), 1),
                (D(2024, 4, 1), 1),
            ],
        ),
        ("month", [(D(2023, 12, 1), 1), (D(2024, 1, 1), 3), (D(2024, 3, 1), 2), (D(2024, 4, 1), 1)]),
        ("quarter", [(D(2023, 10, 1), 1), (D(2024, 1, 1), 5), (D(2024, 4, 1), 1)]),
        ("year", [(D(2023, 1, 1), 1), (D(2024, 1, 1), 6)]),
    ],
)
def test_grains(tables, grain, expected):
    assert query(tables, "orders", grain=grain) == [{"period": p, "orders": n} for p, n in expected]


def test_no_grain_gives_totals(tables):
    assert query(tables, "revenue", "orders", "revenue_per_web_order", grain=None) == [
        {"revenue": 145.0, "orders": 7, "revenue_per_web_order": pytest.approx(145 / 3)},
    ]


def test_no_grain_by_dimension(tables):
    assert query(tables, "revenue", "item_revenue", by=["location_name"], grain=None) == [
        {"location_name": "Brooklyn", "revenue": 110.0, "item_revenue": 50.0},
        {"location_name": "Chicago", "revenue": 35.0, "item_revenue": 35.0},
    ]


# --- dimensions and joins ---------------------------------------------------------------------


def test_by_a_dimension_of_a_joined_model_does_not_fan_out(tables):
    """orders -> locations is many-to-one: every order is counted once, under its store."""
    assert query(tables, "revenue", "orders", "total_count", by=["location_name"]) == [
        {"period": D(2023, 12, 1), "location_name": "Brooklyn", "revenue": 25.0, "orders": 1, "total_count": 1},
        {"period": D(2024, 1, 1), "location_name": "Brooklyn", "revenue": 15.0, "orders": 2, "total_count": 2},
        {"period": D(2024, 1, 1), "location_name": "Chicago", "revenue": 20.0, "orders": 1, "total_count": 1},
        {"period": D(2024, 3, 1), "location_name": "Brooklyn", "revenue": 40.0, "orders": 1, "total_count": 1},
        {"period": D(2024, 3, 1), "location_name": "Chicago", "revenue": 15.0, "orders": 1, "total_count": 1},
        {"period": D(2024, 4, 1), "location_name": "Brooklyn", "revenue": 30.0, "orders": 1, "total_count": 1},
    ]


def test_by_a_dimension_two_joins_away(tables):
    """items -> orders -> locations; and items -> orders for the channel, in the same query."""
    assert query(tables, "item_revenue", by=["location_name"]) == [
        {"period": D(2024, 1, 1), "location_name": "Brooklyn", "item_revenue": 10.0},
        {"period": D(2024, 1, 1), "location_name": "Chicago", "item_revenue": 20.0},
        {"period": D(2024, 3, 1), "location_name": "Brooklyn", "item_revenue": 40.0},
        {"period": D(2024, 3, 1), "location_name": "Chicago", "item_revenue": 15.0},
    ]
    assert query(tables, "item_revenue", by=["location_name", "channel", "is_food"], grain=None) == [
        {"location_name": "Brooklyn", "channel": "web", "is_food": False, "item_revenue": 19.0},
        {"location_name": "Brooklyn", "channel": "web", "is_food": True, "item_revenue": 31.0},
        {"location_name": "Chicago", "channel": "app", "is_food": True, "item_revenue": 20.0},
        {"location_name": "Chicago", "channel": "web", "is_food": True, "item_revenue": 15.0},
    ]


def test_metrics_of_different_models_side_by_side(tables):
    assert query(tables, "revenue", "item_revenue", by=["channel"], grain=None) == [
        {"channel": "app", "revenue": 75.0, "item_revenue": 20.0},
        {"channel": "web", "revenue": 65.0, "item_revenue": 65.0},
        {"channel": None, "revenue": 5.0, "item_revenue": None},
    ]


def test_null_dimension_members_are_their_own_group(tables):
    assert query(tables, "revenue", "orders", by=["channel"], grain=None) == [
        {"channel": "app", "revenue": 75.0, "orders": 3},
        {"channel": "web", "revenue": 65.0, "orders": 3},
        {"channel": None, "revenue": 5.0, "orders": 1},
    ]


def test_where_on_a_joined_dimension(tables):
    assert query(tables, "revenue", "item_revenue", where="location_name == 'Chicago'") == [
        {"period": D(2024, 1, 1), "revenue": 20.0, "item_revenue": 20.0},
        {"period": D(2024, 3, 1), "revenue": 15.0, "item_revenue": 15.0},
    ]


def test_where_on_a_time_dimension(tables):
    assert query(tables, "revenue", "orders", where="ordered_at >= '2024-03-01' and channel is not None") == [
        {"period": D(2024, 3, 1), "revenue": 55.0, "orders": 2},
        {"period": D(2024, 4, 1), "revenue": 30.0, "orders": 1},
    ]


def test_start_and_end_bound_the_periods(tables):
    # start is truncated to its period (January); end is inclusive
    assert query(tables, "revenue", start="2024-01-15", end="2024-03-01") == [
        {"period": D(2024, 1, 1), "revenue": 35.0},
        {"period": D(2024, 3, 1), "revenue": 55.0},
    ]
    assert query(tables, "revenue", start=D(2024, 3, 15), end=D(2024, 12, 31)) == [
        {"period": D(2024, 3, 1), "revenue": 55.0},
        {"period": D(2024, 4, 1), "revenue": 30.0},
    ]
    # a cumulative metric keeps the history before start
    assert query(tables, "cumulative_revenue", start="2024-03-01") == [
        {"period": D(2024, 3, 1), "cumulative_revenue": 115.0},
        {"period": D(2024, 4, 1), "cumulative_revenue": 145.0},
    ]


def test_keep_empty_keeps_members_and_periods_without_facts(tables):
    # Denver has no orders: orders (fill_nulls_with: 0) shows 0, revenue (no fill) stays null
    assert query(tables, "revenue", "orders", by=["location_name"], grain=None, keep_empty=True) == [
        {"location_name": "Brooklyn", "revenue": 110.0, "orders": 5},
        {"location_name": "Chicago", "revenue": 35.0, "orders": 2},
        {"location_name": "Denver", "revenue": None, "orders": 0},
    ]
    assert query(tables, "revenue", "orders", keep_empty=True) == [
        {"period": D(2023, 12, 1), "revenue": 25.0, "orders": 1},
        {"period": D(2024, 1, 1), "revenue": 35.0, "orders": 3},
        {"period": D(2024, 2, 1), "revenue": None, "orders": 0},
        {"period": D(2024, 3, 1), "revenue": 55.0, "orders": 2},
        {"period": D(2024, 4, 1), "revenue": 30.0, "orders": 1},
    ]


def test_keep_empty_by_period_and_member(tables):
    got = query(tables, "orders", by=["location_name"], keep_empty=True, start="2024-02-01", end="2024-03-31")
    assert got == [
        {"period": D(2024, 2, 1), "location_name": "Brooklyn", "orders": 0},
        {"period": D(2024, 2, 1), "location_name": "Chicago", "orders": 0},
        {"period": D(2024, 2, 1), "location_name": "Denver", "orders": 0},
        {"period": D(2024, 3, 1), "location_name": "Brooklyn", "orders": 1},
        {"period": D(2024, 3, 1), "location_name": "Chicago", "orders": 1},
        {"period": D(2024, 3, 1), "location_name": "Denver", "orders": 0},
    ]


def test_dimension_only_query_returns_the_members(tables):
    assert query(tables, by=["location_name"]) == [
        {"location_name": "Brooklyn"},
        {"location_name": "Chicago"},
        {"location_name": "Denver"},
    ]
    assert query(tables, by=["channel"]) == [{"channel": "app"}, {"channel": "web"}, {"channel": None}]
    assert query(tables, by=["channel"], where="channel != 'app'") == [{"channel": "web"}]


def test_tables_may_be_a_function(tables):
    assert query(tables.__getitem__, "revenue", grain="year") == [
        {"period": D(2023, 1, 1), "revenue": 25.0},
        {"period": D(2024, 1, 1), "revenue": 120.0},
    ]


# --- introspection and loading ----------------------------------------------------------------


def test_dimensions_are_those_every_model_of_the_metric_reaches():
    assert LAYER.dimensions("revenue") == {"channel", "location_name"}
    assert LAYER.dimensions("item_revenue") == {"channel", "location_name", "is_food"}
    assert LAYER.reachable("items") == {
        "items": [],
        "orders": [("items", "order_id", "orders")],
        "locations": [("items", "order_id", "orders"), ("orders", "location_id", "locations")],
    }
    assert [m.name for m in LAYER.measures_of("revenue_per_web_order")] == ["order_total", "web_order_count"]


def test_describe_lists_every_metric_sorted():
    described = LAYER.describe()
    assert [d["metric"] for d in described] == sorted(m["name"] for m in SPEC["metrics"])
    assert described[0] == {
        "metric": "cumulative_revenue",
        "type": "cumulative",
        "description": "",
        "dimensions": "channel, location_name",
    }


def test_from_yaml(tmp_path, tables):
    path = tmp_path / "layer.yml"
    path.write_text(
        "semantic_models:\n"
        "  orders:\n"
        "    table: shop.orders\n"
        "    dimensions: [{name: ordered_at, type: time}]\n"
        "    measures: [{name: order_total, agg: sum, expr: total}]\n"
        "metrics:\n"
        "  - {name: revenue, type: simple, measure: order_total}\n",
        encoding="utf-8",
    )
    assert rows(SemanticLayer.from_yaml(path).query(["revenue"], tables, grain=None)) == [{"revenue": 145.0}]


def test_from_yaml_errors_name_the_file(tmp_path):
    with pytest.raises(MetricError, match="cannot read semantic layer"):
        SemanticLayer.from_yaml(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("metrics:\n  - {name: x, type: simple, measure: nope}\n", encoding="utf-8")
    with pytest.raises(MetricError, match=r"bad\.yml: metric x: unknown measure 'nope'"):
        SemanticLayer.from_yaml(bad)


# --- definition errors ------------------------------------------------------------------------


def changed(change):
    """A copy of SPEC with ``change`` applied to it."""
    spec = copy.deepcopy(SPEC)
    change(spec)
    return spec


def orders_model(spec):
    return spec["semantic_models"]["orders"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda s: orders_model(s)["measures"].append({"name": "x", "agg": "mode", "expr": "total"}),
            r"measure x has agg 'mode'; use one of sum, count, count_distinct, avg, min, max, median",
            id="bad agg",
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "simple", "measure": "nope"}),
            r"metric x: unknown measure 'nope'; measures: customer_count, item_price",
            id="unknown measure",
        ),
        pytest.param(
            lambda s: s["metrics"].append(
                {"name": "x", "type": "ratio", "numerator": "revenue", "denominator": "nope"}
            ),
            r"metric x: unknown input metric 'nope'",
            id="unknown input metric",
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "cumulative", "metric": "nope"}),
            r"metric x: unknown input metric 'nope'",
            id="unknown cumulative metric",
        ),
        pytest.param(
            lambda s: s["metrics"].extend(
                [
                    {"name": "x", "type": "derived", "expr": "y + 1", "inputs": [{"metric": "y"}]},
                    {"name": "y", "type": "ratio", "numerator": "revenue", "denominator": "z"},
                    {"name": "z", "type": "derived", "expr": "x", "inputs": [{"metric": "x"}]},
                ]
            ),
            r"metric x depends on itself: x -> y -> z -> x",
            id="cycle",
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "derived", "expr": "x", "inputs": [{"metric": "x"}]}),
            r"metric x depends on itself: x -> x",
            id="self reference",
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "derived", "inputs": [{"metric": "revenue"}]}),
            r"metric x: a derived metric needs expr",
            id="derived without expr",
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "fancy"}),
            r"metric x has type 'fancy'; use one of simple, ratio, derived, cumulative",
            id="bad metric type",
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "simple", "measure": "order_total", "colour": "red"}),
            r"metric x: .*colour",
            id="unknown metric key",
        ),
        pytest.param(
            lambda s: s["semantic_models"]["items"]["dimensions"].append({"name": "channel"}),
            r"dimension 'channel' is declared twice \(orders, items\)",
            id="duplicate dimension",
        ),
        pytest.param(
            lambda s: orders_model(s)["dimensions"].append({"name": "period"}),
            r"dimension 'period' is declared twice \(reserved, orders\)",
            id="reserved dimension name",
        ),
        pytest.param(
            lambda s: s["semantic_models"]["items"]["measures"].append({"name": "order_total", "agg": "sum"}),
            r"measure 'order_total' is declared twice \(orders, items\)",
            id="duplicate measure",
        ),
        pytest.param(
            lambda s: s["semantic_models"]["locations"].update(
                measures=[{"name": "x", "agg": "count", "expr": "id"}],
                dimensions=[{"name": "location_name", "expr": "name"}],
            ),
            r"model locations has measures but no time dimension",
            id="measures without time dimension",
        ),
        pytest.param(
            lambda s: orders_model(s)["dimensions"][0].update(grains=["month", "fortnight"]),
            r"dimension ordered_at has unknown grains \['fortnight'\]",
            id="unknown grain in a dimension",
        ),
        pytest.param(
            lambda s: orders_model(s)["dimensions"][1].update(type="geo"),
            r"dimension channel has type 'geo'",
            id="bad dimension type",
        ),
        pytest.param(
            lambda s: orders_model(s).pop("table"), r"semantic model orders: 'table'", id="model without table"
        ),
    ],
)
def test_definition_errors(change, message):
    with pytest.raises(MetricError, match=message):
        SemanticLayer.from_dict(changed(change))


def test_metric_error_is_a_value_error():
    assert issubclass(MetricError, ValueError)


# --- query errors -----------------------------------------------------------------------------


def test_unknown_metric_lists_the_choices(tables):
    with pytest.raises(
        MetricError, match=r"unknown metric\(s\) \['nope'\]; choose from: cumulative_revenue, customer_count,"
    ):
        LAYER.query(["revenue", "nope"], tables)


def test_unknown_dimension(tables):
    # the choices include the time dimensions, though `by` refuses them (they are the grain's)
    choices = "channel, is_food, item_ordered_at, location_name, opened_at, ordered_at"
    with pytest.raises(MetricError, match=rf"unknown dimension\(s\) \['colour'\]; choose from: {choices}$"):
        LAYER.query(["revenue"], tables, by=["colour"])


def test_a_dimension_the_metric_cannot_reach_lists_the_allowed_ones(tables):
    # is_food belongs to items, and orders -> items is one-to-many: not allowed
    with pytest.raises(
        MetricError, match=r"metric revenue cannot be sliced by \['is_food'\]; it allows: channel, location_name"
    ):
        LAYER.query(["revenue"], tables, by=["is_food"])
    # a time dimension is not a `by` dimension: use the grain
    with pytest.raises(MetricError, match=r"cannot be sliced by \['ordered_at'\]"):
        LAYER.query(["revenue"], tables, by=["ordered_at"])


def test_unknown_grain(tables):
    with pytest.raises(MetricError, match=r"unknown grain 'hour'; choose from: day, week, month, quarter, year"):
        LAYER.query(["revenue"], tables, grain="hour")


def test_a_grain_the_time_dimension_does_not_allow(tables):
    layer = SemanticLayer.from_dict(
        changed(lambda s: orders_model(s)["dimensions"][0].update(grains=["month", "quarter", "year"]))
    )
    with pytest.raises(MetricError, match=r"metric revenue allows grains month, quarter, year, not 'day'"):
        layer.query(["revenue"], tables, grain="day")
    # derived metrics are checked through their inputs
    with pytest.raises(MetricError, match=r"allows grains month, quarter, year, not 'week'"):
        layer.query(["revenue_growth"], tables, grain="week")
    assert rows(layer.query(["revenue"], tables, grain="year"))[0] == {"period": D(2023, 1, 1), "revenue": 25.0}


def test_where_over_an_unknown_name(tables):
    with pytest.raises(MetricError, match=r"where: unknown name 'nope'"):
        LAYER.query(["revenue"], tables, where="nope == 1")
    with pytest.raises(MetricError, match=r"where: unknown name 'nope'"):
        LAYER.query([], tables, by=["channel"], where="nope == 1")


def test_bad_start_or_end(tables):
    with pytest.raises(MetricError, match=r"start: 'last week' is not a date"):
        LAYER.query(["revenue"], tables, start="last week")
    with pytest.raises(MetricError, match=r"end: '2024-13-01' is not a date"):
        LAYER.query(["revenue"], tables, end="2024-13-01")


def test_a_dimension_only_query_takes_one_model(tables):
    with pytest.raises(MetricError, match="one semantic model"):
        LAYER.query([], tables, by=["location_name", "channel"])


def test_a_derived_formula_over_names_that_are_not_inputs(tables):
    layer = SemanticLayer.from_dict(
        changed(
            lambda s: s["metrics"].append(
                {"name": "x", "type": "derived", "expr": "revenue - cost", "inputs": [{"metric": "revenue"}]}
            )
        )
    )
    with pytest.raises(MetricError, match=r"metric x: unknown name 'cost' in 'revenue - cost'; available: revenue"):
        layer.query(["x"], tables)


# --- regressions: bugs found by review, fixed -----------------------------------------------


def test_where_with_a_syntax_error(tables):
    with pytest.raises(MetricError, match=r"where: cannot parse expression"):
        LAYER.query(["revenue"], tables, where="channel ==")


def test_keep_empty_totals_without_dimensions(tables):
    assert query(tables, "orders", grain=None, keep_empty=True) == [{"orders": 7}]


def test_offset_without_grain_is_not_a_comparison_with_itself(tables):
    try:
        got = query(tables, "revenue_growth", grain=None)
    except MetricError:
        return  # refusing the query is a fix too
    assert got == [{"revenue_growth": None}]


def test_keep_empty_respects_where(tables):
    assert query(
        tables, "orders", by=["location_name"], grain=None, where="location_name == 'Chicago'", keep_empty=True
    ) == [{"location_name": "Chicago", "orders": 2}]


def test_a_metric_filter_does_not_affect_other_metrics(tables):
    layer = SemanticLayer.from_dict(
        changed(
            lambda s: s["metrics"].append(
                {
                    "name": "brooklyn_revenue",
                    "type": "simple",
                    "measure": "order_total",
                    "filter": "location_name == 'Brooklyn'",
                }
            )
        )
    )
    assert rows(layer.query(["revenue"], tables, grain=None)) == [{"revenue": 145.0}]
