"""Files the engine writes whole: Parquet batches of the raw zone.

Every file is written beside its target and renamed over it (atomic on POSIX): a reader sees the
old file or the new one, and a killed write leaves only a dot-file that :func:`remove_partial`
deletes.
"""

from __future__ import annotations

import os
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


def remove_partial(directory: Path) -> int:
    """Delete the temporary files of writes that never finished under ``directory``; return how
    many (only safe for the holder of the run lock)."""
    found = list(directory.rglob(".*.tmp")) if directory.is_dir() else []
    for path in found:
        path.unlink(missing_ok=True)
    return len(found)
