"""Disk full under the warehouse root: a run over a copy of the base warehouse on a small tmpfs.

The run fails (exit 1) with an error line naming the disk problem and no traceback; readers
see the previous run; once there is space again (the tmpfs is remounted larger, its files
kept) the next run succeeds and the warehouse is back to the size of a clean run.

Mounting needs root (or CAP_SYS_ADMIN). Where it is not permitted the test fails saying so,
unless ``DUCKBOOK_SKIP_MOUNT=1``: then it skips.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import size_bound
from tests.reliability.harness import Run, answer, copy_warehouse, traceback_free, tree_bytes

pytestmark = pytest.mark.slow

PAGE = 4096
DISK_FULL = re.compile(r"no space left on device|disk is full", re.IGNORECASE)


def allocated(path: Path) -> int:
    """Bytes ``path``'s files take on a tmpfs (whole pages)."""
    return sum(-(-p.stat().st_size // PAGE) * PAGE for p in path.rglob("*") if p.is_file())


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        message = f"cannot mount a tmpfs for the disk-full test (mount {' '.join(args)}): {proc.stderr.strip()}"
        if os.environ.get("DUCKBOOK_SKIP_MOUNT") == "1":
            pytest.skip(message)
        pytest.fail(f"{message}; run as root, or set DUCKBOOK_SKIP_MOUNT=1 to skip this test")


@contextlib.contextmanager
def tmpfs(directory: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted on ``directory`` for the block."""
    directory.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size // 1024}k", "tmpfs", str(directory))
    try:
        yield directory
    finally:
        if subprocess.run(["umount", str(directory)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True)  # still busy: detach it


def test_a_full_disk_fails_the_run_cleanly_and_the_next_run_recovers(base, clean, tmp_path):
    growth = allocated(clean.warehouse) - allocated(base.warehouse)
    # room for about half a run: it runs out of space mid-way
    with tmpfs(tmp_path / "disk", allocated(base.warehouse) + growth // 2) as disk:
        warehouse = copy_warehouse(base.warehouse, disk / "warehouse")
        run = Run(warehouse, tmp_path / "reports")
        code = run.wait()
        stderr = "\n".join(run.stderr)
        assert code == 1, run.output()
        assert traceback_free(stderr), run.output()
        assert run.stderr[0].startswith("error: "), run.output()
        assert any(DISK_FULL.search(line) for line in run.stderr), f"no line names the disk problem:\n{stderr}"
        errors = [line for line in run.stderr if line.startswith("error: ")]
        assert len(errors) == 1 and DISK_FULL.search(errors[0]) and "nothing was published" in errors[0], stderr
        assert answer(warehouse) == base.answer  # nothing published

        _mount("-o", f"remount,size={(allocated(base.warehouse) + 4 * growth) // 1024}k", str(disk))
        recovered = Run(warehouse, tmp_path / "reports")
        assert recovered.wait() == 0, recovered.output()
        assert answer(warehouse).published_runs == base.answer.published_runs | {recovered.run_id}
        assert tree_bytes(warehouse) <= size_bound(base, clean)
