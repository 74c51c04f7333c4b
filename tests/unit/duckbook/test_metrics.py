"""duckbook.metrics, the public door: the project's semantic layer loaded from its YAML file, and
metrics queried from the project's warehouse."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

import duckbook.semantic
from duckbook import config, engine, metrics
from duckbook.errors import ProjectError, WarehouseNotFound
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


@pytest.fixture
def project_dir(tmp_path, monkeypatch):
    """A project whose only project file is a semantic layer (no models package)."""
    for name in [n for n in os.environ if n.startswith("DUCKBOOK_")]:
        monkeypatch.delenv(name)
    (tmp_path / "layer.yml").write_text(LAYER_YML, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool.duckbook]\nproject_files = ["layer.yml"]\n', encoding="utf-8")
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(tmp_path))
    return tmp_path


def test_load_is_the_projects_layer(project_dir):
    layer = metrics.load()
    assert list(layer.metrics) == ["revenue"]
    assert rows(layer.query(["revenue"], shop_tables(), grain=None)) == [{"revenue": 145.0}]


def test_load_errors_name_the_file(project_dir):
    (project_dir / "layer.yml").write_text("metrics: [\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"layer\.yml is not valid YAML"):
        metrics.load()
    (project_dir / "layer.yml").write_text("metrics:\n  - {name: x, type: simple, measure: nope}\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"layer\.yml: metric x: unknown measure 'nope'"):
        metrics.load()


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse file with the shop's tables in schema ``shop``."""
    path = tmp_path / "warehouse"
    cfg = dataclasses.replace(config.load(), warehouse=path)
    con = engine.connect(cfg=cfg)  # the writer: one published snapshot
    engine.begin(con)
    con.raw_sql("CREATE SCHEMA shop")
    for name, table in shop_tables().items():
        con.create_table(name.split(".")[1], table, database="shop")
    engine.publish(con, message="shop", extra={})
    engine.close_writer(cfg)
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

    # the project's layer and the configured warehouse by default
    (tmp_path / "layer.yml").write_text(LAYER_YML, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool.duckbook]\nproject_files = ["layer.yml"]\n', encoding="utf-8")
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(warehouse))
    assert rows(metrics.query(["revenue"], by=["channel"], grain=None)) == [
        {"channel": "app", "revenue": 75.0},
        {"channel": "web", "revenue": 65.0},
        {"channel": None, "revenue": 5.0},
    ]


@pytest.mark.slow
def test_query_errors(warehouse, tmp_path):
    with pytest.raises(WarehouseNotFound, match="does not exist yet"):
        metrics.query(["revenue"], warehouse=str(tmp_path / "none"), layer=LAYER)
    with pytest.raises(metrics.MetricError, match=r"^metrics: unknown metric 'revenu'; did you mean revenue"):
        metrics.query(["revenu"], warehouse=str(warehouse), layer=LAYER)
    with pytest.raises(TypeError, match=r"unknown query argument\(s\) \['grian'\]; choose from: by, grain,"):
        metrics.query(["revenue"], grian="day", warehouse=str(warehouse), layer=LAYER)
