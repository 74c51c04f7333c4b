"""The one door to the engine.

Every connection is opened here, and SQL lives only here (built as sqlglot expressions in
:mod:`duckbook.engine.ddl`; the benchmark floor is the other exception). Transforms elsewhere are
pure Ibis; this package materializes them. Its modules:

* :mod:`~duckbook.engine.connection`: :func:`connect`, :func:`connect_plain`, :func:`transaction`;
* :mod:`~duckbook.engine.ddl`: every statement, built with sqlglot (quoting done by sqlglot);
* :mod:`~duckbook.engine.tables`: create, evolve, stage, swap in, replace rows, profile;
* :mod:`~duckbook.engine.files`: Parquet files and database files, replaced by atomic renames;
* :mod:`~duckbook.engine.compat`: the one wrapper around Ibis internals.

DuckDB allows a single read-write process per database file, and even a read-only open fails while
a writer holds the file. duckbook therefore never lets a pipeline run write the file interactive
sessions read: :mod:`duckbook.run.runner` builds a copy and swaps it in with an atomic rename, and
each stage notebook disconnects when it ends. Open the warehouse from an exploration notebook with
``connect(read_only=True)``; your session keeps its snapshot until it reconnects.

Importing this package does not import Ibis: the runner process never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duckbook.engine.compat import IbisCompatibilityError
from duckbook.engine.connection import checkpoint, connect, connect_plain, execute, transaction
from duckbook.engine.files import copy_database, remove_database, replace_database, write_parquet
from duckbook.engine.tables import (
    STAGED_PREFIX,
    ColumnProfile,
    TableProfile,
    columns,
    count_rows,
    drop_staged,
    ensure_schema,
    ensure_table,
    insert_rows,
    materialize_temp,
    profile,
    replace_rows,
    stage_table,
    swap_in,
    table_exists,
)

if TYPE_CHECKING:
    # re-exported for annotations elsewhere (``con: engine.DuckDBBackend``)
    from ibis.backends.duckdb import Backend as DuckDBBackend  # noqa: F401

    from duckbook.engine.connection import Connection as Connection

__all__ = [
    "STAGED_PREFIX",
    "ColumnProfile",
    "IbisCompatibilityError",
    "TableProfile",
    "checkpoint",
    "columns",
    "connect",
    "connect_plain",
    "copy_database",
    "count_rows",
    "drop_staged",
    "ensure_schema",
    "ensure_table",
    "execute",
    "insert_rows",
    "materialize_temp",
    "profile",
    "remove_database",
    "replace_database",
    "replace_rows",
    "stage_table",
    "swap_in",
    "table_exists",
    "transaction",
    "write_parquet",
]
