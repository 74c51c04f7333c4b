"""The run lock: one pipeline run at a time per warehouse."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from duckbook.errors import DuckbookError


class RunLocked(DuckbookError):
    """Another run holds the warehouse lock."""


@contextlib.contextmanager
def run_lock(warehouse: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock (``<warehouse>.lock``) for the length of a run.
    Raises :class:`RunLocked` naming the holder when another run has it."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(f"{warehouse}.lock")
    with open(lock_path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown holder"
            raise RunLocked(f"another run holds {lock_path} ({holder}); try again when it ends") from None
        f.truncate(0)
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
