"""duckbook.semantic.spec: a YAML document parsed into frozen declarations, and malformed entries."""

from __future__ import annotations

import dataclasses

import pytest

from duckbook.semantic.spec import (
    GRAINS,
    Dimension,
    Measure,
    Metric,
    MetricError,
    MetricInput,
    SemanticModel,
    parse,
)
from tests.unit.duckbook.semantic.sample import SPEC, changed, orders_model


def test_parse_keeps_declaration_order_and_defaults():
    models, metrics = parse(SPEC)
    assert [m.name for m in models] == ["orders", "items", "locations"]
    assert [m.name for m in metrics] == [m["name"] for m in SPEC["metrics"]]
    orders = models[0]
    assert orders.table == "shop.orders"
    assert orders.primary is not None and orders.primary.expr == "id"
    assert orders.dimensions[1] == Dimension(name="channel", type="categorical", grains=tuple(GRAINS))
    assert orders.measures[0] == Measure(name="order_total", agg="sum", expr="total")
    assert metrics[6].inputs == (MetricInput("revenue"), MetricInput("revenue", alias="revenue_prev", offset=1))


def test_columns_default_to_the_name():
    items = parse(SPEC)[0][1]
    assert items.agg_time is not None
    assert (items.agg_time.name, items.agg_time.column) == ("item_ordered_at", "ordered_at")
    assert Measure(name="total", agg="sum").column == "total"


def test_time_axis_defaults_to_the_dimension_name():
    assert Dimension(name="ordered_at", type="time").time_axis == "ordered_at"
    assert Dimension(name="ordered_at", type="time", axis="order_time").time_axis == "order_time"


def test_agg_time_is_the_declared_time_dimension_or_the_first():
    first, second = Dimension("created_at", "time"), Dimension("shipped_at", "time")
    assert SemanticModel("m", "s.t", dimensions=(Dimension("x"), first, second)).agg_time == first
    assert SemanticModel("m", "s.t", dimensions=(first, second), time_dimension="shipped_at").agg_time == second
    assert SemanticModel("m", "s.t", dimensions=(Dimension("x"),)).agg_time is None


def test_depends_on_by_metric_type():
    assert Metric("a", "simple", measure="m").depends_on == []
    assert Metric("a", "ratio", numerator="n", denominator="d").depends_on == ["n", "d"]
    assert Metric("a", "derived", expr="x", inputs=(MetricInput("x"), MetricInput("y"))).depends_on == ["x", "y"]
    assert Metric("a", "cumulative", metric="c").depends_on == ["c"]


def test_declarations_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse(SPEC)[1][0].name = "other"


def test_an_empty_document_declares_nothing():
    assert parse({}) == ([], [])
    assert parse({"semantic_models": None, "metrics": None}) == ([], [])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda s: orders_model(s).pop("table"), r"^semantic model orders: 'table'$", id="model without table"
        ),
        pytest.param(
            lambda s: s["metrics"].append({"name": "x", "type": "simple", "measure": "order_total", "colour": "red"}),
            r"^metric x: .*unexpected keyword argument 'colour'$",
            id="unknown metric key",
        ),
        pytest.param(
            lambda s: orders_model(s)["dimensions"].append({"name": "d", "kind": "time"}),
            r"^semantic model orders: .*unexpected keyword argument 'kind'$",
            id="unknown dimension key",
        ),
        pytest.param(
            lambda s: orders_model(s)["measures"].append({"name": "m"}),
            r"^semantic model orders: .*missing 1 required positional argument: 'agg'$",
            id="measure without agg",
        ),
        pytest.param(
            lambda s: s["metrics"][6]["inputs"].append({"metric": "revenue", "shift": 1}),
            r"^metric revenue_growth: .*unexpected keyword argument 'shift'$",
            id="unknown input key",
        ),
        pytest.param(
            lambda s: s["semantic_models"].update(orders="shop.orders"),
            r"^semantic model orders: a model is a mapping \(table, entities, dimensions, measures\), "
            r"not 'shop.orders'$",
            id="model not a mapping",
        ),
        pytest.param(
            lambda s: s["metrics"].append("revenue"),
            r"^a metric is a mapping \(name, type, \.\.\.\), not 'revenue'$",
            id="metric not a mapping",
        ),
        pytest.param(
            lambda s: s.update(metrics={"revenue": {}}),
            r"^metrics must be a list, not dict$",
            id="metrics not a list",
        ),
        pytest.param(
            lambda s: s.update(semantic_models=["orders"]),
            r"^semantic_models must map model names to models, not list$",
            id="models not a mapping",
        ),
    ],
)
def test_malformed_entries(change, message):
    with pytest.raises(MetricError, match=message):
        parse(changed(change))


def test_errors_name_the_origin():
    with pytest.raises(MetricError, match=r"^semantic_models\.yml: semantic model orders: 'table'$"):
        parse(changed(lambda s: orders_model(s).pop("table")), origin="semantic_models.yml")
    with pytest.raises(MetricError, match=r"^layer\.yml: a semantic layer is a mapping .*, not list$"):
        parse(["metrics"], origin="layer.yml")
