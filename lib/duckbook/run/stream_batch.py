"""One micro-batch of ``duckbook stream`` in this process (see :mod:`duckbook.run.stream`): under
the run lock, on the process's one writer, the ingest stage then the data stages after it, audited
and published as the stage notebooks do, committed as one snapshot with its run log; rolled back
when nothing landed; rolled back and recorded as a failed run when a stage fails."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duckbook import config as _config
from duckbook import engine, errors, ops
from duckbook.engine import lake
from duckbook.engine.lock import run_lock
from duckbook.run.session import PAUSE_BEFORE_COMMIT
from duckbook.run.stages import Stage, discover
from duckbook.run.stream import BatchResult

if TYPE_CHECKING:
    import polars as pl

    from duckbook.build.context import StageContext
    from duckbook.build.ingest_cdc import CdcIngested
    from duckbook.build.wap import Build
    from duckbook.ingest.contracts import Contract

#: seconds between two writes of the runs page while batches publish
RUNS_PAGE_EVERY = 60.0
#: what a model's outcome is when the batch did not rebuild it
_NOT_REBUILT = ("unchanged", "not selected", "stale")


class WarehouseBatcher:
    """One micro-batch on the warehouse of ``cfg`` (see the module docstring): ingest the chosen
    ``sources`` (None: every source) from ``source_dir``, then the data stages after ingest."""

    def __init__(self, cfg: _config.Config, *, sources: Sequence[str] | None = None, source_dir: Path | None = None):
        from duckbook.project import load as load_project

        self.cfg = cfg
        declared = load_project(cfg).sources
        for name in sources or ():
            if name not in declared:
                raise errors.UserError(errors.unknown_name("SOURCE", "source", name, sorted(declared)))
        self.sources = {n: c for n, c in declared.items() if not sources or n in sources}
        given = source_dir or cfg.source_dir
        self.source_dir = given if given.is_absolute() else cfg.root / given
        if not self.source_dir.is_dir():
            raise errors.UserError(
                f"source_dir {self.source_dir} is not a directory: create it (delivery folders YYYY-MM-DD/ appear in it)"
            )
        stages = [s for s in discover(cfg) if s.report_name is None]
        if not stages or not stages[0].name.endswith("_ingest"):
            raise errors.ConfigError(f"{cfg.notebooks_dir}: the first data stage must be NN_ingest to stream")
        self.ingest_stage, self.model_stages = stages[0], stages[1:]
        self._cleaned = False
        self._page_due, self._page_written = False, time.monotonic()
        self._env = os.environ.get(engine.RUN_ENV)  # restored on exit

    def origins(self) -> str:
        """Where the chosen sources come from, for the stream's first line.

        Files from ``source_dir``, API sources by name, CDC sources by slot."""
        files = [c for c in self.sources.values() if c.file]
        apis = sorted(n for n, c in self.sources.items() if c.api is not None)
        slots = sorted({c.cdc.slot for c in self.sources.values() if c.cdc is not None})
        parts = [f"files in {self.source_dir}"] if files else []
        parts += [f"API {', '.join(apis)}"] if apis else []
        parts += [f"CDC slot(s) {', '.join(slots)}"] if slots else []
        return "; ".join(parts)

    def __enter__(self) -> WarehouseBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        """Write the runs page if it lags, release the writer (rolling back what is uncommitted)
        and the run's environment."""
        if self._page_due:
            self._write_runs_page(engine.connect(cfg=self.cfg))
        engine.close_writer(self.cfg)
        if self._env is None:
            os.environ.pop(engine.RUN_ENV, None)
        else:
            os.environ[engine.RUN_ENV] = self._env

    def __call__(self, number: int) -> BatchResult | None:
        started = _utcnow()
        run_id = f"stream-{started:%Y%m%dT%H%M%SZ}-{number}"
        with run_lock(self.cfg.lock_file, f"stream {run_id}"):
            os.environ[engine.RUN_ENV] = run_id  # the writer is the run's: no lock of its own, no commit per stage
            con = engine.connect(cfg=self.cfg)
            if not self._cleaned:  # what a killed writer left (we hold the lock: nobody else writes)
                engine.rollback(con)
                lake.delete_orphans(engine.raw(con))
                engine.remove_partial(self.cfg.raw_zone)
                self._cleaned = True
            engine.begin(con)
            log: list[ops.RunLogEntry] = []
            t0 = time.perf_counter()
            try:
                found = self._batch(number, run_id, started, con, log, t0)
            except KeyboardInterrupt:
                engine.rollback(con)
                raise
            except Exception as exc:
                engine.rollback(con)
                found = self._failed(number, run_id, started, con, log, t0, exc)
            if self._page_due and time.monotonic() - self._page_written >= RUNS_PAGE_EVERY:
                self._write_runs_page(con)
            return found

    def _batch(
        self, number: int, run_id: str, started: dt.datetime, con: Any, log: list[ops.RunLogEntry], t0: float
    ) -> BatchResult | None:
        from duckbook.build.ingest import ingest

        contracts = self._contracts()
        if not contracts:
            engine.rollback(con)
            return None
        ctx, t_stage = self._start(self.ingest_stage, run_id, started)
        ingested = ingest(ctx, contracts, self.source_dir)
        manifest = ingested.manifest
        if manifest.height == 0:  # nothing new: nothing to publish
            engine.rollback(con)
            return None
        log.append(self._publish(ctx, ingested.build, t_stage))
        models: list[str] = []
        for stage in self.model_stages:
            ctx, t_stage = self._start(stage, run_id, started)
            build = ctx.build_models(stage.name.split("_", 1)[1])
            models += [o.model for o in build.outcomes if o.action not in _NOT_REBUILT]
            log.append(self._publish(ctx, build, t_stage))
        written = ops.rows_published(con, run_id)
        log[:] = [dataclasses.replace(e, rows_written=written.get(e.stage, 0)) for e in log]
        ops.write_run_log(con, log)
        if pause := os.environ.get(PAUSE_BEFORE_COMMIT):  # test hook only (a kill mid-batch)
            time.sleep(float(pause))
        snapshot = engine.publish(con, message=f"run {run_id}", extra={"run_id": run_id, "status": "success"})
        self._page_due = True
        published = _utcnow()
        waited, lag = self._latency(manifest, ingested.cdc, published)
        return BatchResult(
            number,
            run_id,
            "published",
            round(time.perf_counter() - t0, 3),
            sources=_per_source(manifest),
            models=tuple(models),
            stages={e.stage: e.duration_s for e in log},
            rows_written=sum(e.rows_written for e in log),
            snapshot=snapshot,
            latency_median_s=round(statistics.median(waited), 3) if waited else None,
            latency_max_s=round(max(waited), 3) if waited else None,
            cdc_lag_s=lag,
            cdc_lag_bytes=sum(c.health.lag_bytes for c in ingested.cdc) if ingested.cdc else None,
        )

    def _write_runs_page(self, con: Any) -> None:
        """``reports/runs.html`` from the run log (~0.3 s: at most every :data:`RUNS_PAGE_EVERY`
        seconds, and when the stream ends)."""
        from duckbook.publish import runs

        with contextlib.suppress(OSError):  # the page is a view of the run log, which holds the batch
            runs.write_runs_page(self.cfg.reports_dir, ops.run_history(con), generated_at=_utcnow())
        self._page_due, self._page_written = False, time.monotonic()

    def _contracts(self) -> dict[str, Contract]:
        """The sources to ingest: all chosen, but only those not read from files (API, CDC) while
        ``source_dir`` holds no delivery yet (an empty undated folder is not a delivery)."""
        from duckbook.ingest import deliveries

        found = deliveries.discover(self.source_dir)
        if found[0].date is None and not found[0].files:
            return {n: c for n, c in self.sources.items() if not c.file}
        return self.sources

    def _start(self, stage: Stage, run_id: str, started: dt.datetime) -> tuple[StageContext, float]:
        from duckbook.build.context import start_stage

        ctx = start_stage(
            stage.name, run_id=run_id, run_started_at=started.isoformat(), warehouse=str(self.cfg.warehouse)
        )
        return ctx, time.perf_counter()

    def _publish(self, ctx: StageContext, build: Build, t_stage: float) -> ops.RunLogEntry:
        """Audit and publish a stage's build (inside the batch's transaction); its log entry."""
        build.audit()
        build.publish()
        ctx.close()
        parameters = {"run_id": ctx.run_id, "run_date": ctx.run_date.isoformat(), "warehouse": str(self.cfg.warehouse)}
        return ops.RunLogEntry(
            ctx.run_id,
            ctx.stage,
            "success",
            json.dumps(parameters, sort_keys=True),
            ctx.run_started_at,
            _utcnow(),
            round(time.perf_counter() - t_stage, 3),
            0,
        )

    def _failed(
        self,
        number: int,
        run_id: str,
        started: dt.datetime,
        con: Any,
        log: list[ops.RunLogEntry],
        t0: float,
        exc: Exception,
    ) -> BatchResult:
        """Record a rolled-back batch as a failed run (its own snapshot, touching no other table)."""
        error = f"{type(exc).__name__}: {exc}"
        now = _utcnow()
        stage = self._failed_stage(log)
        seconds = round(time.perf_counter() - t0, 3)
        failure = ops.RunLogEntry(run_id, stage, "failed", "{}", started, now, seconds, 0, error.splitlines()[0])
        entries = [dataclasses.replace(e, status="failed", rows_written=0) for e in log] + [failure]
        note = ""
        try:
            ops.publish_run_log(
                con, entries, message=f"run {run_id} failed", extra={"run_id": run_id, "status": "failed"}
            )
        except Exception as record_exc:  # the disk may be full: the error is still shown
            note = f" (could not record it in the run log: {record_exc})"
        self._page_due = True
        return BatchResult(number, run_id, "failed", seconds, error=error + note)

    def _failed_stage(self, log: Sequence[ops.RunLogEntry]) -> str:
        stages = [self.ingest_stage, *self.model_stages]
        return stages[len(log)].name if len(log) < len(stages) else "(run)"

    def _latency(
        self, manifest: pl.DataFrame, cdc: Sequence[CdcIngested], published: dt.datetime
    ) -> tuple[list[float], float | None]:
        """Seconds from each CDC commit (or delivered file's mtime) in the batch to ``published``,
        and the CDC lag (from the newest commit), None without CDC changes."""
        waited: list[float] = []
        for table, file_path in manifest.select("table", "file_path").iter_rows():
            contract = self.sources.get(table)
            if contract is not None and contract.cdc is None and file_path and (mtime := self._mtime(file_path)):
                waited.append((published - mtime).total_seconds())
        commits = [t.astimezone(dt.UTC).replace(tzinfo=None) for c in cdc for t in c.commit_times]
        waited += [(published - c).total_seconds() for c in commits]
        lag = round((published - max(commits)).total_seconds(), 3) if commits else None
        return waited, lag

    def _mtime(self, file_path: str) -> dt.datetime | None:
        """The delivered file's modification time (UTC): under ``source_dir``, or the warehouse (API pages)."""
        for base in (self.source_dir, self.cfg.warehouse):
            if (path := base / file_path).is_file():
                return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
        return None


def _per_source(manifest: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """source -> (batches ingested, rows landed) of a batch's manifest."""
    out: dict[str, tuple[int, int]] = {}
    for table, landed in manifest.select("table", "rows_landed").iter_rows():
        files_, rows = out.get(table, (0, 0))
        out[table] = (files_ + 1, rows + int(landed or 0))
    return out


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
