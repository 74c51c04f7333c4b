"""``duckbook maintain``: bound the warehouse's disk use, keeping what readers need.

Every run adds a snapshot, and a table a run replaces keeps its earlier versions' files for the
snapshots that still show them. Under the run lock (a running pipeline makes it fail with
:class:`~duckbook.engine.lock.RunLocked`), :func:`maintain`:

1. expires the snapshots older than ``retention_days``, always keeping the snapshots of the last
   ``keep_runs`` successful runs and the newest one (pin those with ``as_of``);
2. merges small adjacent files (a reader of a kept snapshot reads the same rows afterwards);
3. deletes the files no kept snapshot uses once they have waited ``cleanup_grace_minutes`` (a
   reader in the middle of a query keeps its files), and the orphaned files of killed writers.

Files released by this maintain wait for a later one when the grace period is not zero. The raw
zone (``raw/``) is not touched: it holds one file per distinct delivered file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook import config as _config
from duckbook import engine
from duckbook.engine import lake, maintenance
from duckbook.engine.lock import run_lock
from duckbook.errors import RUN_FIRST, WarehouseNotFound

if TYPE_CHECKING:
    import duckdb

__all__ = ["MaintainSummary", "disk_usage", "maintain", "plan_expiry"]


@dataclasses.dataclass(frozen=True)
class MaintainSummary:
    """What :func:`maintain` did (or, with ``dry_run``, would do)."""

    dry_run: bool
    kept: tuple[int, ...]  # the snapshots kept (after a real maintain: with its own merge snapshot)
    expired: tuple[int, ...]  # the snapshots expired
    files_merged: int  # small files merged into larger ones (a dry run merges nothing)
    deleted: tuple[str, ...]  # the files deleted: released before the grace period, and orphans
    pending: int  # files released within the grace period: a later maintain deletes them
    grace_minutes: int
    bytes_before: int  # disk used under the warehouse root
    bytes_after: int

    def lines(self) -> list[str]:
        """The summary as lines of text (what ``duckbook maintain`` prints)."""
        expired, deleted = ("would expire", "would delete") if self.dry_run else ("expired", "deleted")
        waiting = (
            f"{self.pending} wait for the {self.grace_minutes}-minute grace period (a later maintain deletes them)"
        )
        out = [
            f"snapshots: {len(self.kept)} kept ({_ids(self.kept)}), {len(self.expired)} {expired} ({_ids(self.expired)})",
            f"files: {self.files_merged} merged, {len(self.deleted)} {deleted}, {waiting}",
            f"disk: {_size(self.bytes_before)} before, {_size(self.bytes_after)} after",
        ]
        if self.dry_run:
            out += ["dry run: nothing was changed (merging is not simulated)"]
            out += [f"  would delete {path}" for path in self.deleted]
        return out


def plan_expiry(
    snapshots: Sequence[lake.Snapshot], *, now: dt.datetime, retention_days: int, keep_runs: int
) -> tuple[list[int], list[int]]:
    """Split ``snapshots`` (oldest first) into the ids to keep and to expire: kept are those younger
    than ``retention_days`` at ``now`` (UTC, naive), those of the last ``keep_runs`` successful
    runs and the newest.

    >>> at = dt.datetime(2026, 1, 10)
    >>> snaps = [lake.Snapshot(0, at - dt.timedelta(days=30), None), lake.Snapshot(1, at - dt.timedelta(days=20), "r1"),
    ...          lake.Snapshot(2, at - dt.timedelta(days=10), "r2", failed=True), lake.Snapshot(3, at, None)]
    >>> plan_expiry(snaps, now=at, retention_days=7, keep_runs=1)
    ([1, 3], [0, 2])
    """
    cutoff = now - dt.timedelta(days=retention_days)
    successful = [s.snapshot_id for s in snapshots if s.run_id and not s.failed]
    keep = {s.snapshot_id for s in snapshots if s.at >= cutoff} | set(successful[max(0, len(successful) - keep_runs) :])
    keep |= {snapshots[-1].snapshot_id} if snapshots else set()
    ids = [s.snapshot_id for s in snapshots]
    return [i for i in ids if i in keep], [i for i in ids if i not in keep]


def maintain(cfg: _config.Config, *, dry_run: bool = False) -> MaintainSummary:
    """Expire old snapshots, merge small files and delete unused ones (see the module docstring);
    with ``dry_run`` only report what would be expired and deleted.

    Settings: ``cfg.retention_days``, ``cfg.keep_runs``, ``cfg.cleanup_grace_minutes``.

    Raises
    ------
    WarehouseNotFound
        The warehouse has not been created yet.
    duckbook.engine.lock.RunLocked
        A run (or another writer) holds the run lock.
    """
    if not lake.exists(cfg):
        raise WarehouseNotFound(f"warehouse {cfg.warehouse} does not exist yet: {RUN_FIRST}")
    grace = dt.timedelta(minutes=cfg.cleanup_grace_minutes)
    with run_lock(cfg.lock_file, "maintain"):
        before = disk_usage(cfg.warehouse)
        with engine.connect_plain(cfg) as con:
            kept, expire = plan_expiry(
                lake.snapshots(con), now=_utcnow(), retention_days=cfg.retention_days, keep_runs=cfg.keep_runs
            )
            if dry_run:
                return _dry_run(cfg, con, kept, expire, before)
            # files released by earlier maintains first: then the whole queue is usually due
            deleted = maintenance.delete_scheduled(con, before=_utcnow() - grace)
            expired = maintenance.expire(con, expire)
            merged = maintenance.merge_adjacent(con, message="maintain")
            deleted += maintenance.delete_scheduled(con, before=_utcnow() - grace)  # without grace: all just released
            deleted += lake.delete_orphans(con)
            pending = len(maintenance.scheduled(con))
            kept = [s.snapshot_id for s in lake.snapshots(con)]
        return MaintainSummary(
            dry_run=False,
            kept=tuple(kept),
            expired=tuple(expired),
            files_merged=merged,
            deleted=tuple(deleted),
            pending=pending,
            grace_minutes=cfg.cleanup_grace_minutes,
            bytes_before=before,
            bytes_after=disk_usage(cfg.warehouse),
        )


def _dry_run(
    cfg: _config.Config, plain: duckdb.DuckDBPyConnection, kept: list[int], expire: list[int], before: int
) -> MaintainSummary:
    grace = dt.timedelta(minutes=cfg.cleanup_grace_minutes)
    cutoff = _utcnow() - grace
    expired = maintenance.expire(plain, expire, dry_run=True)
    queue = maintenance.scheduled(plain)
    deleted = maintenance.delete_scheduled(plain, before=cutoff, dry_run=True)
    released = maintenance.released_by_expiring(plain, kept) if expired else []
    if grace:
        pending = len(queue) - len(deleted) + len(released)
    else:  # released now, deleted now
        pending = len(queue) - len(deleted)
        deleted += _paths(cfg.data_dir, released)
    return MaintainSummary(
        dry_run=True,
        kept=tuple(kept),
        expired=tuple(expired),
        files_merged=0,
        deleted=tuple(sorted(deleted + lake.delete_orphans(plain, dry_run=True))),
        pending=pending,
        grace_minutes=cfg.cleanup_grace_minutes,
        bytes_before=before,
        bytes_after=before,
    )


def disk_usage(root: Path) -> int:
    """Bytes of every file under ``root`` (catalog, data files, raw zone, temp files)."""
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # a temp file that just went away
                total += (Path(folder) / name).stat().st_size
    return total


def _paths(directory: Path, names: Sequence[str]) -> list[str]:
    """The paths of the files called ``names`` under ``directory``."""
    wanted = set(names)
    return sorted(str(p) for p in directory.rglob("*") if p.name in wanted)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _ids(ids: Sequence[int]) -> str:
    if not ids:
        return "none"
    shown = [*ids[:3], "...", *ids[-2:]] if len(ids) > 6 else ids
    return ", ".join(map(str, shown))


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"
