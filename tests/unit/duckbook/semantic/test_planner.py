"""duckbook.semantic.planner: queries over the shop's in-memory tables, every expected row worked out by
hand (see sample.py): metric types, grains, joins along entities, where, start/end, keep_empty."""

from __future__ import annotations

import pytest

from duckbook.semantic import MetricError, SemanticLayer
from tests.unit.duckbook.semantic.sample import D, changed, on_one_axis, query
from tests.unit.helpers import rows

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


def test_a_ratio_of_two_models_on_one_time_axis(tables):
    """items / orders per month: the numerator and denominator are aggregated by their own
    time dimensions, which declare the same axis, and joined on the period."""
    layer = SemanticLayer.from_dict(changed(on_one_axis))
    assert rows(layer.query(["item_revenue", "orders", "item_revenue_per_order"], tables)) == [
        {"period": D(2023, 12, 1), "item_revenue": None, "orders": 1, "item_revenue_per_order": None},
        {"period": D(2024, 1, 1), "item_revenue": 30.0, "orders": 3, "item_revenue_per_order": 10.0},
        {"period": D(2024, 3, 1), "item_revenue": 55.0, "orders": 2, "item_revenue_per_order": 27.5},
        {"period": D(2024, 4, 1), "item_revenue": None, "orders": 1, "item_revenue_per_order": None},
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


def test_keep_empty_totals_without_dimensions(tables):
    assert query(tables, "orders", grain=None, keep_empty=True) == [{"orders": 7}]


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
