"""What a run does after its stages: record each stage's fingerprint and the stages a partial
run left stale with the run log, publish the pages as one release, write the runs page, summarize
the checks and the quarantine, and send alerts; or, for a failed run, keep the last good pages,
render the failed notebook and alert."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from duckbook import config as _config
from duckbook import engine, events, ops
from duckbook.run import summary
from duckbook.run.fingerprint import Known
from duckbook.run.plan import RunPlan, RunResult
from duckbook.run.stages import Stage
from duckbook.run.summary import RunSummary

if TYPE_CHECKING:
    from duckbook.publish.site import Page

Echo = Callable[..., None]


def finish(
    plan: RunPlan,
    log: list[ops.RunLogEntry],
    pages: list[Page],
    run_dir: Path,
    code: str,
    echo: Echo,
    con: duckdb.DuckDBPyConnection,
    snapshot: int | None = None,
) -> RunResult:
    """After the commit (of ``snapshot``; None when every stage skipped): publish the pages as
    one release, record fingerprints and stale stages with the run log, write the runs page,
    summarize, alert."""
    from duckbook.publish import release

    cfg = plan.cfg
    notes: list[str] = []
    published: list[Path] = []
    found: RunSummary | None = None
    stale_entries: list[ops.RunLogEntry] = []
    with con:
        # the run is committed: nothing below may turn it into a failure, only into warnings
        try:
            after: Known | None = Known.read_from(con)
        except duckdb.Error as exc:
            after = None
            notes.append(f"warning: could not read the warehouse after the commit ({exc}); the next run reruns")
        if after is not None:
            for stage in [s for s in plan.all_stages if s.name not in {e.stage for e in log}]:
                values = plan.stage_parameters(stage, cfg.warehouse)
                recorded = after.recorded.get(stage.name)
                if recorded is not None and after.fingerprint(plan, stage, values, code) != recorded:
                    stale_entries.append(skipped_entry(plan, stage, values, "stale"))
        try:
            published = release.release(
                cfg.reports_dir,
                run_dir,
                pages,
                run_id=plan.run_id,
                status="success",
                snapshot=snapshot,
                stale=[f"{name}.html" for e in stale_entries if (name := _stage(plan, e.stage).report_name)],
            )
            unpublished: set[str] = set()
        except release.ReleaseError as exc:  # the warehouse is committed: the run succeeded, its pages wait
            notes.append(f"warning: {exc}; the reports rerun next time")
            unpublished = {e.stage for e in log if e.status == "success"}
        log = [
            dataclasses.replace(
                e,
                fingerprint=""
                if after is None or (e.stage in unpublished and _stage(plan, e.stage).report_name)
                else after.fingerprint(plan, _stage(plan, e.stage), json.loads(e.parameters), code),
            )
            for e in log
        ] + stale_entries
        try:
            # fingerprints hash the versions this run's commit made: a small snapshot of their own
            ops.publish_run_log(con, log, message=f"run {plan.run_id}: log", extra={"log_of": plan.run_id})
            if any(e.status == "success" for e in log):
                found = summary.summarize(engine.raw(con), plan.run_id)
            _write_runs_page(con, cfg, notes)
        except (duckdb.Error, OSError) as exc:  # e.g. the disk filled up right after the commit
            notes.append(
                f"warning: run {plan.run_id} is published, but its log could not be completed ({exc}); "
                "the next run executes its stages again"
            )
    for entry in stale_entries:
        echo(f"  {entry.stage:<24} stale    (not selected; its inputs changed: run it with --stage {entry.stage})")
    notes += _alert(cfg, plan, found, "", "")
    with contextlib.suppress(OSError):  # the run directory's copy of the log: best effort
        (run_dir / "run_log.json").write_text(
            json.dumps([dataclasses.asdict(e) for e in log], default=str, indent=2), encoding="utf-8"
        )
    return RunResult(plan.run_id, "success", log, cfg.warehouse, published, summary=found, notes=notes)


def failed(plan: RunPlan, log: list[ops.RunLogEntry], error: str, run_dir: Path, echo: Echo) -> RunResult:
    """A failed run: the pages of the last good run stay; the index says this run failed."""
    from duckbook.publish import release, site

    cfg = plan.cfg
    failed_stage = next((e.stage for e in log if e.status == "failed"), "")
    link = ""
    if failed_stage and (nb := run_dir / f"{failed_stage}.ipynb").is_file():
        from duckbook.publish import runs as runs_page

        link = str(runs_page.render_failed_notebook(nb) or nb)
    notes: list[str] = []
    try:
        release.recover(cfg.reports_dir)
        site.write_index(cfg.reports_dir, site.published_pages(cfg.reports_dir), run_id=plan.run_id, status="failed")
        with contextlib.suppress(Exception), engine.connect_plain(cfg, read_only=True) as con:
            _write_runs_page(con, cfg, notes)
    except OSError as exc:
        notes.append(f"note: could not update {cfg.reports_dir}: {exc}")
    (run_dir / "run_log.json").write_text(
        json.dumps([dataclasses.asdict(e) for e in log], default=str, indent=2), encoding="utf-8"
    )
    # the run's quarantine was rolled back with it: the stage's events still say what it was
    found, _ = events.read(run_dir / "events.jsonl", 0)
    quarantined = tuple(
        summary.Quarantined(str(e["file"]), str(e.get("table", "?")), int(e["rows"]))
        for e in found
        if e.get("event") == "quarantined"
    )
    if quarantined and "check(s) failed" in error:
        files = ", ".join(q.file for q in quarantined)
        notes.append(
            f"note: {sum(q.rows for q in quarantined):,} row(s) of {files} were quarantined in this run: "
            "the failed checks may follow from the rows left out"
        )
    notes += _alert(cfg, plan, summary.RunSummary(quarantined=quarantined), error, failed_stage, link)
    return RunResult(plan.run_id, "failed", log, cfg.warehouse, [], error, notes=notes)


def skipped_entry(
    plan: RunPlan, stage: Stage, values: Mapping[str, object], status: str, *, fingerprint: str = ""
) -> ops.RunLogEntry:
    """The log entry of a stage the run did not execute (status ``skipped`` or ``stale``)."""
    now = _utcnow()
    parameters = json.dumps(values, sort_keys=True, default=str)
    return ops.RunLogEntry(plan.run_id, stage.name, status, parameters, now, now, 0.0, 0, "", fingerprint)


def _stage(plan: RunPlan, name: str) -> Stage:
    return next(s for s in plan.all_stages if s.name == name)


def _write_runs_page(con: duckdb.DuckDBPyConnection, cfg: _config.Config, notes: list[str]) -> None:
    """The runs page (``reports/runs.html``) from the run log."""
    from duckbook.publish import runs as runs_page

    try:
        runs_page.write_runs_page(cfg.reports_dir, ops.run_history(con), generated_at=_utcnow())
    except OSError as exc:
        notes.append(f"note: could not write the runs page: {exc}")


def _alert(
    cfg: _config.Config, plan: RunPlan, found: RunSummary | None, error: str, stage: str, link: str = ""
) -> list[str]:
    """Send the run's alerts (see :mod:`duckbook.run.alerts`); the lines say what was sent."""
    if not cfg.alerts:  # none configured: not even the import
        return []
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


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
