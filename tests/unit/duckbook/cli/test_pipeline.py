"""Names and dates typed on ``duckbook run``, ``backfill`` and ``check``: the error names the option,
the bad value, the closest names and the valid choices or the expected format."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from duckbook import cli

NOWHERE = ["--warehouse", "/nonexistent/warehouse"]


def invoke(*args: str):
    return CliRunner().invoke(cli.app, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--stage", "stagng"], ("error: --stage: unknown stage 'stagng'; did you mean staging or 20_staging? "
         "choose from: 10_ingest, 20_staging, 30_marts,")),
        (["run", "--select", "ordrs+"], "error: --select: unknown model or source 'ordrs'; did you mean orders"),
        (["run", "--exclude", "stg_ordrs"], "error: --exclude: unknown model or source 'stg_ordrs'; did you mean stg_orders"),
        (["run", "-p", "run_dat=2024-01-01"], ("error: invalid parameter(s):\n- -p: unknown parameter 'run_dat'; "
         "did you mean run_date or run_id? choose from: ")),
        (["run", "-p", "run_date=tomorow"], ("error: invalid parameter(s):\n- run_date: 'tomorow' is not a date "
         "(expected YYYY-MM-DD, today or yesterday)")),
        (["backfill", "--start", "2024-01-01", "--end", "next week"], ("error: --end: 'next week' is not a date "
         "(expected YYYY-MM-DD, today or yesterday)")),
        (["check", "--run-date", "tomorow"], "error: --run-date: 'tomorow' is not a date (expected YYYY-MM-DD, today"),
        (["check", "--select", "ordrs"], "error: --select: unknown table with checks 'ordrs'; did you mean orders"),
    ],
)  # fmt: skip
def test_a_typo_names_the_option_the_value_and_the_choices(args, message):
    result = invoke(*args, *NOWHERE)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message), result.output


def test_yesterday_is_a_run_date():
    result = invoke("check", "--run-date", "yesterday", *NOWHERE)
    assert "not a date" not in result.output
    assert "does not exist yet: run `duckbook run` (or `make run`) first" in result.output


@pytest.mark.parametrize("command", [["docs"], ["runs"], ["metrics", "query", "revenue"], ["export", "marts"]])
def test_every_missing_warehouse_says_the_same_thing(command, tmp_path):
    extra = ["--to", str(tmp_path / "x.duckdb")] if command[0] == "export" else []
    result = invoke(*command, *extra, "--warehouse", str(tmp_path / "none"))
    assert result.exit_code == 2, result.output
    assert (
        result.output
        == f"error: warehouse {tmp_path / 'none'} does not exist yet: run `duckbook run` (or `make run`) first\n"
    )


def test_when_new_data_always_runs_a_project_that_polls_api_or_cdc_sources(monkeypatch, tmp_path):
    from duckbook.run import runner

    ran = []
    monkeypatch.setattr(
        runner,
        "run",
        lambda plan, **kw: ran.append(plan) or runner.RunResult("x", "failed", [], tmp_path, [], error="stop"),
    )
    monkeypatch.setenv(
        "DUCKBOOK_PROJECT_FILES",
        "lib/jaffle_shop/sources_cdc.yml,lib/jaffle_shop/models.yml,lib/jaffle_shop/semantic_models.yml",
    )
    result = invoke("run", "--when-new-data", "--warehouse", str(tmp_path / "wh"))
    assert "the project has API or CDC sources (only polling tells whether they have new data): running" in (
        result.output
    )
    assert len(ran) == 1
