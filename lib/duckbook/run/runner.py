"""The pipeline runner behind ``duckbook run``.

A run:

1. finds the stage notebooks (``notebooks/NN_*.ipynb``, in number order) and validates the
   ``-p NAME=VALUE`` parameters against what they declare, before anything is written;
2. takes the run lock (``<warehouse>.lock``) so two runs never interleave;
3. copies the live warehouse to a build file and executes every stage against the copy with
   papermill, keeping each executed notebook under ``reports/runs/<run_id>/``;
4. renders the report notebooks (``NN_report_<name>``) to ``reports/<name>.html``;
5. writes ``ops.run_log`` into the copy and swaps it in with one atomic rename, then writes
   ``reports/index.html``.

The live warehouse is never written during a run, so an open notebook never sees a half-built
table and never blocks the run (DuckDB allows one writer per file, and a reader blocks a
writer). A failed run leaves the live warehouse exactly as it was.

All stages run in one warm kernel: the namespace is reset between stages (``%reset -f``), but
imported modules stay loaded, which saves ~2.5 s of imports and ~1 s of kernel start per stage.
``isolated=True`` starts a fresh kernel per stage instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from duckbook import config as _config
from duckbook import engine, ops, params

KERNEL = "python3"
#: Parameters the runner fills in for every stage that declares them.
RUN_PARAMETERS = ("run_id", "run_started_at", "run_date", "warehouse")


class StageFailed(RuntimeError):
    """A stage notebook raised; the message names the notebook, the cell and the error."""


class RunLocked(RuntimeError):
    """Another run holds the warehouse lock."""


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    path: Path

    @property
    def report_name(self) -> str | None:
        """``overview`` for ``50_report_overview``; None for a non-report stage."""
        _, _, rest = self.name.partition("_")
        return rest.removeprefix("report_") if rest.startswith("report_") else None


@dataclasses.dataclass
class RunResult:
    run_id: str
    status: str
    log: list[dict[str, object]]
    warehouse: Path
    reports: list[Path]
    error: str = ""


def discover(cfg: _config.Config) -> list[Stage]:
    """The stage notebooks, in order."""
    return [Stage(p.stem, p) for p in sorted(cfg.notebooks_dir.glob("[0-9][0-9]_*.ipynb"))]


def select(stages: Sequence[Stage], names: Sequence[str]) -> list[Stage]:
    """Stages named ``names`` (full ``20_staging`` or short ``staging``), in pipeline order."""
    if not names:
        return list(stages)
    by_name = {s.name: s for s in stages} | {s.name.split("_", 1)[1]: s for s in stages}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise params.ParameterError(f"unknown stage(s) {unknown}; stages are: {', '.join(s.name for s in stages)}")
    chosen = {by_name[n].name for n in names}
    return [s for s in stages if s.name in chosen]


def declared_parameters(stages: Sequence[Stage]) -> dict[str, dict[str, str]]:
    """``{stage: {parameter: type name}}`` as the notebooks' ``parameters`` cells declare them."""
    return {stage.name: params.declared_in_notebook(stage.path) for stage in stages}


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def run_lock(warehouse: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock for the warehouse for the length of a run."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(f"{warehouse}.lock")
    with open(lock_path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise RunLocked(
                f"another run holds {lock_path} ({f.read().strip() or 'unknown holder'}); try again when it ends"
            ) from None
        f.truncate(0)
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class _Kernel:
    """One kernel reused by every stage of a run (or none, when isolated)."""

    def __init__(self, cwd: Path, env: Mapping[str, str], isolated: bool) -> None:
        self.km = None
        self._sockets = ""
        self.cwd, self.env, self.isolated = cwd, dict(env), isolated

    def manager(self):
        if self.isolated:
            return None
        if self.km is None:
            from jupyter_client.manager import KernelManager

            # Unix sockets in a private temp dir instead of TCP ports on localhost.
            self._sockets = tempfile.mkdtemp(prefix="duckbook-kernel-")
            self.km = KernelManager(kernel_name=KERNEL, transport="ipc", ip=os.path.join(self._sockets, "k"))
            self.km.start_kernel(cwd=str(self.cwd), env=self.env)
        else:
            self._reset()
        return self.km

    def _reset(self) -> None:
        kc = self.km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            kc.execute_interactive("%reset -f", silent=True, timeout=60)
        finally:
            kc.stop_channels()

    def shutdown(self) -> None:
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km = None
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)
            self._sockets = ""


def run(
    *,
    stages: Sequence[str] = (),
    parameters: Mapping[str, str] | None = None,
    warehouse: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    isolated: bool = False,
    echo=None,
) -> RunResult:
    """Validate, then execute the selected stages as one atomic run (see module docstring).

    Raises :class:`duckbook.params.ParameterError` before writing anything when a stage name or
    parameter is wrong, and :class:`RunLocked` when another run is in progress. A failing stage
    does not raise: the result has ``status == "failed"`` and ``error`` says where and why.
    """
    cfg = _config.load(warehouse=warehouse, reports_dir=reports_dir)
    chosen = select(discover(cfg), stages)
    if not chosen:
        raise params.ParameterError(f"no stage notebooks found in {cfg.notebooks_dir}")
    declared = declared_parameters(chosen)
    user = params.validate(parameters or {}, declared)
    for reserved in ("warehouse", "run_id", "run_started_at"):
        if reserved in user:
            raise params.ParameterError(f"{reserved}: set by the runner; use --warehouse for the warehouse")

    echo = echo or _echo
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = new_run_id(started)
    with run_lock(cfg.warehouse):
        return _execute(cfg, chosen, declared, user, run_id, started, isolated, echo)


def _execute(cfg, chosen, declared, user, run_id, started, isolated, echo) -> RunResult:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from duckbook.publish import report

    run_dir = cfg.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    built = cfg.warehouse.with_name(f".{cfg.warehouse.stem}.{run_id}.duckdb")
    engine.copy_database(cfg.warehouse, built)
    common = {
        "run_id": run_id,
        "run_started_at": started.isoformat(),
        "run_date": str(user.get("run_date") or started.date()),
        "warehouse": str(built),
    }
    env = {
        **os.environ,
        "DUCKBOOK_PROJECT_DIR": str(cfg.root),
        "DUCKBOOK_LAKE_DIR": str(cfg.lake_dir),
        "DUCKBOOK_TEMP_DIRECTORY": str(cfg.temp_directory),
    }
    kernel = _Kernel(cfg.notebooks_dir, env, isolated)
    log: list[dict[str, object]] = []
    pages: list[dict[str, str]] = []
    rendered: list[Path] = []
    error = ""
    echo(f"run {run_id}: {len(chosen)} stage(s) -> {cfg.warehouse}")
    try:
        for stage in chosen:
            values = {k: v for k, v in {**common, **user}.items() if k in declared[stage.name]}
            out_nb = run_dir / stage.path.name
            t0 = time.perf_counter()
            stage_start = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            status = "success"
            try:
                papermill.execute_notebook(
                    str(stage.path),
                    str(out_nb),
                    parameters=values,
                    kernel_name=KERNEL,
                    km=kernel.manager(),
                    cwd=str(cfg.notebooks_dir),
                    progress_bar=False,
                    log_output=False,
                )
                if stage.report_name:
                    # rendered into the run directory; published only if the whole run succeeds
                    page = report.render_html(out_nb, run_dir / f"{stage.report_name}.html")
                    rendered.append(page)
                    meta = report.read_meta(out_nb)
                    pages.append(
                        {
                            "file": page.name,
                            "title": meta.get("title", stage.name),
                            "run_id": run_id,
                            "data_date": meta.get("data_date", "n/a"),
                            "freshness": meta.get("freshness", "n/a"),
                            "status": "success",
                        }
                    )
            except PapermillExecutionError as exc:
                status = "failed"
                error = (
                    f"stage {stage.name} failed in cell {exc.cell_index + 1} of {stage.path}:\n"
                    f"{exc.ename}: {exc.evalue}\nexecuted notebook kept at {out_nb}"
                )
            except Exception as exc:  # kernel died, render failed: still a failed stage
                status = "failed"
                error = f"stage {stage.name} ({stage.path}) failed: {type(exc).__name__}: {exc}\nexecuted notebook (if any) at {out_nb}"
            seconds = time.perf_counter() - t0
            log.append(
                {
                    "run_id": run_id,
                    "stage": stage.name,
                    "status": status,
                    "parameters": json.dumps(values, sort_keys=True),
                    "started_at": stage_start,
                    "ended_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    "duration_s": round(seconds, 3),
                    "rows_written": 0,
                }
            )
            echo(f"  {stage.name:<24} {status:<8} {seconds:6.2f}s")
            if status == "failed":
                break
    finally:
        kernel.shutdown()

    status = "failed" if error else "success"
    if status == "success":
        _finish(built, log)
        engine.replace_database(built, cfg.warehouse)
        rendered = [_publish_page(page, cfg.reports_dir) for page in rendered]
        report.write_index(cfg.reports_dir, pages, run_id=run_id, status=status)
    else:
        engine.remove_database(built)
        _record_failure(cfg.warehouse, log, echo)
        # the pages of the last good run stay; the index says this run failed
        report.write_index(cfg.reports_dir, report.published_pages(cfg.reports_dir), run_id=run_id, status=status)
    (run_dir / "run_log.json").write_text(json.dumps(log, default=str, indent=2), encoding="utf-8")
    return RunResult(run_id, status, log, cfg.warehouse, rendered, error)


def _publish_page(page: Path, reports_dir: Path) -> Path:
    """Move a rendered page from the run directory into ``reports/`` (atomic rename), leaving a
    copy with the run's artifacts."""
    target = reports_dir / page.name
    tmp = target.with_name(f".{page.name}.tmp")
    shutil.copyfile(page, tmp)
    os.replace(tmp, target)
    return target


def _echo(message: str, err: bool = False) -> None:
    print(message, file=sys.stderr if err else sys.stdout)


def _finish(built: Path, log: list[dict[str, object]]) -> None:
    """Fill rows_written from ops.publish_log and store the run log in the build."""
    written = ops.rows_published(built, str(log[0]["run_id"]))
    for entry in log:
        entry["rows_written"] = written.get(str(entry["stage"]), 0)
    ops.write_run_log(built, [ops.RunLogEntry(**entry) for entry in log])  # type: ignore[arg-type]


def _record_failure(warehouse: Path, log: list[dict[str, object]], echo) -> None:
    """Record a failed run's log in the live warehouse (best effort: a reader may hold it)."""
    if not log:
        return
    try:
        ops.write_run_log(warehouse, [ops.RunLogEntry(**entry) for entry in log])  # type: ignore[arg-type]
    except Exception as exc:  # locked by an interactive session
        echo(
            f"note: could not record the failed run in {warehouse} ({exc}); see the run directory's run_log.json",
            err=True,
        )
