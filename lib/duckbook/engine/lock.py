"""The run lock: one writer at a time per warehouse (a run, or a stage run by hand).

Readers never take it: they read a pinned snapshot of the lake and are never blocked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from duckbook.errors import DuckbookError


class RunLocked(DuckbookError):
    """Another writer holds the warehouse's run lock."""


def acquire(lock_file: Path, holder: str) -> IO[str]:
    """Take the lock without waiting and return its open file (close it to release).
    Raises :class:`RunLocked` naming the holder when another process has it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    f = open(lock_file, "a+")  # noqa: SIM115 - held beyond this function, closed by release()
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        found = f.read().strip() or "unknown holder"
        f.close()
        raise RunLocked(f"another run holds {lock_file} ({found}); try again when it ends") from None
    f.truncate(0)
    f.write(f"{holder}, pid {os.getpid()}")
    f.flush()
    return f


def release(handle: IO[str]) -> None:
    """Release a lock taken with :func:`acquire`."""
    with contextlib.suppress(OSError):
        fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


@contextlib.contextmanager
def run_lock(lock_file: Path, holder: str = "run") -> Iterator[None]:
    """Hold the lock for the block."""
    handle = acquire(lock_file, holder)
    try:
        yield
    finally:
        release(handle)
