"""SIGKILL of a run (the runner and its kernel) at many points, on one warehouse in a row.

After every kill a reader sees exactly the last published run, no process of the killed run is
left, and the warehouse holds at most one run's worth of leftovers (the next run's
``session.begin`` deletes what the previous killed run left, so crashes do not pile up). After
the last kill the next run succeeds and the warehouse is back to the size of a clean run.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import pytest

from tests.reliability.conftest import size_bound
from tests.reliability.harness import (
    COMMIT_PAUSE,
    PAUSE_ENV,
    UP_TO_MARTS,
    Run,
    answer,
    copy_warehouse,
    leftover_processes,
    tree_bytes,
)

pytestmark = pytest.mark.slow


def in_stage(stage: str, after: float) -> Callable[[Run], str]:
    """Kill ``after`` seconds into ``stage`` (its executed notebook exists: papermill started it)."""

    def arm(run: Run) -> str:
        run.wait_until(lambda: run.stage_started(stage), f"stage {stage} starting")
        time.sleep(after)
        assert not run.stage_done(stage), f"{stage} ended before the kill ({after}s in):\n{run.output()}"
        return f"during {stage}"

    return arm


def at_commit(run: Run) -> str:
    """Kill while the kernel holds the finished run at its commit (the test hook's pause)."""
    run.wait_at_commit("30_marts")
    return "at the commit"


def after(seconds: float) -> Callable[[Run], str]:
    def arm(run: Run) -> str:
        time.sleep(max(0.0, seconds - (time.monotonic() - run.started)))
        return f"{seconds:.1f}s after the start"

    return arm


def test_sigkill_at_many_points_publishes_nothing_partial_and_leaves_nothing_that_grows(base, clean, tmp_path):
    seed = int(os.environ.get("DUCKBOOK_FAULT_SEED", time.time()))
    rng = random.Random(seed)
    # random moments spread over the run (its stages end at about 85% of its wall time)
    randoms = sorted(rng.uniform(2.0, 0.85 * base.seconds) for _ in range(4))
    points = [in_stage("10_ingest", 0.4), in_stage("30_marts", 0.8), at_commit, *map(after, randoms)]
    warehouse = copy_warehouse(base.warehouse, tmp_path / "warehouse")
    run_growth = clean.size - base.size
    bound = size_bound(base, clean)
    expected = base.answer
    for arm in points:
        if arm is at_commit:
            run = Run(warehouse, tmp_path / "reports", *UP_TO_MARTS, env={PAUSE_ENV: str(COMMIT_PAUSE)})
        else:
            run = Run(warehouse, tmp_path / "reports")
        where = arm(run)
        run.kill()
        context = f"killed {where} (seed {seed}):\n{run.output()}"
        assert leftover_processes(run.marker) == [], context
        seen = answer(warehouse)
        if run.started_id and seen.published_runs == expected.published_runs | {run.started_id}:
            expected = seen  # killed after its commit: the whole run is published, which is fine
            bound += run_growth
        assert seen == expected, context
        assert tree_bytes(warehouse) <= bound, f"{context}\nleftovers pile up: {tree_bytes(warehouse)} > {bound}"

    last = Run(warehouse, tmp_path / "reports")
    assert last.wait() == 0, last.output()
    after_all = answer(warehouse)
    assert after_all.published_runs == expected.published_runs | {last.run_id}
    assert (after_all.orders, after_all.order_total) == (base.answer.orders, base.answer.order_total)
    assert tree_bytes(warehouse) <= bound, f"after the kills and one run: {tree_bytes(warehouse)} > {bound}"
