"""``duckbook export``: copy schemas of the warehouse out of the lake, as of a run if asked.

Every table of the named schemas is read from one pinned snapshot (the newest, or ``as_of`` a
run id, snapshot id or timestamp) and written either into a plain DuckDB file (``duckdb``,
the default for a path ending in ``.duckdb``: ``<schema>.<table>`` inside it) or as Parquet
files ``<dir>/<schema>/<table>.parquet`` (``parquet``). Files are written beside their target
and renamed over it (:mod:`duckbook.engine.export`): a failed export leaves no half file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from duckbook import config as _config
from duckbook import engine, params
from duckbook.engine import export as files
from duckbook.engine import lake
from duckbook.engine.export import ExportFailed
from duckbook.errors import UserError

__all__ = ["FORMATS", "ExportFailed", "ExportSummary", "ExportedTable", "export"]

FORMATS = ("duckdb", "parquet")


@dataclasses.dataclass(frozen=True)
class ExportedTable:
    """One table written."""

    schema: str
    table: str
    rows: int
    path: Path  # the Parquet file, or the DuckDB file that holds it


@dataclasses.dataclass(frozen=True)
class ExportSummary:
    """What :func:`export` wrote."""

    path: Path
    format: str
    snapshot_id: int | None  # the snapshot every table was read from
    tables: tuple[ExportedTable, ...]

    def lines(self) -> list[str]:
        """The summary as lines of text (what ``duckbook export`` prints)."""
        total = sum(t.rows for t in self.tables)
        head = f"exported {len(self.tables)} tables ({total:,} rows) of snapshot {self.snapshot_id} to {self.path}"
        return [head] + [f"  {t.schema}.{t.table}: {t.rows:,} rows" for t in self.tables]


def export(
    cfg: _config.Config,
    schemas: Sequence[str],
    to: Path,
    *,
    format: str | None = None,
    as_of: str | int | dt.datetime | None = None,
) -> ExportSummary:
    """Write every table of ``schemas`` to ``to``.

    Parameters
    ----------
    cfg
        The configuration (its warehouse is read).
    schemas
        Schema names of the warehouse (at least one).
    to
        The DuckDB file, or the directory of the Parquet files.
    format
        ``"duckdb"`` or ``"parquet"``; default ``"duckdb"`` when ``to`` ends with ``.duckdb``,
        else ``"parquet"``.
    as_of
        A run id, snapshot id or timestamp (default: the newest snapshot).

    Raises
    ------
    UserError
        No schema, a malformed or unknown schema name (the message lists the warehouse's), an
        unknown format, or a target of the wrong kind.
    duckbook.engine.lake.SnapshotNotFound
        ``as_of`` names no kept snapshot.
    ExportFailed
        A table could not be read or written (the target is left as it was).
    """
    if not schemas:
        raise UserError("name at least one schema to export")
    wanted = list(dict.fromkeys(params.validate_identifier("schema", s) for s in schemas))
    chosen = format or ("duckdb" if to.suffix == ".duckdb" else "parquet")
    if chosen not in FORMATS:
        raise UserError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if chosen == "duckdb" and to.is_dir():
        raise UserError(f"{to} is a directory: give the DuckDB file to write (e.g. {to / 'export.duckdb'})")
    if chosen == "parquet" and to.exists() and not to.is_dir():
        raise UserError(f"{to} is a file: Parquet export writes a directory of <schema>/<table>.parquet files")
    con = engine.connect(cfg=cfg, read_only=True, as_of=as_of)
    try:
        found = files.schemas(con)
        if unknown := [s for s in wanted if s not in found]:
            raise UserError(
                f"unknown schema(s) {', '.join(unknown)} in warehouse {cfg.warehouse}; it has: {', '.join(found)}"
            )
        tables = [(schema, name) for schema in wanted for name in found[schema]]
        snapshot = lake.current(engine.raw(con))
        if chosen == "duckdb":
            counts = files.to_duckdb(con, tables, to)
            written = [ExportedTable(s, t, n, to) for (s, t), n in zip(tables, counts, strict=True)]
        else:
            written = []
            for schema, name in tables:
                path = to / schema / f"{name}.parquet"
                written.append(ExportedTable(schema, name, files.to_parquet(con, schema, name, path), path))
    finally:
        con.disconnect()
    return ExportSummary(to, chosen, snapshot, tuple(written))
