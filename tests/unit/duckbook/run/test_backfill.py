"""duckbook.run.backfill: one run per date in order, skipping dates done, resuming at a failure.

The runs are faked (no kernels): a fake runner writes the run log a real run would write into an
in-memory DuckDB, and the real :func:`done_dates` reads it back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from duckbook import cli, config, engine, ops
from duckbook.engine.lock import RunLocked
from duckbook.params import ParameterError
from duckbook.run import backfill as bf
from duckbook.run import runner
from duckbook.run.runner import RunPlan, RunResult

D = dt.date
T0 = dt.datetime(2026, 1, 1)


class FakeRunner:
    """Stands in for runner.run: records the run log a real run writes (success: a row per stage;
    failure: the stages up to the failing one, which fails) and fails on the dates in ``fail``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, fail: tuple[D, ...] = ()) -> None:
        self.con, self.fail, self.dates = con, set(fail), []
        self.lines: list[tuple[str, bool]] = []  # what the runner would echo

    def __call__(self, plan: RunPlan, echo: runner.Echo | None = None) -> RunResult:
        day = D.fromisoformat(str(plan.parameters["run_date"]))
        self.dates.append(day)
        failing = day in self.fail
        stages = plan.stages[:2] if failing else plan.stages
        log = [
            log_entry(plan.run_id, s.name, json.dumps(plan.stage_parameters(s, plan.cfg.warehouse)), len(self.dates))
            for s in stages
        ]
        if failing:
            log[-1] = dataclasses.replace(log[-1], status="failed", error="stage failed in cell 3")
        ops.write_run_log(self.con, log)
        if echo is not None:  # what runner.run echoes while it runs
            echo(f"run {plan.run_id}: {len(plan.stages)} stage(s) -> {plan.cfg.warehouse}")
            echo(f"  {stages[0].name:<24} success    1.00s")
        error = (
            f"stage {stages[-1].name} failed in cell 3 of {stages[-1].path}:\nValueError: boom\nkept at x"
            if failing
            else ""
        )
        return RunResult(plan.run_id, "failed" if failing else "success", log, plan.cfg.warehouse, [], error)


def log_entry(run_id: str, stage: str, parameters: str, minute: int = 0, status: str = "success") -> ops.RunLogEntry:
    started = T0 + dt.timedelta(minutes=minute)
    return ops.RunLogEntry(run_id, stage, status, parameters, started, started, 1.0, 0)


@pytest.fixture
def con():
    with duckdb.connect() as c:
        engine.ensure_schema(c, ops.SCHEMA)
        yield c


@pytest.fixture
def stages() -> list[str]:
    return [s.name for s in runner.discover(config.load())]


def call(con, start: D, end: D, fake: FakeRunner, tmp_path: Path, lines: list | None = None, **kw) -> bf.BackfillResult:
    """backfill() with the fake runner and the run log in ``con``; date lines go to ``lines``."""
    return bf.backfill(
        start,
        end,
        warehouse=tmp_path / "wh",
        reports_dir=tmp_path / "reports",
        run_one=fake,
        done=lambda plan: bf.done_dates(con, [s.name for s in plan.stages]),
        echo=lambda message, err=False: (lines if lines is not None else []).append(message),
        **kw,
    )


def write_run(con, run_id: str, day: str, stages: list[str], *, minute: int = 0, failed: bool = False) -> None:
    """A run of ``stages`` with run_date ``day`` in the run log (the last stage failed if ``failed``)."""
    log = [log_entry(run_id, s, json.dumps({"run_date": day, "run_id": run_id}), minute) for s in stages]
    if failed:
        log.append(log_entry(run_id, "(run)", "{}", minute, status="failed"))
    ops.write_run_log(con, log)


# -- dates, order, skipping ---------------------------------------------------------------------


def test_a_backfill_never_imports_ibis_and_rich_only_for_the_bar():
    code = "import sys, duckbook.run.backfill; assert not {'ibis', 'rich'} & set(sys.modules), 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dates_span_the_range_inclusive_across_months():
    assert bf.dates(D(2024, 1, 30), D(2024, 2, 2)) == [D(2024, 1, 30), D(2024, 1, 31), D(2024, 2, 1), D(2024, 2, 2)]
    assert bf.dates(D(2024, 1, 1), D(2024, 1, 1)) == [D(2024, 1, 1)]


def test_one_run_per_date_in_date_order_with_the_users_parameters(con, tmp_path):
    fake, lines = FakeRunner(con), []
    result = call(con, D(2024, 1, 30), D(2024, 2, 1), fake, tmp_path, lines, parameters={"source_dir": "data/x"})
    assert fake.dates == [D(2024, 1, 30), D(2024, 1, 31), D(2024, 2, 1)]
    assert result.done == (D(2024, 1, 30), D(2024, 1, 31), D(2024, 2, 1))
    assert (result.skipped, result.failed, result.run_id, result.error) == ((), None, "", "")
    assert [line.split()[:2] for line in lines] == [[str(d), "success"] for d in result.done]
    assert result.summary().startswith("backfill 2024-01-30..2024-02-01: 3 date(s) run, 0 already done (skipped) in ")
    stored = con.execute("SELECT parameters FROM ops.run_log WHERE stage = '10_ingest' ORDER BY started_at").fetchall()
    assert [json.loads(p)["source_dir"] for (p,) in stored] == ["data/x"] * 3


def test_dates_done_by_a_successful_run_of_every_stage_are_skipped(con, tmp_path, stages):
    write_run(con, "r-done", "2024-01-02", stages)  # done
    write_run(con, "r-failed", "2024-01-03", stages, failed=True)  # a failed run does not count
    write_run(con, "r-part", "2024-01-04", ["20_staging"])  # only some stages: not done for a full run
    fake, lines = FakeRunner(con), []
    result = call(con, D(2024, 1, 1), D(2024, 1, 4), fake, tmp_path, lines)
    assert fake.dates == [D(2024, 1, 1), D(2024, 1, 3), D(2024, 1, 4)]
    assert (result.done, result.skipped) == ((D(2024, 1, 1), D(2024, 1, 3), D(2024, 1, 4)), (D(2024, 1, 2),))
    assert "2024-01-02  skipped  done by run r-done" in lines
    assert "3 date(s) run, 1 already done (skipped)" in result.summary()


def test_a_run_of_more_stages_makes_a_date_done_for_a_selection(con, tmp_path, stages):
    write_run(con, "r-all", "2024-01-01", stages)
    write_run(con, "r-part", "2024-01-02", ["20_staging"])
    fake = FakeRunner(con)
    result = call(con, D(2024, 1, 1), D(2024, 1, 3), fake, tmp_path, stages=["staging"])
    assert result.skipped == (D(2024, 1, 1), D(2024, 1, 2))
    assert fake.dates == [D(2024, 1, 3)]


# -- failures, resuming, restarting -------------------------------------------------------------


def test_a_failed_date_stops_the_backfill_and_a_rerun_continues_from_it(con, tmp_path):
    fake, lines = FakeRunner(con, fail=(D(2024, 1, 3),)), []
    result = call(con, D(2024, 1, 1), D(2024, 1, 5), fake, tmp_path, lines)
    assert fake.dates == [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3)]  # nothing after the failed date
    assert (result.done, result.failed) == ((D(2024, 1, 1), D(2024, 1, 2)), D(2024, 1, 3))
    assert result.run_id and "ValueError: boom" in result.error
    assert lines[-1] == f"2024-01-03  failed   run {result.run_id}"
    summary = result.summary()
    assert "\n" not in summary
    assert summary.startswith(f"backfill 2024-01-01..2024-01-05 stopped at 2024-01-03 (run {result.run_id}): stage ")
    assert "failed in cell 3 of " in summary and "; ValueError: boom; kept at x; 2 date(s) run before it" in summary
    assert summary.endswith("run the same backfill again (without --restart) to continue from 2024-01-03")

    rerun = FakeRunner(con)  # the cause fixed: the same command
    again = call(con, D(2024, 1, 1), D(2024, 1, 5), rerun, tmp_path)
    assert rerun.dates == [D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 5)]
    assert again.skipped == (D(2024, 1, 1), D(2024, 1, 2)) and again.failed is None


def test_restart_reruns_every_date_without_reading_the_run_log(con, tmp_path):
    call(con, D(2024, 1, 1), D(2024, 1, 2), FakeRunner(con), tmp_path)

    def never(plan: RunPlan) -> dict:
        raise AssertionError("restart must not read the run log")

    fake = FakeRunner(con)
    result = bf.backfill(
        D(2024, 1, 1), D(2024, 1, 2), warehouse=tmp_path / "wh", restart=True, run_one=fake, done=never, echo=print
    )
    assert fake.dates == [D(2024, 1, 1), D(2024, 1, 2)] and result.skipped == ()


def test_ctrl_c_outside_a_run_stops_at_that_date(con, tmp_path):
    fake = FakeRunner(con)

    def interrupted_on_the_second(plan: RunPlan) -> RunResult:
        if fake.dates:
            raise KeyboardInterrupt
        return fake(plan)

    result = call(con, D(2024, 1, 1), D(2024, 1, 3), interrupted_on_the_second, tmp_path)
    assert (result.done, result.failed, result.run_id) == ((D(2024, 1, 1),), D(2024, 1, 2), "")
    assert "stopped at 2024-01-02: interrupted (Ctrl-C) before its run started" in result.summary()


def test_a_locked_warehouse_stops_with_the_lock_error(con, tmp_path):
    def locked(plan: RunPlan) -> RunResult:
        raise RunLocked("the warehouse is locked by run r0 (pid 1)")

    with pytest.raises(RunLocked, match="locked by run r0"):
        call(con, D(2024, 1, 1), D(2024, 1, 2), locked, tmp_path)


# -- validation before any run ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "kw", "message"),
    [
        (D(2024, 1, 5), D(2024, 1, 1), {}, r"--start 2024-01-05 is after --end 2024-01-01"),
        (D(2024, 1, 1), D(2024, 1, 2), {"parameters": {"run_date": "2024-01-01"}}, r"run_date: set by backfill .*-p"),
        (D(2024, 1, 1), D(2024, 1, 2), {"stages": ["nope"]}, r"--stage: unknown stage 'nope'; choose from: 10_ingest"),
        (D(2024, 1, 1), D(2024, 1, 2), {"parameters": {"bogus": "1"}}, r"unknown parameter 'bogus'"),
    ],
)
def test_bad_arguments_are_refused_before_any_run(con, tmp_path, start, end, kw, message):
    fake = FakeRunner(con)
    with pytest.raises(ParameterError, match=message):
        call(con, start, end, fake, tmp_path, **kw)
    assert fake.dates == []


def test_a_warehouse_not_created_yet_has_no_date_done(con, tmp_path):
    fake = FakeRunner(con)
    result = bf.backfill(D(2024, 1, 1), D(2024, 1, 2), warehouse=tmp_path / "none", run_one=fake, echo=print)
    assert fake.dates == [D(2024, 1, 1), D(2024, 1, 2)] and result.failed is None
    assert not (tmp_path / "none").exists()  # reading did not create it


# -- the run log reader -------------------------------------------------------------------------


def test_done_dates_newest_successful_complete_run_per_date(con, stages):
    assert bf.done_dates(con, stages) == {}  # nothing ran yet
    write_run(con, "r1", "2024-01-01", stages, minute=1)
    write_run(con, "r2", "2024-01-01", stages, minute=2)  # newer run of the same date wins
    write_run(con, "r3", "2024-01-01", stages, minute=3, failed=True)  # a newer failure does not undo it
    write_run(con, "r4", "2024-01-02", stages[:1], minute=4)
    ops.write_run_log(con, [log_entry("r5", s, "{}", 5) for s in stages])  # no stage declared run_date
    ops.write_run_log(con, [log_entry("r6", s, "not json", 6) for s in stages])
    assert bf.done_dates(con, stages) == {D(2024, 1, 1): "r2"}
    assert bf.done_dates(con, stages[:1]) == {D(2024, 1, 1): "r2", D(2024, 1, 2): "r4"}


@pytest.mark.slow
def test_done_dates_on_a_real_warehouse(con, tmp_path, stages):
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "wh")
    with engine.connect_plain(cfg) as writer:  # creates the DuckLake warehouse
        engine.ensure_schema(writer, ops.SCHEMA)
        write_run(writer, "r1", "2024-01-02", stages)
        write_run(writer, "r2", "2024-01-03", stages, failed=True)
    fake = FakeRunner(con)
    result = bf.backfill(D(2024, 1, 1), D(2024, 1, 3), warehouse=cfg.warehouse, run_one=fake, echo=print)
    assert result.skipped == (D(2024, 1, 2),)
    assert fake.dates == [D(2024, 1, 1), D(2024, 1, 3)]


# -- what is shown ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_one_line_per_date_and_the_runners_errors_only(con, tmp_path, monkeypatch):
    stdout = io.StringIO()  # not a TTY: no bar even with progress=True
    monkeypatch.setattr("sys.stdout", stdout)
    fake, lines = FakeRunner(con), []

    def runner_run(plan: RunPlan, echo: runner.Echo) -> RunResult:
        echo("note: could not record the failed run", err=True)
        return fake(plan, echo)

    monkeypatch.setattr(runner, "run", runner_run)
    bf.backfill(
        D(2024, 1, 1),
        D(2024, 1, 2),
        warehouse=tmp_path / "none",
        echo=lambda message, err=False: lines.append((message, err)),
        progress=True,
    )
    assert [(m.split()[:2], err) for m, err in lines] == [
        (["note:", "could"], True), (["2024-01-01", "success"], False),
        (["note:", "could"], True), (["2024-01-02", "success"], False),
    ]  # fmt: skip
    assert stdout.getvalue() == ""


def test_on_a_terminal_a_progress_bar_unless_turned_off(con, tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    monkeypatch.setenv("COLUMNS", "160")
    lines: list[str] = []
    call(con, D(2024, 1, 1), D(2024, 1, 3), FakeRunner(con), tmp_path, lines)
    shown = terminal.getvalue()
    assert lines == []  # the bar shows the dates, not echo
    assert "2024-01-01  success" in shown and "2024-01-03  success" in shown
    assert "3/3" in shown and "last: 2024-01-03 success" in shown

    terminal.seek(0), terminal.truncate()
    call(con, D(2024, 1, 4), D(2024, 1, 4), FakeRunner(con), tmp_path, lines, progress=False)
    assert [line.split()[:2] for line in lines] == [["2024-01-04", "success"]] and terminal.getvalue() == ""


# -- the command --------------------------------------------------------------------------------


def test_the_command_exits_1_with_one_line_naming_the_date_and_how_to_resume(con, tmp_path, monkeypatch):
    fake = FakeRunner(con, fail=(D(2024, 1, 2),))
    monkeypatch.setattr(runner, "run", fake)
    args = ["backfill", "--start", "2024-01-01", "--end", "2024-01-03", "--warehouse", str(tmp_path / "none")]
    out = CliRunner().invoke(cli.app, args)
    assert out.exit_code == 1, out.output
    assert out.stdout.splitlines()[0].startswith("2024-01-01  success")
    (error,) = out.stderr.splitlines()
    assert error.startswith("error: backfill 2024-01-01..2024-01-03 stopped at 2024-01-02 (run ")
    assert error.endswith("continue from 2024-01-02")
    assert fake.dates == [D(2024, 1, 1), D(2024, 1, 2)]


def test_the_command_sums_up_a_successful_backfill(con, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "run", FakeRunner(con))
    args = ["backfill", "--start", "2024-01-01", "--end", "2024-01-02", "-s", "staging", "--warehouse", str(tmp_path)]
    out = CliRunner().invoke(cli.app, [*args, "--restart"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[-1].startswith("backfill 2024-01-01..2024-01-02: 2 date(s) run, 0 already done")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--start", "2024-02-30", "--end", "2024-03-01"],
            "error: --start: '2024-02-30' is not a date (expected YYYY-MM-DD, today or yesterday)",
        ),
        (
            ["--start", "2024-03-01", "--end", "tomorrow"],
            "error: --end: 'tomorrow' is not a date (expected YYYY-MM-DD, today or yesterday)",
        ),
        (
            ["--start", "2024-03-02", "--end", "2024-03-01"],
            "error: backfill: --start 2024-03-02 is after --end 2024-03-01",
        ),
        (
            ["--start", "2024-03-01", "--end", "2024-03-01", "-p", "run_date=2024-03-01"],
            "error: run_date: set by backfill",
        ),
    ],
)
def test_the_command_refuses_bad_dates_with_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "run", lambda plan, echo: pytest.fail("nothing may run"))
    out = CliRunner().invoke(cli.app, ["backfill", *args, "--warehouse", str(tmp_path / "none")])
    assert out.exit_code == 2
    assert out.stderr.startswith(message) and len(out.stderr.splitlines()) == 1
