"""SIGTERM and Ctrl-C (SIGINT to the runner's process group, as a terminal sends it).

The runner stops at once: it exits 1 with one line naming the interruption (no traceback),
stops its kernel, records the run as failed and publishes nothing; the next run succeeds and
the warehouse is back to the size of a clean run.
"""

from __future__ import annotations

import signal
import time

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
    recorded_as_failed,
    traceback_free,
    tree_bytes,
)

pytestmark = pytest.mark.slow


def interrupt(run: Run, signum: int, name: str) -> None:
    """Send ``signum``; check the runner's exit, its message and that its kernel is gone."""
    run.send(signum)
    sent = time.monotonic()
    code = run.wait(timeout=120)
    context = f"{name} sent after {sent - run.started:.1f}s:\n{run.output()}"
    assert code == 1, context
    assert time.monotonic() - sent < 30, f"the runner took {time.monotonic() - sent:.0f}s to stop\n{context}"
    assert traceback_free("\n".join(run.stderr)), context
    assert run.stderr[0].startswith(f"error: run {run.run_id} failed; nothing was published"), context
    named = [line for line in run.stderr if "interrupted" in line]
    assert named == [f"run {run.run_id} was interrupted ({name})"], context
    assert leftover_processes(run.marker, grace=5) == [], f"the kernel outlived the runner\n{context}"


def test_sigterm_and_ctrl_c_stop_the_run_and_publish_nothing(base, clean, tmp_path):
    warehouse = copy_warehouse(base.warehouse, tmp_path / "warehouse")

    # SIGTERM while the marts are being built
    run = Run(warehouse, tmp_path / "reports")
    run.wait_until(lambda: run.stage_started("30_marts"), "the marts stage starting")
    time.sleep(0.8)
    interrupt(run, signal.SIGTERM, "SIGTERM")
    assert answer(warehouse) == base.answer
    assert recorded_as_failed(warehouse, run.run_id)  # in a snapshot of its own

    # Ctrl-C while a run (of the stages up to the marts) waits at its commit (the test hook's pause)
    run = Run(warehouse, tmp_path / "reports", *UP_TO_MARTS, env={PAUSE_ENV: str(COMMIT_PAUSE)})
    run.wait_at_commit("30_marts")
    interrupt(run, signal.SIGINT, "Ctrl-C")
    assert answer(warehouse) == base.answer
    assert recorded_as_failed(warehouse, run.run_id)

    last = Run(warehouse, tmp_path / "reports")
    assert last.wait() == 0, last.output()
    assert answer(warehouse).published_runs == base.answer.published_runs | {last.run_id}
    assert tree_bytes(warehouse) <= size_bound(base, clean)
