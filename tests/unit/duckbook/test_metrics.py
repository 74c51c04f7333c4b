"""duckbook.metrics, the public door: the project's semantic layer loaded from its YAML file, and
metrics queried from the project's warehouse."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

import duckbook.semantic
from duckbook import metrics
from tests.unit.duckbook.semantic.sample import LAYER, shop_tables
from tests.unit.helpers import rows

LAYER_YML = """\
semantic_models:
  orders:
    table: shop.orders
    dimensions: [{name: ordered_at, type: time}, {name: channel}]
    measures: [{name: order_total, agg: sum, expr: total}]
metrics:
  - {name: revenue, type: simple, measure: order_total}
"""


def test_the_public_names_are_the_semantic_layers():
    assert metrics.SemanticLayer is duckbook.semantic.SemanticLayer
    assert metrics.MetricError is duckbook.semantic.MetricError
    assert list(metrics.GRAINS) == ["day", "week", "month", "quarter", "year"]


def test_load_a_yaml_file(tmp_path):
    path = tmp_path / "layer.yml"
    path.write_text(LAYER_YML, encoding="utf-8")
    layer = metrics.load(path)
    assert list(layer.metrics) == ["revenue"]
    assert rows(layer.query(["revenue"], shop_tables(), grain=None)) == [{"revenue": 145.0}]
    assert list(metrics.load(str(path)).metrics) == ["revenue"]


def test_load_defaults_to_the_configured_layer(tmp_path, monkeypatch):
    path = tmp_path / "configured.yml"
    path.write_text(LAYER_YML, encoding="utf-8")
    monkeypatch.setenv("DUCKBOOK_SEMANTIC_LAYER", str(path))
    assert list(metrics.load().metrics) == ["revenue"]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(metrics.MetricError, match=r"cannot read semantic layer .*missing\.yml"):
        metrics.load(tmp_path / "missing.yml")
    unparsable = tmp_path / "unparsable.yml"
    unparsable.write_text("metrics: [\n", encoding="utf-8")
    with pytest.raises(metrics.MetricError, match=r"cannot read semantic layer .*unparsable\.yml"):
        metrics.load(unparsable)
    bad = tmp_path / "bad.yml"
    bad.write_text("metrics:\n  - {name: x, type: simple, measure: nope}\n", encoding="utf-8")
    with pytest.raises(metrics.MetricError, match=r"bad\.yml: metric x: unknown measure 'nope'"):
        metrics.load(bad)


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse file with the shop's tables in schema ``shop``."""
    path = tmp_path / "warehouse.duckdb"
    con = ibis.duckdb.connect(str(path))
    con.raw_sql("CREATE SCHEMA shop")
    for name, table in shop_tables().items():
        con.create_table(name.split(".")[1], table, database="shop")
    con.disconnect()
    return path


@pytest.mark.slow
def test_query_reads_the_warehouse(warehouse, tmp_path, monkeypatch):
    got = metrics.query(["revenue", "orders"], by=["location_name"], grain=None, warehouse=str(warehouse), layer=LAYER)
    assert rows(got) == [
        {"location_name": "Brooklyn", "revenue": 110.0, "orders": 5},
        {"location_name": "Chicago", "revenue": 35.0, "orders": 2},
    ]
    assert rows(
        metrics.query(["revenue"], grain="year", start="2024-01-01", warehouse=str(warehouse), layer=LAYER)
    ) == [{"period": dt.date(2024, 1, 1), "revenue": 120.0}]
    # the configured layer and warehouse by default
    (tmp_path / "layer.yml").write_text(LAYER_YML, encoding="utf-8")
    monkeypatch.setenv("DUCKBOOK_SEMANTIC_LAYER", str(tmp_path / "layer.yml"))
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(warehouse))
    assert rows(metrics.query(["revenue"], by=["channel"], grain=None)) == [
        {"channel": "app", "revenue": 75.0},
        {"channel": "web", "revenue": 65.0},
        {"channel": None, "revenue": 5.0},
    ]


@pytest.mark.slow
def test_query_errors(warehouse, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist yet"):
        metrics.query(["revenue"], warehouse=str(tmp_path / "none.duckdb"), layer=LAYER)
    with pytest.raises(metrics.MetricError, match=r"unknown metric\(s\) \['revenu'\]"):
        metrics.query(["revenu"], warehouse=str(warehouse), layer=LAYER)
