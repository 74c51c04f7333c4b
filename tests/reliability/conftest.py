"""The warehouses every fault test starts from: built once per session, copied for each test.

``base`` is one full `duckbook run` on the committed sample; ``clean`` is a copy of it after a
second, undisturbed run: the size a warehouse must come back to after any fault and the next
successful run (every run keeps the previous snapshot's files, so the bound is base + one run).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from tests.reliability.harness import Answer, Run, answer, copy_warehouse, tree_bytes


@dataclasses.dataclass(frozen=True)
class Built:
    warehouse: Path
    seconds: float  # wall time of the run that built it
    answer: Answer
    size: int  # bytes under the warehouse root
    run_id: str


def _build(warehouse: Path, reports: Path) -> Built:
    run = Run(warehouse, reports)
    assert run.wait() == 0, run.output()
    return Built(warehouse, time.monotonic() - run.started, answer(warehouse), tree_bytes(warehouse), run.run_id)


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One successful run on the sample: the state every fault test starts from (never modified)."""
    root = tmp_path_factory.mktemp("reliability-base")
    return _build(root / "warehouse", root / "reports")


@pytest.fixture(scope="session")
def clean(base: Built, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A copy of ``base`` after a second successful run: the reference size."""
    root = tmp_path_factory.mktemp("reliability-clean")
    built = _build(copy_warehouse(base.warehouse, root / "warehouse"), root / "reports")
    assert built.answer.published_runs == base.answer.published_runs | {built.run_id}
    return built


def size_bound(base: Built, clean: Built) -> int:
    """The most a warehouse may hold after faults and then one successful run over ``base``:
    the clean size plus 5% of one run's growth (Parquet and catalog sizes vary a little, and each
    interrupted run records its failure in a small snapshot of its own)."""
    return clean.size + max(64 * 1024, (clean.size - base.size) // 20)
