"""Readers during a run: read-only connections in a loop while a run writes a different answer.

No reader is refused, and every answer is one published run's answer (the previous run's until
the commit, the new run's after), never a mix of the two.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from jaffle_shop.sample import cut_sample
from tests.reliability.harness import ROOT, Answer, Run, answer, copy_warehouse

pytestmark = pytest.mark.slow


def test_readers_never_wait_and_see_one_published_run_or_the_next(base, tmp_path):
    source = tmp_path / "fewer_orders"  # the sample's last two weeks only: fewer orders, same last day
    cut_sample(ROOT / "data" / "sample", source, dt.date(2019, 7, 29), dt.date(2019, 8, 11))
    warehouse = copy_warehouse(base.warehouse, tmp_path / "warehouse")

    seen: list[tuple[float, Answer]] = []
    refused: list[str] = []
    stop = threading.Event()

    def read_in_a_loop() -> None:
        while not stop.is_set():
            try:
                seen.append((time.monotonic(), answer(warehouse)))
            except Exception as exc:  # any error is a refused reader
                refused.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.1)

    reader = threading.Thread(target=read_in_a_loop, daemon=True)
    reader.start()
    try:
        run = Run(warehouse, tmp_path / "reports", "-p", f"source_dir={source}")
        code = run.wait()
        ended = time.monotonic()
        time.sleep(1.5)  # a few reads after the commit
    finally:
        stop.set()
        reader.join(timeout=60)
    assert code == 0, run.output()

    new = answer(warehouse)
    assert new.orders < base.answer.orders and new.published_runs == base.answer.published_runs | {run.run_id}
    assert refused == []
    during = [a for t, a in seen if run.started < t < ended]
    assert len(during) >= 10, f"only {len(during)} reads during the run"
    assert {a for _, a in seen} <= {base.answer, new}, "a reader saw a mix of two runs"
    assert seen[0][1] == base.answer and seen[-1][1] == new
