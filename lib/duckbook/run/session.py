"""The run's side inside the kernel: the runner executes these between stage notebooks.

The stages of a run write through the kernel's one writer connection in one transaction
(:mod:`duckbook.engine.connection`); :func:`begin` opens it, :func:`commit` writes the run log
and publishes everything as one snapshot carrying the run id, :func:`abort` rolls back (the
data files written are deleted) and records the failure alone, touching no published table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

from duckbook import config as _config
from duckbook import engine, ops
from duckbook.engine import lake

#: Test hook (tests/reliability): seconds to sleep in :func:`commit` right before the snapshot is
#: published, so a fault test can kill or interrupt a run at its commit. Never set in production.
PAUSE_BEFORE_COMMIT = "DUCKBOOK_TEST_PAUSE_BEFORE_COMMIT"


def begin(run_id: str) -> None:
    """Open the run's transaction, first removing what a killed run left behind (the runner
    holds the run lock, so no other writer's files can be mistaken for orphans)."""
    cfg = _config.load()
    con = engine.connect(cfg=cfg)
    engine.rollback(con)
    lake.delete_orphans(engine.raw(con))
    engine.remove_partial(cfg.raw_zone)
    engine.begin(con)


def commit(run_id: str, entries_json: str, result_file: str) -> int:
    """Write the run log (with rows published per stage) and publish the run as one snapshot;
    write ``{"snapshot_id": n}`` to ``result_file`` for the runner and return the id."""
    con = engine.connect()
    written = ops.rows_published(con, run_id)
    entries = [ops.RunLogEntry(**e) for e in json.loads(entries_json)]
    entries = [dataclasses.replace(e, rows_written=written.get(e.stage, 0)) for e in entries]
    ops.write_run_log(con, entries)
    if pause := os.environ.get(PAUSE_BEFORE_COMMIT):  # test hook only: see PAUSE_BEFORE_COMMIT
        time.sleep(float(pause))
    snapshot = engine.publish(con, message=f"run {run_id}", extra={"run_id": run_id, "status": "success"})
    if snapshot is None:  # cannot happen: the run log itself is a change
        raise RuntimeError(f"run {run_id} published no snapshot")
    Path(result_file).write_text(
        json.dumps({"snapshot_id": snapshot, "entries": [dataclasses.asdict(e) for e in entries]}, default=str)
    )
    return snapshot


def abort(run_id: str, entries_json: str) -> None:
    """Roll back the run and record its failure (the run log only) in a transaction of its own."""
    con = engine.connect()
    engine.rollback(con)
    record_failure(con, run_id, entries_json)


def record_failure(con: engine.Connection, run_id: str, entries_json: str) -> None:
    """Record a failed run's log as a snapshot of its own that touches no published table."""
    entries = [ops.RunLogEntry(**e) for e in json.loads(entries_json)]
    ops.publish_run_log(con, entries, message=f"run {run_id} failed", extra={"run_id": run_id, "status": "failed"})
