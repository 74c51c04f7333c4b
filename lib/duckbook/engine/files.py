"""Files the engine writes whole: Parquet outputs and the DuckDB database files a run swaps.

Every replacement is a rename (atomic on POSIX): a reader sees the old file or the new one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends.duckdb import Backend as DuckDBBackend


def write_parquet(con: DuckDBBackend, expr: ir.Table, path: Path) -> Path:
    """Write ``expr`` to ``path`` atomically: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con.to_parquet(expr, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_database(path: Path) -> None:
    """Delete a DuckDB file and its WAL, if they exist."""
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


def copy_database(src: Path, dst: Path) -> None:
    """Copy a DuckDB file (and its WAL, if any) to ``dst``; nothing to copy leaves no ``dst``."""
    remove_database(dst)
    if src.exists():
        shutil.copyfile(src, dst)
        if Path(f"{src}.wal").exists():
            shutil.copyfile(f"{src}.wal", f"{dst}.wal")


def replace_database(built: Path, live: Path) -> None:
    """Atomically make ``built`` the live warehouse. Readers that still hold the old file keep
    reading their snapshot (POSIX rename semantics)."""
    Path(f"{live}.wal").unlink(missing_ok=True)
    os.replace(built, live)
