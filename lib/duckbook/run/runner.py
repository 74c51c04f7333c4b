"""The pipeline runner behind ``duckbook run``.

A run:

1. finds the stage notebooks (:mod:`duckbook.run.stages`), selects stages (``--stage marts+``)
   and models (``--select``, :mod:`duckbook.run.selection`) and validates the ``-p NAME=VALUE``
   parameters against what the notebooks declare, before anything is written;
2. takes the run lock (:mod:`duckbook.engine.lock`): one writer at a time;
3. skips every stage whose fingerprint (:mod:`duckbook.run.fingerprint`: code, parameters, input
   table versions, delivered files) equals the one it last ran with, unless ``force``; a run with
   nothing to do starts no kernel;
4. executes the other stages in one warm kernel (:mod:`duckbook.run.kernel`) as papermill would
   (:mod:`duckbook.run.notebook`), keeping each executed notebook under ``reports/runs/<run_id>/``
   and showing their progress
   (:mod:`duckbook.run.progress`); the stages write through the kernel's one connection in one
   transaction (:mod:`duckbook.run.session`); report notebooks (``NN_report_<name>``) are rendered;
5. writes ``ops.run_log`` and commits everything as one DuckLake snapshot carrying the run id;
   then records the stages' fingerprints and the stages left stale, publishes the pages and the
   index as one release (:mod:`duckbook.publish.release`), the runs page, and sends alerts.

Readers see the previous snapshot until that commit, never part of a run. A failed, killed or
interrupted run publishes nothing: its transaction is rolled back (or dies with the kernel; the
next run deletes the files it left) and its failure is recorded alone. The runner process never
imports Ibis.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook import engine, ops
from duckbook.engine.lock import RunLocked, run_lock
from duckbook.events import EVENTS_ENV
from duckbook.run import fingerprint, wrapup
from duckbook.run.fingerprint import Known
from duckbook.run.kernel import Kernel, KernelError
from duckbook.run.plan import RunPlan, RunResult, plan, waiting_deliveries
from duckbook.run.progress import Progress
from duckbook.run.stages import Stage, declared_parameters, discover

if TYPE_CHECKING:
    import duckdb

    from duckbook.publish.site import Page

__all__ = [
    "RUN_PARAMETERS",
    "RunLocked",
    "RunPlan",
    "RunResult",
    "declared_parameters",
    "discover",
    "plan",
    "run",
    "waiting_deliveries",
]

#: Parameters the runner fills in for every stage that declares them.
RUN_PARAMETERS = ("run_id", "run_started_at", "run_date", "warehouse")

Echo = Callable[..., None]  # typer.echo-like: echo(message, err=False)


def run(plan: RunPlan, echo: Echo | None = None, *, live: bool = False) -> RunResult:
    """Execute a validated :func:`plan` as one atomic run, under the run lock (see module docstring).

    Raises :class:`RunLocked` when another run is in progress, and
    :class:`duckbook.engine.lake.CatalogError` when the warehouse's catalog cannot be opened
    (missing, empty or corrupt beside its data files). A failing stage does not raise:
    the result has ``status == "failed"`` and ``error`` says where and why.
    """
    with run_lock(plan.cfg.lock_file, f"run {plan.run_id}"):
        return execute(plan, echo or _echo, live=live)


def execute(plan: RunPlan, echo: Echo, *, live: bool = False) -> RunResult:
    """Execute a validated plan (the caller holds the run lock)."""
    cfg = plan.cfg
    run_dir = cfg.runs_dir / plan.run_id
    events_file = run_dir / "events.jsonl"
    env = {
        **os.environ,
        "DUCKBOOK_PROJECT_DIR": str(cfg.root),
        "DUCKBOOK_WAREHOUSE": str(cfg.warehouse),
        engine.RUN_ENV: plan.run_id,
        EVENTS_ENV: str(events_file),
    }
    if plan.models is not None:
        env[engine.SELECT_ENV] = json.dumps(sorted(plan.models))
    kernel = Kernel(cfg.notebooks_dir, env)
    show = Progress(echo, events_file, live=live)
    # the runner's own connection (a broken catalog fails here, before a kernel starts); closed
    # while the kernel writes, so the kernel's is the only one
    opened = engine.connect_plain(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    con: duckdb.DuckDBPyConnection | None = opened
    known = Known.read_from(opened)
    code = fingerprint.code_digest(cfg)
    log: list[ops.RunLogEntry] = []
    pages: list[Page] = []
    error, executed, data_executed = "", False, False
    snapshot: int | None = None
    echo(f"run {plan.run_id}: {len(plan.stages)} stage(s) -> {cfg.warehouse}")
    try:
        with _terminate_as_interrupt():
            for stage in plan.stages:
                values = plan.stage_parameters(stage, cfg.warehouse)
                if not plan.force and not data_executed:  # else its inputs are changing in this run
                    mark = known.fingerprint(plan, stage, values, code)
                    if mark == known.recorded.get(stage.name):
                        log.append(wrapup.skipped_entry(plan, stage, values, "skipped", fingerprint=mark))
                        show.skipped(stage.name, "unchanged since run " + known.recorded_run.get(stage.name, "?"))
                        continue
                if not executed:
                    _close(con)
                    con = None
                    kernel.run(f"from duckbook.run import session; session.begin({plan.run_id!r})")
                    executed = True
                data_executed |= stage.report_name is None
                with show.stage(stage.name):
                    entry, page, error = _run_stage(plan, stage, kernel, cfg.warehouse, run_dir)
                log.append(entry)
                pages += [page] if page else []
                show.ended(stage.name, entry.status, entry.duration_s)
                if error:
                    break
            if executed and not error:
                log, snapshot = _commit(kernel, plan, log, run_dir)
    except (KernelError, OSError, RuntimeError) as exc:
        error = error or f"run {plan.run_id} could not publish: {exc}"
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: stop the kernel, record, report like any failure
        error = f"run {plan.run_id} was interrupted ({'SIGTERM' if isinstance(exc, _Terminated) else 'Ctrl-C'})"
        kernel.kill()  # its transaction dies with it; the next run deletes the files it wrote
    finally:
        if error:
            _close(con)
            con = None
            _abort(kernel, plan, log, error, echo)
        kernel.shutdown()
    if error:
        return wrapup.failed(plan, log, error, run_dir, echo)
    return wrapup.finish(plan, log, pages, run_dir, code, echo, con or engine.connect_plain(cfg), snapshot)


def _close(con: duckdb.DuckDBPyConnection | None) -> None:
    """Close ``con`` if open; return None (what the caller's variable becomes)."""
    if con is not None:
        con.close()
    return None


def _commit(
    kernel: Kernel, plan: RunPlan, log: list[ops.RunLogEntry], run_dir: Path
) -> tuple[list[ops.RunLogEntry], int]:
    """Publish the run as one snapshot (in the kernel, on the stages' connection); return the log
    with the rows each stage published, and the snapshot's id."""
    result = run_dir / "commit.json"
    entries = json.dumps([dataclasses.asdict(e) for e in log], default=str)
    kernel.run(f"from duckbook.run import session; session.commit({plan.run_id!r}, {entries!r}, {str(result)!r})")
    committed = json.loads(result.read_text(encoding="utf-8"))
    return [
        dataclasses.replace(e, rows_written=int(c["rows_written"]))
        for e, c in zip(log, committed["entries"], strict=True)
    ], int(committed["snapshot_id"])


def _abort(kernel: Kernel, plan: RunPlan, log: list[ops.RunLogEntry], error: str, echo: Echo) -> None:
    """Roll the run back and record its failure (best effort: the disk may be full, the kernel
    dead; the run directory's run_log.json has it anyway)."""
    from duckbook.run import session

    if not log or log[-1].status != "failed":
        log.append(_failure_entry(plan, error))
    else:
        log[-1] = dataclasses.replace(log[-1], error=error)
    entries = json.dumps([dataclasses.asdict(e) for e in log], default=str)
    try:
        if kernel.alive():
            kernel.run(f"from duckbook.run import session; session.abort({plan.run_id!r}, {entries!r})")
        else:
            with engine.connect_plain(plan.cfg) as con:
                session.record_failure(con, plan.run_id, entries)
    except Exception as exc:
        echo(
            f"note: could not record the failed run in {plan.cfg.warehouse} ({exc}); see the run directory's run_log.json",
            err=True,
        )


def _failure_entry(plan: RunPlan, error: str) -> ops.RunLogEntry:
    now = _utcnow()
    return ops.RunLogEntry(plan.run_id, "(run)", "failed", "{}", now, now, 0.0, 0, error)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C: the run's kernel is stopped and nothing is published."""

    def interrupt(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_stage(
    plan: RunPlan, stage: Stage, kernel: Kernel, warehouse: Path, run_dir: Path
) -> tuple[ops.RunLogEntry, Page | None, str]:
    """Execute one stage notebook (and render it, for a report): its log entry, its page, and
    the error that stops the run ("" if none)."""
    from duckbook.publish import site
    from duckbook.run import notebook

    values = plan.stage_parameters(stage, warehouse)
    out_nb = run_dir / stage.path.name
    t0, started = time.perf_counter(), _utcnow()
    page, error = None, ""
    try:
        executed = notebook.execute(stage.path, out_nb, values, kernel)
        if stage.report_name:  # rendered into the run directory; published only if the whole run succeeds
            rendered = site.render_notebook(executed, out_nb.name, run_dir / f"{stage.report_name}.html")
            page = site.Page.from_notebook(executed, file=rendered.name, run_id=plan.run_id, default_title=stage.name)
    except notebook.StageError as exc:
        error = (
            f"stage {stage.name} failed in cell {exc.cell_index + 1} of {stage.path}:\n"
            f"{exc.ename}: {exc.evalue}\nexecuted notebook kept at {out_nb}"
        )
    except Exception as exc:  # kernel died, render failed: still a failed stage
        error = f"stage {stage.name} ({stage.path}) failed: {type(exc).__name__}: {exc}\nexecuted notebook (if any) at {out_nb}"
    entry = ops.RunLogEntry(
        run_id=plan.run_id,
        stage=stage.name,
        status="failed" if error else "success",
        parameters=json.dumps(values, sort_keys=True),
        started_at=started,
        ended_at=_utcnow(),
        duration_s=round(time.perf_counter() - t0, 3),
        rows_written=0,
        error=error.splitlines()[0] if error else "",
    )
    return entry, page, error


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _echo(message: str, err: bool = False) -> None:
    print(message, file=sys.stderr if err else sys.stdout)
