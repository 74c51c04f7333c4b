"""Copying the lake's tables out: into a plain DuckDB database file, or into Parquet files.

Run on a reader (:func:`duckbook.engine.connection.connect` with ``read_only=True``), every copy
shows one snapshot. Each file is written beside its target and renamed over it (atomic on
POSIX): a failed export leaves no half-written file, and an existing target is replaced only
once the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook.engine import ddl, lake
from duckbook.engine.connection import execute
from duckbook.errors import DuckbookError

if TYPE_CHECKING:
    from duckbook.engine.connection import Connection


class ExportFailed(DuckbookError):
    """A table could not be read or written; its target file was left as it was."""


def schemas(con: Connection) -> dict[str, list[str]]:
    """Every schema of the lake (by name) with its tables (views excluded), sorted."""
    found: dict[str, list[str]] = {str(s): [] for (s,) in execute(con, ddl.list_schemas(lake.ALIAS)).fetchall()}
    for schema, name in execute(con, ddl.list_tables(lake.ALIAS)).fetchall():
        found.setdefault(str(schema), []).append(str(name))
    return found


def to_duckdb(con: Connection, tables: Sequence[tuple[str, str]], path: Path) -> list[int]:
    """Copy the lake's ``(schema, table)`` s into a new DuckDB file at ``path`` (replacing one
    there only when complete); return their row counts."""
    alias = f"_export_{uuid.uuid4().hex[:8]}"
    with _beside(path) as tmp:
        execute(con, ddl.attach(str(tmp), alias))
        try:
            counts = []
            for schema in dict.fromkeys(schema for schema, _ in tables):
                execute(con, ddl.create_schema(schema, catalog=alias))
            for schema, name in tables:
                copy = ddl.copy_table(ddl.table(schema, name, lake.ALIAS), ddl.table(schema, name, alias))
                counts.append(_count(execute(con, copy).fetchone()))
        except BaseException:
            with contextlib.suppress(Exception):
                execute(con, ddl.detach(alias))
            raise
        execute(con, ddl.detach(alias))  # checkpoints: the file is complete
    return counts


def to_parquet(con: Connection, schema: str, name: str, path: Path) -> int:
    """Write the lake's table ``schema.name`` to the Parquet file ``path``; return its row count."""
    with _beside(path) as tmp:
        return _count(execute(con, ddl.copy_to_parquet(ddl.table(schema, name, lake.ALIAS), str(tmp))).fetchone())


@contextlib.contextmanager
def _beside(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed over it when the block succeeds and deleted
    (with DuckDB's write-ahead log) either way; a DuckDB error becomes :class:`ExportFailed`."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportFailed(f"exporting to {path} failed, so it was not written: {reason}") from None
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _count(row: tuple[object, ...] | None) -> int:
    return int(str(row[0])) if row else 0
