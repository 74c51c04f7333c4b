"""Upkeep of the lake: expire snapshots, merge small files, delete files no snapshot needs.

DuckLake deletes in two phases. Expiring a snapshot, or merging small files into one, only
*schedules* the files no kept snapshot uses any more; :func:`delete_scheduled` deletes the ones
scheduled before a cutoff. Deleting late keeps a reader working that is in the middle of a query
on a snapshot it opened before. A reader pinned to a kept snapshot reads the same rows after a
merge: the merged file records which snapshot inserted each row.

Every function here must run with the run lock held (``duckbook maintain``,
:mod:`duckbook.run.maintain`) and on a writer's bare DuckDB connection
(:func:`duckbook.engine.connection.connect_plain`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlglot.expressions as sge

from duckbook.engine import ddl, lake

if TYPE_CHECKING:
    import duckdb

#: Where DuckLake attaches the lake's own catalog tables (the deletion queue, the file list).
METADATA = f"__ducklake_metadata_{lake.ALIAS}"


@dataclasses.dataclass(frozen=True)
class ScheduledFile:
    """A file no kept snapshot uses, waiting to be deleted."""

    name: str  # the file name (DuckLake's names are unique UUIDs)
    at: dt.datetime  # when it was scheduled (UTC, naive)


def expire(con: duckdb.DuckDBPyConnection, snapshot_ids: Sequence[int], *, dry_run: bool = False) -> list[int]:
    """Expire the snapshots ``snapshot_ids`` (readers can no longer open them; the files only they
    used are scheduled for deletion); return the ids expired, or that would be with ``dry_run``."""
    if not snapshot_ids:
        return []
    statement = ddl.call("ducklake_expire_snapshots", lake.ALIAS, versions=list(snapshot_ids), dry_run=dry_run)
    return sorted(int(row[0]) for row in con.execute(ddl.render(statement)).fetchall())


def merge_adjacent(con: duckdb.DuckDBPyConnection, *, message: str) -> int:
    """Merge each table's small adjacent files into larger ones, committed as one snapshot that
    carries ``message``; return how many files were merged (and scheduled for deletion)."""
    before = len(scheduled(con))
    con.execute(ddl.render(sge.Transaction()))
    try:
        con.execute(ddl.render(ddl.call("ducklake_merge_adjacent_files", lake.ALIAS))).fetchall()
    except BaseException:
        con.execute(ddl.render(sge.Rollback()))
        raise
    lake.commit(con, message=message, extra={"maintain": "merge_adjacent_files"})
    return len(scheduled(con)) - before


def scheduled(con: duckdb.DuckDBPyConnection) -> list[ScheduledFile]:
    """The files scheduled for deletion, oldest first."""
    rows = con.execute(ddl.render(ddl.scheduled_files(METADATA))).fetchall()
    found = [ScheduledFile(Path(str(path)).name, _utc(at)) for path, at in rows]
    return sorted(found, key=lambda f: f.at)


def released_by_expiring(con: duckdb.DuckDBPyConnection, kept: Collection[int]) -> list[str]:
    """The names of the files that expiring every snapshot but ``kept`` would schedule for deletion:
    those no kept snapshot in their lifetime ``[first, end)`` uses."""
    rows = con.execute(ddl.render(ddl.ended_files(METADATA))).fetchall()
    return sorted(
        Path(str(path)).name for path, first, end in rows if not any(int(first) <= k < int(end) for k in kept)
    )


def delete_scheduled(con: duckdb.DuckDBPyConnection, *, before: dt.datetime, dry_run: bool = False) -> list[str]:
    """Delete the files scheduled for deletion before ``before`` (UTC, naive); return their paths,
    or with ``dry_run`` those that would be deleted.

    DuckLake 0.3 on a SQLite catalog compares ``older_than`` by day only: every file scheduled on
    ``before``'s day counts as older, even one scheduled a second ago. So when only part of the
    queue is due, the exact cutoff is tried and then the end of the day before (both selections
    are checked to be due first), and a file too young is never deleted; at worst a due one waits
    for a later run.
    """
    queue = scheduled(con)
    due = {f.name for f in queue if f.at < before}
    if not due:
        return []
    if len(due) == len(queue):
        return _cleanup(con, dry_run=dry_run, cleanup_all=True)
    day_before = dt.datetime.combine(before.date(), dt.time()) - dt.timedelta(microseconds=1)
    for cutoff in (before, day_before):
        cutoff_utc = cutoff.replace(tzinfo=dt.UTC)
        picked = _cleanup(con, dry_run=True, older_than=cutoff_utc)
        if picked and {Path(p).name for p in picked} <= due:
            return picked if dry_run else _cleanup(con, older_than=cutoff_utc)
    return []


def _cleanup(con: duckdb.DuckDBPyConnection, **arguments: object) -> list[str]:
    rows = con.execute(ddl.render(ddl.call("ducklake_cleanup_old_files", lake.ALIAS, **arguments))).fetchall()
    return sorted(str(row[0]) for row in rows)


def _utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
