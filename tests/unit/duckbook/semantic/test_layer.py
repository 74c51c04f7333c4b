"""duckbook.semantic.layer: validation of the declarations and the lookups over them."""

from __future__ import annotations

import pytest

from duckbook.errors import UserError
from duckbook.semantic import MetricError, SemanticLayer
from tests.unit.duckbook.semantic.sample import LAYER, SPEC, changed, on_one_axis, orders_model

# --- introspection ----------------------------------------------------------------------------


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


# --- definition errors ------------------------------------------------------------------------


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
            lambda s: orders_model(s)["dimensions"][1].update(axis="sales"),
            r"model orders: dimension channel has an axis but is not a time dimension",
            id="axis on a categorical dimension",
        ),
        pytest.param(
            lambda s: s["metrics"].append(
                {"name": "x", "type": "ratio", "numerator": "item_revenue", "denominator": "orders"}
            ),
            r"metric x mixes time axes item_ordered_at, ordered_at: give the time dimensions of items, orders "
            r"the same axis",
            id="mixed time axes",
        ),
        pytest.param(
            lambda s: s["metrics"].extend(
                [
                    {"name": "x", "type": "derived", "expr": "y * 2", "inputs": [{"metric": "y"}]},
                    {"name": "y", "type": "cumulative", "metric": "item_revenue"},
                    {
                        "name": "z",
                        "type": "derived",
                        "expr": "x - revenue",
                        "inputs": [{"metric": "x"}, {"metric": "revenue"}],
                    },
                ]
            ),
            r"metric z mixes time axes item_ordered_at, ordered_at",
            id="mixed time axes through inputs",
        ),
    ],
)
def test_definition_errors(change, message):
    with pytest.raises(MetricError, match=message):
        SemanticLayer.from_dict(changed(change))


def test_validation_errors_name_the_origin():
    with pytest.raises(MetricError, match=r"^layer\.yml: metric x: a derived metric needs expr$"):
        SemanticLayer.from_dict(
            changed(lambda s: s["metrics"].append({"name": "x", "type": "derived", "inputs": []})), origin="layer.yml"
        )


def test_metric_error_is_a_user_error_and_a_value_error():
    assert issubclass(MetricError, UserError)
    assert issubclass(MetricError, ValueError)
    assert MetricError.exit_code == 2


# --- lookups ----------------------------------------------------------------------------------


def test_model_of_measure_and_of_dimension():
    assert LAYER.model_of_measure("item_price").name == "items"
    assert LAYER.model_of_measure("order_total").table == "shop.orders"
    assert LAYER.model_of_dimension("location_name").name == "locations"
    assert LAYER.model_of_dimension("item_ordered_at").name == "items"


def test_model_lookups_of_unknown_names_list_the_choices():
    with pytest.raises(MetricError, match=r"unknown measure 'nope'; choose from: customer_count, item_price, "):
        LAYER.model_of_measure("nope")
    with pytest.raises(
        MetricError,
        match=r"unknown dimension 'nope'; choose from: channel, is_food, item_ordered_at, location_name, opened_at, "
        r"ordered_at$",
    ):
        LAYER.model_of_dimension("nope")
    with pytest.raises(MetricError, match=r"unknown metric 'nope'; choose from: cumulative_revenue, customer_count"):
        LAYER.measures_of("nope")
    with pytest.raises(MetricError, match=r"unknown semantic model 'nope'; choose from: items, locations, orders$"):
        LAYER.reachable("nope")
    with pytest.raises(MetricError, match=r"unknown semantic model 'nope'"):
        LAYER.agg_time("nope")


def test_dimension_names_in_declaration_order():
    assert LAYER.dimension_names() == [
        "ordered_at",
        "channel",
        "item_ordered_at",
        "is_food",
        "opened_at",
        "location_name",
    ]


def test_models_of_and_agg_time():
    assert LAYER.models_of("revenue_growth") == {"orders"}
    assert LAYER.models_of("item_revenue") == {"items"}
    assert LAYER.agg_time("items").name == "item_ordered_at"
    assert LAYER.agg_time("items").column == "ordered_at"
    with pytest.raises(MetricError, match=r"model locations has no time dimension"):
        SemanticLayer.from_dict(changed(lambda s: s["semantic_models"]["locations"].update(dimensions=[]))).agg_time(
            "locations"
        )


def test_grains_are_those_every_model_of_the_metric_allows():
    assert LAYER.grains("revenue") == ["day", "week", "month", "quarter", "year"]
    layer = SemanticLayer.from_dict(
        changed(lambda s: orders_model(s)["dimensions"][0].update(grains=["year", "month", "quarter"]))
    )
    assert layer.grains("revenue_growth") == ["month", "quarter", "year"]  # in GRAINS order
    assert layer.grains("item_revenue") == ["day", "week", "month", "quarter", "year"]


def test_compares_periods_through_inputs():
    assert LAYER.compares_periods("revenue_growth")
    assert not LAYER.compares_periods("cumulative_revenue")
    layer = SemanticLayer.from_dict(
        changed(
            lambda s: s["metrics"].append(
                {"name": "growth_per_order", "type": "ratio", "numerator": "revenue_growth", "denominator": "orders"}
            )
        )
    )
    assert layer.compares_periods("growth_per_order")


# --- time axes --------------------------------------------------------------------------------


AXES = SemanticLayer.from_dict(changed(on_one_axis))


def test_time_axis_defaults_to_the_time_dimension_name():
    assert LAYER.time_axis("revenue") == "ordered_at"
    assert LAYER.time_axis("revenue_growth") == "ordered_at"
    assert LAYER.time_axis("item_revenue") == "item_ordered_at"


def test_time_axis_declared_lets_a_metric_combine_models():
    assert AXES.time_axis("item_revenue_per_order") == "order_time"
    assert AXES.time_axis("item_revenue") == AXES.time_axis("revenue") == "order_time"


def test_metrics_for_an_axis_grain_and_dimensions_in_declaration_order():
    everything = [m["name"] for m in SPEC["metrics"]]
    assert LAYER.metrics_for(axis="ordered_at", grain="month") == [m for m in everything if m != "item_revenue"]
    assert LAYER.metrics_for(axis="item_ordered_at", grain="day", by=["is_food"]) == ["item_revenue"]
    assert LAYER.metrics_for(axis="ordered_at", grain="day", by=["is_food"]) == []  # orders cannot reach items
    assert AXES.metrics_for(axis="order_time", grain="week", by=["location_name", "channel"]) == [
        *everything,
        "item_revenue_per_order",
    ]


def test_metrics_for_totals_leaves_out_period_comparisons():
    assert "revenue_growth" in LAYER.metrics_for(axis="ordered_at", grain="year")
    assert "revenue_growth" not in LAYER.metrics_for(axis="ordered_at", grain=None)
    assert "cumulative_revenue" in LAYER.metrics_for(axis="ordered_at", grain=None)


def test_metrics_for_leaves_out_metrics_whose_grains_exclude_the_grain():
    layer = SemanticLayer.from_dict(changed(lambda s: orders_model(s)["dimensions"][0].update(grains=["month"])))
    assert layer.metrics_for(axis="ordered_at", grain="day") == []
    assert layer.metrics_for(axis="ordered_at", grain="month") == LAYER.metrics_for(axis="ordered_at", grain="month")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"axis": "opened_at", "grain": "month"},
            r"unknown time axis 'opened_at'; choose from: item_ordered_at, ordered_at$",
        ),
        (
            {"axis": "ordered_at", "grain": "hour"},
            r"unknown grain 'hour'; choose from: day, week, month, quarter, year",
        ),
        ({"axis": "ordered_at", "grain": "day", "by": ["colour"]}, r"unknown dimension 'colour'; choose from: channel"),
    ],
)
def test_metrics_for_bad_arguments_list_the_choices(kwargs, message):
    with pytest.raises(MetricError, match=message):
        LAYER.metrics_for(**kwargs)
