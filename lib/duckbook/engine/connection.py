"""Opening the warehouse, running statements, transactions.

:func:`connect` is the Ibis connection stages and notebooks use; :func:`connect_plain` is a
bare DuckDB connection for the runner process, which never imports Ibis (it costs ~0.3 s).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import sqlglot.expressions as sge

from duckbook import config as _config
from duckbook.engine import ddl
from duckbook.errors import WarehouseNotFound

if TYPE_CHECKING:  # ibis is imported on first connect: the runner process never needs it
    import duckdb
    from ibis.backends.duckdb import Backend as DuckDBBackend

    #: Either kind of connection: statements run the same on both.
    Connection: TypeAlias = DuckDBBackend | duckdb.DuckDBPyConnection


def connect(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    cfg: _config.Config | None = None,
) -> DuckDBBackend:
    """Open the warehouse (default: the configured one) with the configured engine settings.

    Parameters
    ----------
    warehouse
        Path of the DuckDB file; ``None`` or ``""`` means the configured ``warehouse``.
        ``":memory:"`` opens an in-memory database (tests, docs).
    read_only
        Open without taking the write lock (exploration notebooks).
    cfg
        The configuration whose ``memory_limit``, ``threads`` and ``temp_directory`` apply
        (default: :func:`duckbook.config.load`).

    Returns
    -------
    DuckDBBackend
        An Ibis DuckDB connection.

    Raises
    ------
    WarehouseNotFound
        ``read_only`` and the file does not exist yet.
    """
    cfg = cfg or _config.load()
    if warehouse is None or warehouse == "":
        path = str(cfg.warehouse)
    elif str(warehouse) == ":memory:":
        path = ":memory:"
    else:
        path = str(Path(warehouse).expanduser().resolve())
    if path != ":memory:":
        if read_only and not Path(path).exists():
            raise WarehouseNotFound(f"warehouse {path} does not exist yet: run `make run` first")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    cfg.temp_directory.mkdir(parents=True, exist_ok=True)
    import ibis

    return ibis.duckdb.connect(
        path,
        read_only=read_only,
        memory_limit=cfg.memory_limit,
        threads=cfg.threads,
        temp_directory=str(cfg.temp_directory),
    )


def connect_plain(path: Path) -> duckdb.DuckDBPyConnection:
    """A bare DuckDB connection to the file ``path`` (for the runner, which must not import Ibis).

    Use it as a context manager: ``with connect_plain(path) as con: ...``.
    """
    import duckdb

    return duckdb.connect(str(path))


def execute(
    con: Connection, statement: sge.Expression, parameters: Sequence[object] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run ``statement`` (rendered for DuckDB) on ``con``; return the cursor to fetch from."""
    import duckdb

    sql = ddl.render(statement)
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con.execute(sql, parameters)
    return con.raw_sql(sql, parameters=parameters)


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[None]:
    """Run the block's statements in one transaction: committed when the block ends, rolled back
    (and the error re-raised) when it raises."""
    execute(con, sge.Transaction())
    try:
        yield
    except BaseException:
        execute(con, sge.Rollback())
        raise
    execute(con, sge.Commit())


def checkpoint(con: Connection) -> None:
    """Fold the WAL into the database file (before it is copied or swapped)."""
    execute(con, ddl.checkpoint())
