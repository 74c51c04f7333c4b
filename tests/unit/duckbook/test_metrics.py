"""duckbook.metrics: simple and derived metrics by grain and dimension, and definition errors."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from duckbook.metrics import GRAINS, Metric, MetricError, MetricLayer, Model, safe_divide
from tests.unit.helpers import rows

D = dt.datetime


def simple(name, model, measure):
    return Metric(name, f"{name} description", model=model, measure=measure)


def derived(name, inputs, formula):
    return Metric(name, f"{name} description", inputs=inputs, formula=formula)


@pytest.fixture
def layer():
    return MetricLayer(
        models={
            "orders": Model("orders", time_column="ordered_at", dimensions=("shop", "channel")),
            "refunds": Model("refunds", time_column="refunded_at", dimensions=("shop",)),
        },
        metrics=[
            simple("revenue", "orders", lambda t: t.total.sum()),
            simple("order_count", "orders", lambda t: t.count()),
            simple("refund_amount", "refunds", lambda t: t.amount.sum()),
            derived("aov", ("revenue", "order_count"), lambda m: safe_divide(m.revenue, m.order_count)),
            derived("refund_rate", ("refund_amount", "revenue"), lambda m: safe_divide(m.refund_amount, m.revenue)),
            derived("net", ("revenue", "refund_amount"), lambda m: m.revenue - m.refund_amount),
            # a derived metric over another derived metric
            derived("net_per_order", ("net", "order_count"), lambda m: safe_divide(m.net, m.order_count)),
        ],
    )


@pytest.fixture
def tables():
    orders = ibis.memtable(
        {
            "ordered_at": [D(2024, 1, 1, 10), D(2024, 1, 1, 15), D(2024, 1, 2, 9), D(2024, 2, 1, 12)],
            "total": [10.0, 20.0, 0.0, 5.0],
            "shop": ["a", "b", "a", "a"],
            "channel": ["web", "app", "web", "web"],
        }
    )
    refunds = ibis.memtable(
        {"refunded_at": [D(2024, 1, 2, 18), D(2024, 3, 5, 8)], "amount": [4.0, 1.0], "shop": ["a", "b"]}
    )
    return {"orders": orders, "refunds": refunds}


# --- compute -------------------------------------------------------------------------------


def test_compute_by_month(layer, tables):
    got = rows(layer.compute(["revenue", "order_count", "refund_amount", "refund_rate", "net", "net_per_order"],
                             tables, grain="month"))
    assert got == [
        {"period": D(2024, 1, 1), "revenue": 30.0, "order_count": 3, "refund_amount": 4.0,
         "refund_rate": pytest.approx(4 / 30), "net": 26.0, "net_per_order": pytest.approx(26 / 3)},
        {"period": D(2024, 2, 1), "revenue": 5.0, "order_count": 1, "refund_amount": None,
         "refund_rate": None, "net": None, "net_per_order": None},
        # a period only the refunds model has still appears (the spine is the union of periods)
        {"period": D(2024, 3, 1), "revenue": None, "order_count": None, "refund_amount": 1.0,
         "refund_rate": None, "net": None, "net_per_order": None},
    ]


def test_compute_by_day_and_dimension(layer, tables):
    got = rows(layer.compute(["revenue", "refund_amount", "refund_rate"], tables, grain="day", by=["shop"]))
    assert got == [
        {"period": D(2024, 1, 1), "shop": "a", "revenue": 10.0, "refund_amount": None, "refund_rate": None},
        {"period": D(2024, 1, 1), "shop": "b", "revenue": 20.0, "refund_amount": None, "refund_rate": None},
        # zero revenue: the ratio is null, not an error or infinity
        {"period": D(2024, 1, 2), "shop": "a", "revenue": 0.0, "refund_amount": 4.0, "refund_rate": None},
        {"period": D(2024, 2, 1), "shop": "a", "revenue": 5.0, "refund_amount": None, "refund_rate": None},
        {"period": D(2024, 3, 5), "shop": "b", "revenue": None, "refund_amount": 1.0, "refund_rate": None},
    ]


def test_compute_by_week(layer, tables):
    got = rows(layer.compute(["order_count"], tables, grain="week"))
    # 2024-01-01 is a Monday; 2024-02-01 is in the week starting 2024-01-29
    assert got == [{"period": D(2024, 1, 1), "order_count": 3}, {"period": D(2024, 1, 29), "order_count": 1}]


def test_compute_by_two_dimensions(layer, tables):
    got = rows(layer.compute(["revenue", "aov"], tables, grain="month", by=["shop", "channel"]))
    assert got == [
        {"period": D(2024, 1, 1), "shop": "a", "channel": "web", "revenue": 10.0, "aov": pytest.approx(5.0)},
        {"period": D(2024, 1, 1), "shop": "b", "channel": "app", "revenue": 20.0, "aov": pytest.approx(20.0)},
        {"period": D(2024, 2, 1), "shop": "a", "channel": "web", "revenue": 5.0, "aov": pytest.approx(5.0)},
    ]


def test_compute_returns_only_the_requested_columns_in_order(layer, tables):
    result = layer.compute(["aov", "revenue"], tables, grain="month", by=["shop"])
    assert result.columns == ("period", "shop", "aov", "revenue")


def test_compute_keeps_values_of_a_null_dimension(layer):
    # A row whose dimension value is NULL (e.g. an order at an unknown shop) is its own group;
    # its metric values must not be lost on the way.
    orders = ibis.memtable(
        {"ordered_at": [D(2024, 1, 1), D(2024, 1, 2)], "total": [10.0, 20.0], "shop": ["a", None],
         "channel": ["web", "web"]}
    )
    got = rows(layer.compute(["revenue", "order_count"], {"orders": orders}, grain="month", by=["shop"]))
    assert got == [
        {"period": D(2024, 1, 1), "shop": "a", "revenue": 10.0, "order_count": 1},
        {"period": D(2024, 1, 1), "shop": None, "revenue": 20.0, "order_count": 1},
    ]


# --- compute errors ------------------------------------------------------------------------


def test_unknown_metric(layer, tables):
    with pytest.raises(MetricError) as exc:
        layer.compute(["revenue", "profit"], tables)
    assert str(exc.value) == (
        "unknown metric(s) ['profit']; choose from: aov, net, net_per_order, order_count, refund_amount, "
        "refund_rate, revenue"
    )


def test_unknown_grain(layer, tables):
    with pytest.raises(MetricError, match=r"^unknown grain 'year'; choose from: day, week, month$"):
        layer.compute(["revenue"], tables, grain="year")


def test_disallowed_dimension_lists_valid_choices(layer, tables):
    with pytest.raises(MetricError, match=r"^metric revenue cannot be sliced by \['colour'\]; it allows: channel, shop$"):
        layer.compute(["revenue"], tables, by=["colour"])
    # a derived metric over two models only allows the dimensions both offer
    with pytest.raises(MetricError, match=r"^metric refund_rate cannot be sliced by \['channel'\]; it allows: shop$"):
        layer.compute(["revenue", "refund_rate"], tables, by=["channel"])


def test_disallowed_dimension_on_a_model_without_dimensions(tables):
    layer = MetricLayer(models={"orders": Model("orders", "ordered_at")},
                        metrics=[simple("revenue", "orders", lambda t: t.total.sum())])
    with pytest.raises(MetricError, match=r"it allows: none$"):
        layer.compute(["revenue"], tables, by=["shop"])


def test_metric_error_is_a_value_error():
    assert issubclass(MetricError, ValueError)


# --- definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # neither kind
        {"model": "orders"},  # no measure
        {"measure": lambda t: t.count()},  # no model
        {"inputs": ("a",)},  # no formula
        {"formula": lambda m: m.a},  # no inputs
        {"model": "orders", "measure": lambda t: t.count(), "inputs": ("a",), "formula": lambda m: m.a},  # both
    ],
)
def test_metric_needs_exactly_one_definition(kwargs):
    with pytest.raises(MetricError, match=r"^metric m: give either model\+measure or inputs\+formula$"):
        Metric("m", "d", **kwargs)


def test_layer_rejects_duplicate_names():
    with pytest.raises(MetricError, match="duplicate metric names"):
        MetricLayer(models={"o": Model("o", "t")},
                    metrics=[simple("x", "o", lambda t: t.count()), simple("x", "o", lambda t: t.count())])


def test_layer_rejects_unknown_model():
    with pytest.raises(MetricError, match=r"^metric x: unknown model 'nope'$"):
        MetricLayer(models={"o": Model("o", "t")}, metrics=[simple("x", "nope", lambda t: t.count())])


def test_layer_rejects_unknown_input():
    with pytest.raises(MetricError, match=r"^metric y: unknown input metric 'z'$"):
        MetricLayer(models={"o": Model("o", "t")},
                    metrics=[simple("x", "o", lambda t: t.count()), derived("y", ("x", "z"), lambda m: m.x)])


# --- introspection -------------------------------------------------------------------------


def test_dimensions_and_simple_inputs(layer):
    assert layer.dimensions("revenue") == {"shop", "channel"}
    assert layer.dimensions("refund_amount") == {"shop"}
    assert layer.dimensions("refund_rate") == {"shop"}
    assert [m.name for m in layer.simple_inputs("net_per_order")] == ["revenue", "refund_amount", "order_count"]
    assert [m.name for m in layer.simple_inputs("revenue")] == ["revenue"]


def test_describe(layer):
    got = rows(layer.describe())
    assert [(r["metric"], r["kind"], r["dimensions"]) for r in got] == [
        ("aov", "derived", "channel, shop"),
        ("net", "derived", "shop"),
        ("net_per_order", "derived", "shop"),
        ("order_count", "simple", "channel, shop"),
        ("refund_amount", "simple", "shop"),
        ("refund_rate", "derived", "shop"),
        ("revenue", "simple", "channel, shop"),
    ]
    assert got[0]["description"] == "aov description"


def test_grains():
    assert GRAINS == {"day": "D", "week": "W", "month": "M"}


def test_safe_divide():
    t = ibis.memtable({"n": [1, 3, 0, None, 5], "d": [2, 0, 0, 4, None]})
    got = [r["q"] for r in rows(t.mutate(q=safe_divide(t.n, t.d)).select("q"))]
    assert got == [0.5, None, None, None, None]
    assert safe_divide(t.n, t.d).type().is_float64()
