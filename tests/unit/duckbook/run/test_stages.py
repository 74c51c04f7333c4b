"""Runner pieces that need no kernel: stage discovery and selection, parameters, the lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from duckbook import config, params
from duckbook.run import runner
from duckbook.run.stages import select as select_stages

ROOT = Path(__file__).resolve().parents[4]


def stages():
    return runner.discover(config.load(ROOT))


def test_discover_finds_numbered_notebooks_in_order(tmp_path):
    for name in ["20_b.ipynb", "10_a.ipynb", "50_report_sales.ipynb", "notes.ipynb", "1_x.ipynb", "30_c.py"]:
        (tmp_path / name).write_text("{}")
    found = runner.discover(config.load(ROOT, notebooks_dir=str(tmp_path)))
    assert [s.name for s in found] == ["10_a", "20_b", "50_report_sales"]
    assert [s.report_name for s in found] == [None, None, "sales"]


def test_project_stages_are_numbered_and_reports_last():
    found = stages()
    assert found and all(s.name[:2].isdigit() for s in found)
    reports = [s.report_name is not None for s in found]
    assert reports == sorted(reports), "report stages come after the build stages"


def test_select_by_full_or_short_name_keeps_pipeline_order():
    chosen = select_stages(stages(), ["marts", "10_ingest"])
    assert [s.name for s in chosen] == ["10_ingest", "30_marts"]
    with pytest.raises(params.ParameterError, match="unknown stage"):
        select_stages(stages(), ["nope"])


def test_plus_selects_downstream_or_upstream_stages_and_exclude_removes():
    names = lambda chosen: [s.name for s in chosen]
    assert names(select_stages(stages(), ["marts+"])) == [
        "30_marts", "40_metrics", "50_report_customers", "50_report_overview", "50_report_quality"
    ]  # fmt: skip
    assert names(select_stages(stages(), ["+marts"])) == ["10_ingest", "20_staging", "30_marts"]
    assert names(select_stages(stages(), ["+report_quality"])) == [
        "10_ingest", "20_staging", "30_marts", "40_metrics", "50_report_quality"
    ]  # fmt: skip
    assert names(select_stages(stages(), ["report_overview+"])) == ["50_report_overview"]  # a report feeds nothing
    assert names(select_stages(stages(), ["staging+"], exclude=["metrics+"])) == ["20_staging", "30_marts"]
    assert names(select_stages(stages(), [], exclude=["report_customers", "report_quality"])) == [
        "10_ingest", "20_staging", "30_marts", "40_metrics", "50_report_overview"
    ]  # fmt: skip
    with pytest.raises(
        params.ParameterError, match=r"^--stage: unknown stage 'mart'; did you mean marts\? choose from: 10_ing"
    ):
        select_stages(stages(), ["mart+"])
    with pytest.raises(
        params.ParameterError, match=r"^--exclude: unknown stage 'overveiw'; did you mean overview\? choose"
    ):
        select_stages(stages(), [], exclude=["overveiw"])


def test_declared_parameters_and_validation():
    declared = runner.declared_parameters(stages())
    assert declared["10_ingest"]["source_dir"] == "str"
    assert "source_dir" not in declared["20_staging"]
    assert params.validate({"run_date": "2019-08-11"}, declared) == {"run_date": "2019-08-11"}
    with pytest.raises(params.ParameterError, match="unknown parameter 'x'.*source_dir"):
        params.validate({"x": "1"}, declared)


def test_declared_in_notebook_rejects_code_in_parameters_cell(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nx: int = 1", metadata={"tags": ["parameters"]})]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(params.ParameterError, match="line 1"):
        params.declared_in_notebook(path)


def test_run_lock_is_exclusive(tmp_path):
    lock = tmp_path / "wh" / "run.lock"
    with runner.run_lock(lock), pytest.raises(runner.RunLocked, match="another run"), runner.run_lock(lock):
        pass
    with runner.run_lock(lock):  # released
        pass


def test_run_executes_a_plan_only_under_the_run_lock(tmp_path):
    the_plan = runner.plan(stages=["20_staging"], warehouse=tmp_path / "wh", reports_dir=tmp_path / "reports")
    assert [s.name for s in the_plan.stages] == ["20_staging"]
    assert the_plan.cfg.warehouse == tmp_path / "wh"
    with runner.run_lock(the_plan.cfg.lock_file), pytest.raises(runner.RunLocked, match="another run"):
        runner.run(the_plan)
    assert not (tmp_path / "reports").exists()  # refused before anything was written
