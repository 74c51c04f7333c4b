"""duckbook.project.loader: the whole project read once, typed; errors name file and entry.

The toy bakery under tests/fixtures/toy_project is a second domain: loading it proves that the
toolkit hard-wires nothing of the Jaffle Shop.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from duckbook import config, project
from duckbook.errors import ProjectError

TOY = Path(__file__).resolve().parents[3] / "fixtures" / "toy_project"
NOW = dt.datetime(2024, 3, 3, 23, 59, 59)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A copy of the toy project (so tests can break its files) with its package importable."""
    for name in list(os.environ):
        if name.startswith("DUCKBOOK_"):
            monkeypatch.delenv(name)
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    monkeypatch.syspath_prepend(str(root))
    yield root
    import sys

    for mod in [m for m in sys.modules if m == "toy_bakery" or m.startswith("toy_bakery.")]:
        del sys.modules[mod]


def load(root: Path) -> project.Project:
    return project.load(config.load(root))


def test_toy_project_loads_typed(toy):
    p = load(toy)
    assert sorted(p.sources) == ["raw_breads", "raw_sales"]
    assert p.sources["raw_sales"].primary_key == ("sale_id",)
    # declared mart first, built after its inputs
    assert list(p.models) == ["staging.stg_sales", "staging.stg_breads", "marts.sales", "metrics.daily_sales"]
    assert p.edges["marts.sales"] == ("staging.stg_sales", "staging.stg_breads")
    assert p.edges["staging.stg_sales"] == ("raw.raw_sales",)
    assert p.edges["metrics.daily_sales"] == ("marts.sales",)
    assert [m.name for m in p.group("staging")] == ["stg_sales", "stg_breads"]
    assert p.docs["raw.raw_breads"].columns["name"].description == "Name on the shelf label."
    assert p.docs["staging.stg_sales"].description == "One row per sale."
    assert p.metric_descriptions() == {"revenue": "Money taken.", "sales": "Sales rung up."}


def test_checks_come_from_the_yaml_with_the_run_time(toy):
    p = load(toy)
    names = sorted(c.name for c in p.checks("marts.sales", now=NOW))
    assert names == sorted(
        [
            "not_null__sales__sale_id",
            "unique__sales__sale_id",
            "relationship__sales__bread_id__staging.stg_breads",
            "row_count_min__sales",
        ]
    )
    raw = [c.name for c in p.checks("raw.raw_sales", now=NOW)]
    assert raw[:2] == ["not_null__raw_sales__sale_id", "unique__raw_sales__sale_id"]
    assert p.checks("staging.stg_breads", now=NOW) == []


def test_unknown_group_lists_groups(toy):
    with pytest.raises(ProjectError, match=r"no models in group 'mart'; groups are: marts, metrics, staging"):
        load(toy).group("mart")


def test_metric_table_model_computes_from_the_semantic_layer(toy):
    import ibis

    p = load(toy)
    daily = p.models["metrics.daily_sales"]
    sales = ibis.memtable(
        {
            "sale_id": ["a", "b"],
            "bread_id": ["x", "x"],
            "amount": [1.5, 2.0],
            "bread_name": ["r", "r"],
            "sold_at": [dt.datetime(2024, 1, 1, 8), dt.datetime(2024, 1, 1, 9)],
        }
    )
    rows = daily.function(sales).to_pyarrow().to_pylist()
    assert rows == [{"period": dt.date(2024, 1, 1), "revenue": 3.5, "sales": 2}]


def test_yaml_entry_for_an_undeclared_model_is_named(toy):
    yml = toy / "toy_bakery" / "project.yml"
    yml.write_text(yml.read_text().replace("  marts.sales:\n", "  marts.saless:\n"))
    with pytest.raises(ProjectError, match=r"project.yml: models.marts.saless is not a declared model; models are: "):
        load(toy)


def test_bad_yaml_names_the_file(toy):
    (toy / "toy_bakery" / "project.yml").write_text("sources: [unclosed\n")
    with pytest.raises(ProjectError, match=r"project.yml is not valid YAML"):
        load(toy)


def test_unknown_section_is_named(toy):
    yml = toy / "toy_bakery" / "project.yml"
    yml.write_text(yml.read_text() + "\nmodles: {}\n")
    with pytest.raises(ProjectError, match=r"unknown section\(s\)"):
        load(toy)


def test_missing_project_file_is_named(toy):
    (toy / "toy_bakery" / "project.yml").unlink()
    with pytest.raises(ProjectError, match=r"project file .*project.yml cannot be read"):
        load(toy)


def test_package_without_models_module(toy):
    (toy / "toy_bakery" / "models.py").unlink()
    with pytest.raises(ProjectError, match=r"project package 'toy_bakery' \(setting 'package'\) has no models module"):
        load(toy)


def test_models_must_be_declarations(toy):
    (toy / "toy_bakery" / "models.py").write_text("MODELS = ['not a model']\n")
    with pytest.raises(ProjectError, match=r"toy_bakery.models must define MODELS"):
        load(toy)


def test_bad_contract_names_file_and_source(toy):
    yml = toy / "toy_bakery" / "project.yml"
    yml.write_text(yml.read_text().replace("amount_cents: {type: int64", "amount_cents: {type: integer"))
    with pytest.raises(ProjectError, match=r"project.yml: source raw_sales: column amount_cents has type 'integer'"):
        load(toy)


def test_jaffle_shop_project_loads():
    p = project.load(config.load(Path(__file__).resolve().parents[4]))
    assert len(p.sources) == 6
    assert {m.group for m in p.models.values()} == {"staging", "marts", "metrics"}
    assert len(p.group("marts")) == 11
    monthly = p.models["metrics.monthly_by_location"]
    assert "marts.locations" in monthly.inputs and "marts.order_items" in monthly.inputs
