"""Opening the warehouse, running statements, transactions and publishing.

:func:`connect` opens the warehouse (a DuckLake, :mod:`duckbook.engine.lake`) through Ibis:

* a **reader** (``read_only=True``) is a new connection pinned to the newest snapshot, or to
  ``as_of`` a run id, snapshot id or timestamp; it never blocks and is never blocked;
* the **writer** is one connection per process and warehouse, reused by every stage a kernel runs
  (attaching costs ~0.4 s). Outside a run it takes the run lock; inside a run (the runner sets
  ``DUCKBOOK_RUN_ID`` in the kernel's environment) the runner holds the lock, and all stages
  write in one transaction that the runner commits as one snapshot (:func:`publish`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeAlias

import sqlglot.expressions as sge

from duckbook import config as _config
from duckbook.engine import ddl, lake, lock
from duckbook.errors import UserError

if TYPE_CHECKING:  # ibis is imported on first connect: the runner process never needs it
    import duckdb
    from ibis.backends.duckdb import Backend as DuckDBBackend

    #: Either kind of connection: statements run the same on both.
    Connection: TypeAlias = DuckDBBackend | duckdb.DuckDBPyConnection

#: Set by the runner in its kernel's environment: the run's id (the runner holds the lock and commits).
RUN_ENV = "DUCKBOOK_RUN_ID"
#: Set by the runner for ``--select``: the qualified models a stage builds, as JSON (unset: all).
SELECT_ENV = "DUCKBOOK_SELECT"


@dataclasses.dataclass
class _Writer:
    con: DuckDBBackend
    lock: IO[str] | None  # None inside a run: the runner holds it


_WRITERS: dict[Path, _Writer] = {}
_OPEN: set[int] = set()  # ids of DuckDB connections with an open transaction


def connect(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    as_of: str | int | dt.datetime | None = None,
    cfg: _config.Config | None = None,
) -> DuckDBBackend:
    """Open the warehouse (default: the configured one) with the configured engine settings.

    Parameters
    ----------
    warehouse
        The warehouse root directory; ``None`` means the configured ``warehouse``.
        ``":memory:"`` opens a plain in-memory DuckDB (tests, scratch work).
    read_only
        A reader pinned to one snapshot (exploration notebooks, reports, ``duckbook check``).
    as_of
        With ``read_only``: a run id, a snapshot id or a timestamp; the warehouse exactly as
        published then. Default: the newest snapshot.
    cfg
        The configuration (default: :func:`duckbook.config.load`).

    Raises
    ------
    WarehouseNotFound
        A reader of a warehouse that has not been created yet.
    duckbook.engine.lake.SnapshotNotFound
        ``as_of`` names no kept snapshot.
    duckbook.engine.lock.RunLocked
        A writer while another process writes.
    """
    import ibis

    if warehouse is not None and str(warehouse) == ":memory:":
        return ibis.duckdb.connect(":memory:")
    cfg = cfg or _config.load()
    if warehouse is not None:
        cfg = dataclasses.replace(cfg, warehouse=Path(warehouse).expanduser().resolve())
    if read_only:
        return ibis.duckdb.from_connection(lake.open_plain(cfg, read_only=True, as_of=as_of))
    if as_of is not None:
        raise UserError("as_of pins a reader: connect(..., read_only=True, as_of=...)")
    return _writer(cfg).con


def _writer(cfg: _config.Config) -> _Writer:
    """The process's writer for ``cfg.warehouse`` (opened, and locked outside a run, once)."""
    import ibis

    if (found := _WRITERS.get(cfg.warehouse)) is not None:
        return found
    in_run = bool(os.environ.get(RUN_ENV))
    handle = None if in_run else lock.acquire(cfg.lock_file, f"stage writer {os.environ.get('USER', '')}".strip())
    try:
        plain = lake.open_plain(cfg, read_only=False)
    except BaseException:
        if handle is not None:
            lock.release(handle)
        raise
    writer = _Writer(ibis.duckdb.from_connection(plain), handle)
    _WRITERS[cfg.warehouse] = writer
    return writer


def close_writer(cfg: _config.Config) -> None:
    """Roll back what the process's writer left uncommitted, close it and release the lock."""
    writer = _WRITERS.pop(cfg.warehouse, None)
    if writer is None:
        return
    with contextlib.suppress(Exception):
        rollback(writer.con)
    with contextlib.suppress(Exception):
        writer.con.disconnect()
    if writer.lock is not None:
        lock.release(writer.lock)


def selected_models() -> frozenset[str] | None:
    """The models ``--select`` chose for this run (None: every model)."""
    import json

    text = os.environ.get(SELECT_ENV)
    return None if not text else frozenset(json.loads(text))


def in_run() -> str | None:
    """The id of the run this process writes for (None when a stage runs by hand)."""
    return os.environ.get(RUN_ENV) or None


def connect_plain(cfg: _config.Config, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A bare DuckDB connection with the lake attached (for the runner, which must not import
    Ibis). Use it as a context manager: ``with connect_plain(cfg) as con: ...``."""
    return lake.open_plain(cfg, read_only=read_only)


def raw(con: Connection) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection under an Ibis one (or ``con`` itself)."""
    import duckdb

    return con if isinstance(con, duckdb.DuckDBPyConnection) else con.con


def execute(
    con: Connection, statement: sge.Expression, parameters: Sequence[object] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run ``statement`` (rendered for DuckDB) on ``con``; return the cursor to fetch from."""
    return raw(con).execute(ddl.render(statement), parameters)


def in_transaction(con: Connection) -> bool:
    return id(raw(con)) in _OPEN


def begin(con: Connection) -> None:
    """Open a transaction (rolling back one left open, e.g. by a cell that failed)."""
    rollback(con)
    execute(con, sge.Transaction())
    _OPEN.add(id(raw(con)))


def rollback(con: Connection) -> None:
    """Roll back the open transaction, if any (its data files are deleted)."""
    if id(raw(con)) in _OPEN:
        _OPEN.discard(id(raw(con)))
        execute(con, sge.Rollback())


def publish(con: Connection, *, message: str, extra: dict[str, object]) -> int | None:
    """Commit the open transaction as one snapshot (see :func:`duckbook.engine.lake.commit`)."""
    _OPEN.discard(id(raw(con)))
    return lake.commit(raw(con), message=message, extra=extra)


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[None]:
    """Run the block's statements in one transaction: committed when the block ends, rolled back
    (and the error re-raised) when it raises. Inside an open transaction (a stage, a run) the
    block is part of it: the outer transaction commits or rolls back."""
    if in_transaction(con):
        yield
        return
    execute(con, sge.Transaction())
    try:
        yield
    except BaseException:
        execute(con, sge.Rollback())
        raise
    execute(con, sge.Commit())


def checkpoint(con: Connection) -> None:
    """Fold the WAL into the database file."""
    execute(con, ddl.checkpoint())
