"""duckbook.project.model: declarations, input resolution, DAG order, up/downstream."""

from __future__ import annotations

import pytest

from duckbook.errors import ProjectError
from duckbook.project.model import downstream, metric_table, model, resolve_inputs, topological_order, upstream


def stg_a(raw_a, /):
    return raw_a


def stg_b(raw_b, /):
    return raw_b


def mart(stg_a, stg_b, /):
    return stg_a


def report(mart, /):
    return mart


def test_model_defaults_come_from_the_function():
    m = model(mart, schema="marts")
    assert (m.name, m.inputs, m.schema, m.materialization, m.group) == (
        "mart",
        ("stg_a", "stg_b"),
        "marts",
        "table",
        "marts",
    )
    assert m.qualified == "marts.mart"
    assert m.module == __name__


def test_explicit_name_inputs_and_group():
    m = model(report, schema="marts", name="other", inputs=["marts.mart"], group="late")
    assert (m.name, m.inputs, m.group) == ("other", ("marts.mart",), "late")


def test_unknown_materialization_is_refused():
    with pytest.raises(ProjectError, match=r"model mart: materialization 'view'; use one of table"):
        model(mart, schema="marts", materialization="view")


def test_resolve_inputs_models_then_sources():
    models = [model(stg_a, schema="staging"), model(mart, schema="marts", inputs=["stg_a", "raw.raw_b"])]
    assert resolve_inputs(models, {"raw_a", "raw_b"}) == {
        "staging.stg_a": ("raw.raw_a",),
        "marts.mart": ("staging.stg_a", "raw.raw_b"),
    }


def test_unknown_input_names_model_and_choices():
    with pytest.raises(
        ProjectError, match=r"model marts.mart: unknown input 'stg_b'; models and sources are: mart, stg_a, raw_a"
    ):
        resolve_inputs([model(stg_a, schema="staging"), model(mart, schema="marts")], {"raw_a"})


def test_duplicate_model_name_is_refused():
    with pytest.raises(ProjectError, match=r"model stg_a is declared twice \(staging.stg_a, marts.stg_a\)"):
        resolve_inputs([model(stg_a, schema="staging"), model(stg_a, schema="marts")], {"raw_a"})


def test_topological_order_is_stable_and_respects_inputs():
    models = [
        model(report, schema="marts"),
        model(mart, schema="marts"),
        model(stg_b, schema="staging"),
        model(stg_a, schema="staging"),
    ]
    order = [m.name for m in topological_order(models, {"raw_a", "raw_b"})]
    assert order == ["stg_b", "stg_a", "mart", "report"]


def test_cycle_is_named():
    def a(b, /):
        return b

    def b(a, /):
        return a

    with pytest.raises(ProjectError, match=r"cycle: .*s\.a.*s\.b|cycle: .*s\.b.*s\.a"):
        topological_order([model(a, schema="s"), model(b, schema="s")])


def test_upstream_and_downstream():
    edges = {"s.a": ("raw.x",), "m.b": ("s.a",), "m.c": ("m.b", "raw.y"), "m.d": ("raw.y",)}
    assert downstream(edges, ["s.a"]) == {"s.a", "m.b", "m.c"}
    assert upstream(edges, ["m.c"]) == {"m.c", "m.b", "s.a", "raw.x", "raw.y"}
    # a cycle ends the walk, an iterator is a start too, a node without edges reaches only itself
    assert upstream({"a": ["b"], "b": ["a"]}, iter(["a"])) == {"a", "b"}
    assert downstream(edges, iter(["m.b", "raw.z"])) == {"m.b", "m.c", "raw.z"}


def test_metric_table_declaration():
    t = metric_table("monthly", grain="month", axis="order_time", by=["location_name"])
    assert (t.name, t.grain, t.axis, t.by, t.schema) == (
        "monthly",
        "month",
        "order_time",
        ("location_name",),
        "metrics",
    )
