"""The pipeline runner behind ``duckbook run``.

A run:

1. finds the stage notebooks (:mod:`duckbook.run.stages`) and validates the ``-p NAME=VALUE``
   parameters against what they declare, before anything is written;
2. takes the run lock (:mod:`duckbook.engine.lock`): one writer at a time;
3. executes every stage in one warm kernel (:mod:`duckbook.run.kernel`), keeping
   each executed notebook under ``reports/runs/<run_id>/``; the stages write through the kernel's
   one connection in one transaction (:mod:`duckbook.run.session`);
4. renders the report notebooks (``NN_report_<name>``) to ``reports/<name>.html``;
5. writes ``ops.run_log`` and commits everything as one DuckLake snapshot carrying the run id,
   then publishes the pages and ``reports/index.html``.

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
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook import config as _config
from duckbook import engine, ops, params
from duckbook.engine import lake
from duckbook.engine.lock import RunLocked, run_lock
from duckbook.run.kernel import Kernel, KernelError
from duckbook.run.stages import Stage, declared_parameters, discover, select

if TYPE_CHECKING:
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
    "select",
]

#: Parameters the runner fills in for every stage that declares them.
RUN_PARAMETERS = ("run_id", "run_started_at", "run_date", "warehouse")

Echo = Callable[..., None]  # typer.echo-like: echo(message, err=False)


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What a run executes: validated before anything is written."""

    cfg: _config.Config
    stages: tuple[Stage, ...]
    declared: Mapping[str, Mapping[str, str]]  # stage -> parameter -> type name
    parameters: Mapping[str, object]  # the user's, typed
    run_id: str
    started: dt.datetime

    def stage_parameters(self, stage: Stage, warehouse: Path) -> dict[str, object]:
        """The values ``stage`` declares: the run's own (id, start, date, warehouse) and the user's."""
        common = {
            "run_id": self.run_id,
            "run_started_at": self.started.isoformat(),
            "run_date": str(self.parameters.get("run_date") or self.started.date()),
            "warehouse": str(warehouse),
        }
        return {k: v for k, v in {**common, **self.parameters}.items() if k in self.declared[stage.name]}


@dataclasses.dataclass
class RunResult:
    run_id: str
    status: str  # success | failed
    log: list[ops.RunLogEntry]
    warehouse: Path
    reports: list[Path]
    error: str = ""

    @property
    def seconds(self) -> float:
        """Time spent in the stages."""
        return sum(entry.duration_s for entry in self.log)


def plan(
    *,
    stages: Sequence[str] = (),
    parameters: Mapping[str, str] | None = None,
    warehouse: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
) -> RunPlan:
    """Validate a run: stage names and ``NAME=VALUE`` parameters against what the notebooks
    declare. Raises :class:`duckbook.params.ParameterError` naming every problem."""
    cfg = _config.load(warehouse=warehouse, reports_dir=reports_dir)
    chosen = select(discover(cfg), stages)
    if not chosen:
        raise params.ParameterError(f"no stage notebooks found in {cfg.notebooks_dir}")
    declared = declared_parameters(chosen)
    user = params.validate(parameters or {}, declared)
    for reserved in ("warehouse", "run_id", "run_started_at"):
        if reserved in user:
            raise params.ParameterError(f"{reserved}: set by the runner; use --warehouse for the warehouse")
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return RunPlan(cfg, tuple(chosen), declared, user, run_id, started)


def run(plan: RunPlan, echo: Echo | None = None) -> RunResult:
    """Execute a validated :func:`plan` as one atomic run, under the run lock (see module docstring).

    Raises :class:`RunLocked` when another run is in progress, and
    :class:`duckbook.engine.lake.CatalogError` when the warehouse's catalog cannot be opened
    (missing, empty or corrupt beside its data files). A failing stage does not raise:
    the result has ``status == "failed"`` and ``error`` says where and why.
    """
    with run_lock(plan.cfg.lock_file, f"run {plan.run_id}"):
        lake.check_catalog(plan.cfg)  # a broken catalog: one error line, before a kernel starts
        return execute(plan, echo or _echo)


def execute(plan: RunPlan, echo: Echo) -> RunResult:
    """Execute a validated plan (the caller holds the run lock)."""
    from duckbook.publish import site

    cfg = plan.cfg
    run_dir = cfg.runs_dir / plan.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DUCKBOOK_PROJECT_DIR": str(cfg.root),
        "DUCKBOOK_WAREHOUSE": str(cfg.warehouse),
        engine.RUN_ENV: plan.run_id,
    }
    kernel = Kernel(cfg.notebooks_dir, env)
    log: list[ops.RunLogEntry] = []
    pages: list[Page] = []
    error = ""
    echo(f"run {plan.run_id}: {len(plan.stages)} stage(s) -> {cfg.warehouse}")
    try:
        with _terminate_as_interrupt():
            kernel.run(f"from duckbook.run import session; session.begin({plan.run_id!r})")
            for stage in plan.stages:
                entry, page, error = _run_stage(plan, stage, kernel, cfg.warehouse, run_dir)
                log.append(entry)
                pages += [page] if page else []
                echo(f"  {stage.name:<24} {entry.status:<8} {entry.duration_s:6.2f}s")
                if error:
                    break
            if not error:
                log = _commit(kernel, plan, log, run_dir)
    except (KernelError, OSError, RuntimeError) as exc:
        error = error or f"run {plan.run_id} could not publish: {exc}"
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: stop the kernel, record, report like any failure
        error = f"run {plan.run_id} was interrupted ({'SIGTERM' if isinstance(exc, _Terminated) else 'Ctrl-C'})"
        kernel.kill()  # its transaction dies with it; the next run deletes the files it wrote
    finally:
        if error:
            _abort(kernel, plan, log, error, echo)
        kernel.shutdown()

    if not error:
        rendered = [_publish_page(run_dir / page.file, cfg.reports_dir) for page in pages]
        site.write_index(cfg.reports_dir, pages, run_id=plan.run_id, status="success")
    else:
        rendered = []
        # the pages of the last good run stay; the index says this run failed
        site.write_index(cfg.reports_dir, site.published_pages(cfg.reports_dir), run_id=plan.run_id, status="failed")
    entries = [dataclasses.asdict(e) for e in log]
    (run_dir / "run_log.json").write_text(json.dumps(entries, default=str, indent=2), encoding="utf-8")
    return RunResult(plan.run_id, "failed" if error else "success", log, cfg.warehouse, rendered, error)


def _commit(kernel: Kernel, plan: RunPlan, log: list[ops.RunLogEntry], run_dir: Path) -> list[ops.RunLogEntry]:
    """Publish the run as one snapshot (in the kernel, on the stages' connection); return the log
    with the rows each stage published."""
    result = run_dir / "commit.json"
    entries = json.dumps([dataclasses.asdict(e) for e in log], default=str)
    kernel.run(f"from duckbook.run import session; session.commit({plan.run_id!r}, {entries!r}, {str(result)!r})")
    committed = json.loads(result.read_text(encoding="utf-8"))
    return [
        dataclasses.replace(e, rows_written=int(c["rows_written"]))
        for e, c in zip(log, committed["entries"], strict=True)
    ]


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
            meta = site.notebook_meta(executed)
            page = site.Page(
                file=rendered.name,
                title=meta.get("title", stage.name),
                run_id=plan.run_id,
                data_date=meta.get("data_date", "n/a"),
                freshness=meta.get("freshness", "n/a"),
            )
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


def _publish_page(page: Path, reports_dir: Path) -> Path:
    """Copy a rendered page from the run directory into ``reports/`` (atomic rename), leaving
    the original with the run's artifacts."""
    target = reports_dir / page.name
    tmp = target.with_name(f".{page.name}.tmp")
    shutil.copyfile(page, tmp)
    os.replace(tmp, target)
    return target


def _echo(message: str, err: bool = False) -> None:
    print(message, file=sys.stderr if err else sys.stdout)
