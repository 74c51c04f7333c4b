"""The one door to the engine.

Every connection is opened here, and SQL lives only here (built as sqlglot expressions in
:mod:`duckbook.engine.ddl`; the benchmark floor is the other exception). Transforms elsewhere are
pure Ibis; this package materializes them. Its modules:

* :mod:`~duckbook.engine.lake`: the warehouse as a DuckLake (catalog + Parquet under one root),
  snapshots, time travel, commits that carry the run id;
* :mod:`~duckbook.engine.connection`: :func:`connect` (readers pinned to a snapshot; one writer
  per process), transactions, :func:`publish`;
* :mod:`~duckbook.engine.lock`: the run lock (one writer at a time);
* :mod:`~duckbook.engine.ddl`: every statement, built with sqlglot (quoting done by sqlglot);
* :mod:`~duckbook.engine.tables`: create, evolve (add columns, widen types), stage, swap in,
  replace rows, profile;
* :mod:`~duckbook.engine.files`: Parquet batches written by atomic renames;
* :mod:`~duckbook.engine.compat`: the one wrapper around Ibis internals.

Importing this package does not import Ibis: the runner process never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duckbook.engine.compat import IbisCompatibilityError
from duckbook.engine.connection import (
    RUN_ENV,
    SELECT_ENV,
    begin,
    checkpoint,
    close_writer,
    connect,
    connect_plain,
    execute,
    in_run,
    in_transaction,
    publish,
    raw,
    rollback,
    selected_models,
    transaction,
)
from duckbook.engine.files import remove_partial, write_parquet
from duckbook.engine.lock import RunLocked
from duckbook.engine.tables import (
    STAGED_PREFIX,
    ColumnProfile,
    TableEvolutionError,
    TableProfile,
    append,
    columns,
    count_rows,
    delete_keys,
    delete_since,
    drop_staged,
    ensure_schema,
    ensure_table,
    evolve_table,
    insert_rows,
    materialize_temp,
    profile,
    replace_rows,
    retypes_in_place,
    sql_of,
    stage_table,
    swap_in,
    table,
    table_exists,
)

if TYPE_CHECKING:
    # re-exported for annotations elsewhere (``con: engine.DuckDBBackend``)
    from ibis.backends.duckdb import Backend as DuckDBBackend  # noqa: F401

    from duckbook.engine.connection import Connection as Connection

__all__ = [
    "RUN_ENV",
    "SELECT_ENV",
    "selected_models",
    "RunLocked",
    "begin",
    "close_writer",
    "in_run",
    "in_transaction",
    "publish",
    "raw",
    "remove_partial",
    "rollback",
    "STAGED_PREFIX",
    "ColumnProfile",
    "IbisCompatibilityError",
    "TableEvolutionError",
    "TableProfile",
    "checkpoint",
    "columns",
    "connect",
    "connect_plain",
    "count_rows",
    "drop_staged",
    "ensure_schema",
    "ensure_table",
    "evolve_table",
    "execute",
    "append",
    "delete_keys",
    "delete_since",
    "insert_rows",
    "sql_of",
    "materialize_temp",
    "profile",
    "replace_rows",
    "retypes_in_place",
    "stage_table",
    "swap_in",
    "table",
    "table_exists",
    "transaction",
    "write_parquet",
]
