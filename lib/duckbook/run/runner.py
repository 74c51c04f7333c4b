"""The pipeline runner behind ``duckbook run``.

A run:

1. finds the stage notebooks (:mod:`duckbook.run.stages`), selects stages (``--stage marts+``)
   and models (``--select``, :mod:`duckbook.run.selection`) and validates the ``-p NAME=VALUE``
   parameters against what the notebooks declare, before anything is written;
2. takes the run lock (:mod:`duckbook.engine.lock`): one writer at a time;
3. skips every stage whose fingerprint (:mod:`duckbook.run.fingerprint`: code, parameters, input
   table versions, delivered files) equals the one it last ran with, unless ``force``; a run with
   nothing to do starts no kernel;
4. executes the other stages with papermill in one warm kernel (:mod:`duckbook.run.kernel`),
   keeping each executed notebook under ``reports/runs/<run_id>/`` and showing their progress
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
from duckbook.events import EVENTS_ENV
from duckbook.run import fingerprint, summary
from duckbook.run.fingerprint import Known
from duckbook.run.kernel import KERNEL, Kernel, KernelError
from duckbook.run.progress import Progress
from duckbook.run.stages import Stage, declared_parameters, discover
from duckbook.run.stages import select as select_stages
from duckbook.run.summary import RunSummary

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
    "select_stages",
]

#: Parameters the runner fills in for every stage that declares them.
RUN_PARAMETERS = ("run_id", "run_started_at", "run_date", "warehouse")

Echo = Callable[..., None]  # typer.echo-like: echo(message, err=False)


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What a run executes: validated before anything is written."""

    cfg: _config.Config
    stages: tuple[Stage, ...]  # the selected stages, in order
    declared: Mapping[str, Mapping[str, str]]  # stage -> parameter -> type name (every stage)
    parameters: Mapping[str, object]  # the user's, typed
    run_id: str
    started: dt.datetime
    all_stages: tuple[Stage, ...] = ()  # every stage (what is not selected may be left stale)
    force: bool = False  # run every selected stage even when its fingerprint is unchanged
    models: frozenset[str] | None = None  # --select: the models to build (None: all)

    def stage_parameters(self, stage: Stage, warehouse: Path) -> dict[str, object]:
        """The values ``stage`` declares: the run's own (id, start, date, warehouse) and the user's."""
        common = {
            "run_id": self.run_id,
            "run_started_at": self.started.isoformat(),
            "run_date": str(self.parameters.get("run_date") or self.started.date()),
            "warehouse": str(warehouse),
        }
        return {k: v for k, v in {**common, **self.parameters}.items() if k in self.declared[stage.name]}

    @property
    def source_dir(self) -> Path:
        """Where the run's deliveries are: ``-p source_dir`` (relative to the project root) or the setting."""
        given = Path(str(self.parameters.get("source_dir") or self.cfg.source_dir))
        return given if given.is_absolute() else self.cfg.root / given

    @property
    def run_date(self) -> dt.date:
        value = self.parameters.get("run_date")
        return value if isinstance(value, dt.date) else params.parse_date("run_date", str(value or self.started.date()))


@dataclasses.dataclass
class RunResult:
    run_id: str
    status: str  # success | failed
    log: list[ops.RunLogEntry]
    warehouse: Path
    reports: list[Path]
    error: str = ""
    summary: RunSummary | None = None  # checks and quarantine of a successful run
    notes: list[str] = dataclasses.field(default_factory=list)  # pages not published, alerts sent

    @property
    def seconds(self) -> float:
        """Time spent in the stages."""
        return sum(entry.duration_s for entry in self.log)

    @property
    def executed(self) -> list[str]:
        """The stages the run executed (not skipped, not stale)."""
        return [e.stage for e in self.log if e.status in ("success", "failed") and e.stage != "(run)"]


def plan(
    *,
    stages: Sequence[str] = (),
    parameters: Mapping[str, str] | None = None,
    warehouse: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    force: bool = False,
) -> RunPlan:
    """Validate a run: stages (``NAME``, ``NAME+``, ``+NAME``), models (``select``), exclusions
    (stage or model terms) and ``NAME=VALUE`` parameters against what the notebooks declare.
    Raises :class:`duckbook.params.ParameterError` naming every problem."""
    cfg = _config.load(warehouse=warehouse, reports_dir=reports_dir)
    found = discover(cfg)
    if not found:
        raise params.ParameterError(f"no stage notebooks found in {cfg.notebooks_dir}")
    stage_names = {s.name for s in found} | {s.name.split("_", 1)[1] for s in found}
    stage_excludes = [t for t in exclude if t.strip("+") in stage_names]
    model_excludes = [t for t in exclude if t.strip("+") not in stage_names]
    chosen = select_stages(found, stages, stage_excludes) if stages or not select else []
    models = None
    if select or model_excludes:
        chosen, models = _select_models(cfg, found, chosen, list(select), model_excludes, bool(stages))
    if not chosen:
        raise params.ParameterError("the selection leaves no stage to run")
    declared = declared_parameters(found)
    user = params.validate(parameters or {}, {s.name: declared[s.name] for s in chosen})
    for reserved in ("warehouse", "run_id", "run_started_at"):
        if reserved in user:
            raise params.ParameterError(f"{reserved}: set by the runner; use --warehouse for the warehouse")
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    force = force or bool(user.get("full_refresh"))  # a full refresh asked for is work to do
    return RunPlan(cfg, tuple(chosen), declared, user, run_id, started, tuple(found), force, models)


def _select_models(
    cfg: _config.Config,
    found: Sequence[Stage],
    chosen: Sequence[Stage],
    terms: list[str],
    exclude: list[str],
    with_stages: bool,
) -> tuple[list[Stage], frozenset[str]]:
    """The stages a model selection runs and the models they build (loads the project: Ibis)."""
    from duckbook.project import load as load_project
    from duckbook.run import selection

    project = load_project(cfg)
    resolved = selection.resolve(project.edges, terms, exclude)
    by_group = {s.name.split("_", 1)[1]: s for s in found}
    wanted = {s.name for s in chosen}
    models = set(resolved.models)
    for name in sorted({project.models[m].group for m in resolved.models}):
        if name not in by_group:
            raise params.ParameterError(f"--select: no stage notebook builds group {name!r} (expected NN_{name})")
        wanted.add(by_group[name].name)
    if resolved.sources:
        wanted |= {s.name for s in found if s.report_name is None and s.name.split("_", 1)[1] == "ingest"}
    if resolved.downstream or not terms:
        wanted |= {s.name for s in found if s.report_name is not None}
    if with_stages:  # stages named with --stage build all their models
        models |= {m for m, model in project.models.items() if model.group in {s.name.split("_", 1)[1] for s in chosen}}
    return [s for s in found if s.name in wanted], frozenset(models)


def waiting_deliveries(plan: RunPlan) -> list[str]:
    """The delivered source files (paths under ``source_dir``) up to the run's date that are not
    ingested with their current content: what ``duckbook run --when-new-data`` waits for."""
    import yaml

    from duckbook.ingest import deliveries

    files = []
    for path in plan.cfg.project_files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        sources = (doc or {}).get("sources") or {}
        files += [str(spec["file"]) for spec in sources.values() if isinstance(spec, dict) and "file" in spec]
    ingested: dict[str, str] = {}
    if lake.exists(plan.cfg):
        with engine.connect_plain(plan.cfg, read_only=True) as con:
            if engine.table_exists(con, ops.SCHEMA, "ingest_manifest"):
                rows = con.execute(
                    f"SELECT file_path, arg_max(checksum, ingested_at) FROM {ops.SCHEMA}.ingest_manifest "
                    "WHERE file_path IS NOT NULL GROUP BY file_path"
                ).fetchall()
                ingested = {str(path): str(checksum) for path, checksum in rows}
    found = deliveries.discover(plan.source_dir)
    return deliveries.waiting(found, files, run_date=plan.run_date, ingested=ingested)


def run(plan: RunPlan, echo: Echo | None = None, *, live: bool = False) -> RunResult:
    """Execute a validated :func:`plan` as one atomic run, under the run lock (see module docstring).

    Raises :class:`RunLocked` when another run is in progress, and
    :class:`duckbook.engine.lake.CatalogError` when the warehouse's catalog cannot be opened
    (missing, empty or corrupt beside its data files). A failing stage does not raise:
    the result has ``status == "failed"`` and ``error`` says where and why.
    """
    with run_lock(plan.cfg.lock_file, f"run {plan.run_id}"):
        lake.check_catalog(plan.cfg)  # a broken catalog: one error line, before a kernel starts
        return execute(plan, echo or _echo, live=live)


def execute(plan: RunPlan, echo: Echo, *, live: bool = False) -> RunResult:
    """Execute a validated plan (the caller holds the run lock)."""
    cfg = plan.cfg
    run_dir = cfg.runs_dir / plan.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
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
    known = Known.read(cfg)
    code = fingerprint.code_digest(cfg)
    log: list[ops.RunLogEntry] = []
    pages: list[Page] = []
    error, executed, data_executed = "", False, False
    echo(f"run {plan.run_id}: {len(plan.stages)} stage(s) -> {cfg.warehouse}")
    try:
        with _terminate_as_interrupt():
            for stage in plan.stages:
                values = plan.stage_parameters(stage, cfg.warehouse)
                if not plan.force and not data_executed:  # else its inputs are changing in this run
                    mark = known.fingerprint(plan, stage, values, code)
                    if mark == known.recorded.get(stage.name):
                        log.append(_entry(plan, stage, values, "skipped", fingerprint=mark))
                        show.skipped(stage.name, "unchanged since run " + known.recorded_run.get(stage.name, "?"))
                        continue
                if not executed:
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
    if error:
        return _failed(plan, log, error, run_dir, echo)
    return _finish(plan, log, pages, run_dir, code, echo)


def _finish(
    plan: RunPlan, log: list[ops.RunLogEntry], pages: list[Page], run_dir: Path, code: str, echo: Echo
) -> RunResult:
    """After the commit: publish the pages as one release, record fingerprints and stale stages
    with the run log, write the runs page, summarize, alert."""
    from duckbook.publish import release

    cfg = plan.cfg
    notes: list[str] = []
    published: list[Path] = []
    with engine.connect_plain(cfg) as con:
        after = Known.read_from(con)
        ran = {e.stage for e in log}
        stale = [s for s in plan.all_stages if s.name not in ran and after.recorded.get(s.name) is not None]
        stale_entries = []
        for stage in stale:
            values = plan.stage_parameters(stage, cfg.warehouse)
            if after.fingerprint(plan, stage, values, code) != after.recorded[stage.name]:
                stale_entries.append(_entry(plan, stage, values, "stale"))
        try:
            published = release.release(
                cfg.reports_dir,
                run_dir,
                pages,
                run_id=plan.run_id,
                status="success",
                stale=[f"{s.report_name}.html" for s in plan.all_stages if s.report_name and s.name in {e.stage for e in stale_entries}],
            )
            unpublished: set[str] = set()
        except release.ReleaseError as exc:  # the warehouse is committed: the run succeeded, its pages wait
            notes.append(f"warning: {exc}; the reports rerun next time")
            unpublished = {e.stage for e in log if e.status == "success"}
        log = [
            dataclasses.replace(
                e,
                fingerprint=""
                if e.stage in unpublished and _stage(plan, e.stage).report_name
                else after.fingerprint(plan, _stage(plan, e.stage), json.loads(e.parameters), code),
            )
            for e in log
        ] + stale_entries
        _record(con, plan.run_id, log)
        found = summary.summarize(engine.raw(con), plan.run_id) if any(e.status == "success" for e in log) else None
        _write_runs_page(con, cfg, notes)
    for entry in stale_entries:
        echo(f"  {entry.stage:<24} stale    (not selected; its inputs changed: run it with --stage {entry.stage})")
    notes += _alert(cfg, plan, found, "", "")
    (run_dir / "run_log.json").write_text(json.dumps([dataclasses.asdict(e) for e in log], default=str, indent=2), encoding="utf-8")
    return RunResult(plan.run_id, "success", log, cfg.warehouse, published, summary=found, notes=notes)


def _failed(plan: RunPlan, log: list[ops.RunLogEntry], error: str, run_dir: Path, echo: Echo) -> RunResult:
    """A failed run: the pages of the last good run stay; the index says this run failed."""
    from duckbook.publish import release, site

    cfg = plan.cfg
    failed_stage = next((e.stage for e in log if e.status == "failed"), "")
    link = ""
    if failed_stage and (nb := run_dir / f"{failed_stage}.ipynb").is_file():
        link = str(_render_failed(nb) or nb)
    notes: list[str] = []
    try:
        release.recover(cfg.reports_dir)
        site.write_index(cfg.reports_dir, site.published_pages(cfg.reports_dir), run_id=plan.run_id, status="failed")
        with contextlib.suppress(Exception), engine.connect_plain(cfg, read_only=True) as con:
            _write_runs_page(con, cfg, notes)
    except OSError as exc:
        notes.append(f"note: could not update {cfg.reports_dir}: {exc}")
    (run_dir / "run_log.json").write_text(json.dumps([dataclasses.asdict(e) for e in log], default=str, indent=2), encoding="utf-8")
    notes += _alert(cfg, plan, None, error, failed_stage, link)
    return RunResult(plan.run_id, "failed", log, cfg.warehouse, [], error, notes=notes)


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


def _entry(
    plan: RunPlan, stage: Stage, values: Mapping[str, object], status: str, *, fingerprint: str = ""
) -> ops.RunLogEntry:
    """The log entry of a stage the run did not execute (``skipped`` or ``stale``)."""
    now = _utcnow()
    parameters = json.dumps(values, sort_keys=True, default=str)
    return ops.RunLogEntry(plan.run_id, stage.name, status, parameters, now, now, 0.0, 0, "", fingerprint)


def _stage(plan: RunPlan, name: str) -> Stage:
    return next(s for s in plan.all_stages if s.name == name)


def _record(con: duckdb.DuckDBPyConnection, run_id: str, log: Sequence[ops.RunLogEntry]) -> None:
    """Write the run's final log (fingerprints, stale stages) as a snapshot of its own: it
    changes only ``ops.run_log``, which no fingerprint reads."""
    engine.begin(con)
    try:
        ops.write_run_log(con, log)
    except BaseException:
        engine.rollback(con)
        raise
    engine.publish(con, message=f"run {run_id}: log", extra={"log_of": run_id})


def _write_runs_page(con: duckdb.DuckDBPyConnection, cfg: _config.Config, notes: list[str]) -> None:
    """The runs page (``reports/runs.html``) from the run log."""
    try:
        from duckbook.publish import runs as runs_page

        runs_page.write_runs_page(cfg.reports_dir, ops.run_history(con), generated_at=_utcnow())
    except (OSError, ImportError, AttributeError) as exc:
        notes.append(f"note: could not write the runs page: {exc}")


def _render_failed(notebook: Path) -> Path | None:
    try:
        from duckbook.publish import runs as runs_page

        return runs_page.render_failed_notebook(notebook)
    except (ImportError, AttributeError):
        return None


def _alert(
    cfg: _config.Config, plan: RunPlan, found: RunSummary | None, error: str, stage: str, link: str = ""
) -> list[str]:
    """Send the run's alerts (see :mod:`duckbook.run.alerts`); the lines say what was sent."""
    from duckbook.run import alerts

    settings = alerts.AlertSettings.from_config(cfg)
    notice = alerts.Notice(
        run_id=plan.run_id,
        status="failed" if error else "success",
        stage=stage,
        error="\n".join(error.splitlines()[:6]),
        failed_checks=tuple(f.text() for f in found.findings if f.status == "fail") if found else (),
        warnings=tuple(f.text() for f in found.findings if f.status == "warn") if found else (),
        quarantined=tuple(q.text() for q in found.quarantined) if found else (),
        warehouse=str(cfg.warehouse),
        link=link or str(cfg.reports_dir / "runs.html"),
    )
    return [f"alert {line}" for line in alerts.send(settings, notice)]


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
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from duckbook.publish import site

    values = plan.stage_parameters(stage, warehouse)
    out_nb = run_dir / stage.path.name
    t0, started = time.perf_counter(), _utcnow()
    page, error = None, ""
    try:
        papermill.execute_notebook(
            str(stage.path),
            str(out_nb),
            parameters=values,
            kernel_name=KERNEL,
            km=kernel.manager(),
            cwd=str(plan.cfg.notebooks_dir),
            progress_bar=False,
            log_output=False,
        )
        if stage.report_name:  # rendered into the run directory; published only if the whole run succeeds
            rendered = site.render_html(out_nb, run_dir / f"{stage.report_name}.html")
            meta = site.read_meta(out_nb)
            page = site.Page(
                file=rendered.name,
                title=meta.get("title", stage.name),
                run_id=plan.run_id,
                data_date=meta.get("data_date", "n/a"),
                freshness=meta.get("freshness", "n/a"),
            )
    except PapermillExecutionError as exc:
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
