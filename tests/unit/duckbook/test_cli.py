"""`duckbook runs` (the list, unchanged) and `duckbook runs show RUN_ID` on a fresh lake whose run
log, check results and quarantine are written directly."""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import pytest
from typer.testing import CliRunner

from duckbook import cli, config, engine, ops

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)
OK, FAILED = "20240102T030405Z-aaaaaa", "20240103T030405Z-bbbbbb"


def entry(run_id: str, stage: str, status: str, at: int, **changes: object) -> ops.RunLogEntry:
    start = T0 + dt.timedelta(minutes=at)
    e = ops.RunLogEntry(run_id, stage, status, "{}", start, start + dt.timedelta(seconds=3), 3.0, 40)
    return dataclasses.replace(e, **changes)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    """A warehouse with two runs: OK (ingest, staging; 2 checks passed, 1 warned; 2 rows
    quarantined) and, a day later, FAILED in 30_marts, whose executed notebook was kept."""
    tmp_path = tmp_path_factory.mktemp("cli")
    cfg = dataclasses.replace(
        config.load(), warehouse=tmp_path / "wh", reports_dir=tmp_path / "reports", memory_limit="1GB", threads=1
    )
    with engine.connect_plain(cfg) as con:
        ops.write_run_log(con, [entry(OK, "10_ingest", "success", 0), entry(OK, "20_staging", "success", 1)])
        ops.write_run_log(
            con,
            [
                entry(FAILED, "10_ingest", "skipped", 1440, duration_s=0.0, rows_written=0),
                entry(FAILED, "30_marts", "failed", 1441, rows_written=0, error="stage 30_marts failed\nKeyError: 'x'"),
            ],
        )
        backend = ibis.duckdb.from_connection(con)
        for name, rows in {
            "check_results": [{"run_id": OK, "status": s} for s in ("pass", "pass", "warn")],
            "quarantine": [{"run_id": OK, "line": n} for n in (3, 4)],
        }.items():
            full = [{**dict.fromkeys(ops.columns(name)), **r} for r in rows]
            ops.record(backend, name, ibis.memtable(full, schema=ops.schema(name)), replace_where={})
    notebook = cfg.runs_dir / FAILED / "30_marts.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    return cfg


def invoke(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def test_runs_show_prints_a_run_s_stages_checks_and_quarantine(cfg):
    result = invoke("runs", "show", OK[:10], "--warehouse", str(cfg.warehouse))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"run {OK}  success  started 2024-01-02 03:04:05 UTC  6.0s  80 rows",
        "  10_ingest                success      3.00s         40 rows",
        "  20_staging               success      3.00s         40 rows",
        "checks: 2 pass, 1 warn, 0 fail",
        "quarantined rows: 2",
    ]


def test_runs_show_prints_a_failed_run_s_stage_error_and_notebook(cfg, monkeypatch):
    monkeypatch.setenv("DUCKBOOK_REPORTS_DIR", str(cfg.reports_dir))
    result = invoke("runs", "--warehouse", str(cfg.warehouse), "show", FAILED)  # the group's --warehouse
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"run {FAILED}  failed  started 2024-01-03 03:04:05 UTC")
    assert lines[1] == "  10_ingest                skipped      0.00s          0 rows"
    assert lines[2] == "  30_marts                 failed       3.00s          0 rows  stage 30_marts failed"
    assert lines[3:] == [
        "checks: 0 pass, 0 warn, 0 fail",
        "quarantined rows: 0",
        "failed stage: 30_marts",
        "error:",
        "    stage 30_marts failed",
        "    KeyError: 'x'",
        f"executed notebook: {cfg.runs_dir / FAILED / '30_marts.ipynb'}",
    ]


def test_runs_show_of_an_unknown_run_exits_2_naming_the_recent_runs(cfg):
    result = invoke("runs", "show", "nope", "--warehouse", str(cfg.warehouse))
    assert result.exit_code == 2
    assert result.output == f"error: no run 'nope' in ops.run_log; the most recent runs: {FAILED}, {OK}\n"
    ambiguous = invoke("runs", "show", "2024", "--warehouse", str(cfg.warehouse))
    assert ambiguous.exit_code == 2 and "is ambiguous" in ambiguous.output


def test_runs_without_a_subcommand_still_lists_the_runs(cfg):
    result = invoke("runs", "--limit", "1", "--warehouse", str(cfg.warehouse))
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["run", "status", "started", "(UTC)", "seconds", "rows", "snapshot", "error"]
    assert rows[0].split()[:2] == [FAILED, "failed"]
    assert rows[1:] == ["KeyError: 'x'"]  # the error's second line (as before `runs show` existed)
    assert "show" in invoke("runs", "--help").output
