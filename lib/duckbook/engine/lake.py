"""The warehouse as a DuckLake: a SQL catalog plus Parquet data files under one warehouse root.

::

    <warehouse>/catalog.sqlite   the DuckLake catalog (SQLite in WAL mode; or PostgreSQL: `catalog`)
    <warehouse>/data/            the tables' Parquet files, written by DuckLake
    <warehouse>/raw/             the raw zone: one Parquet file per ingested batch
    <warehouse>/tmp/             DuckDB's spill files
    <warehouse>/run.lock         held by the one writer (a run, or a stage run by hand)

Every connection is an in-memory DuckDB with the lake attached as ``lake`` and made the default
catalog, so ``schema.table`` names the lake's tables. A writer publishes with a transaction: a
run is one transaction over all its stages (one snapshot, or nothing), committed with the run id
in the snapshot's ``commit_extra_info``. A reader is pinned to one snapshot (the newest, or
``as_of`` a run, snapshot id or timestamp) for as long as it is open; readers never block the
writer, nor the writer them.

A warehouse root with a SQLite catalog can be copied or moved whole (while no process has it
open): it always reads and writes its own ``data/``. A catalog that is missing, empty or corrupt
beside existing data files stops every command with a :class:`CatalogError`; nothing starts a
new lake over them.

Extensions load from the pinned ``duckdb-ext-*`` wheels' directory; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook import config as _config
from duckbook.errors import RUN_FIRST, DuckbookError, UserError, WarehouseNotFound

if TYPE_CHECKING:
    import duckdb

#: The name the lake is attached under (and made the default catalog).
ALIAS = "lake"
AUTHOR = "duckbook"


class CatalogError(DuckbookError):
    """The catalog cannot be opened or read (corrupt, unreachable, not a DuckLake)."""


class SnapshotNotFound(UserError, LookupError):
    """``as_of`` names no snapshot the warehouse still has."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One published state of the warehouse."""

    snapshot_id: int
    at: dt.datetime
    run_id: str | None  # the run that committed it (None: a stage run by hand, upkeep)
    failed: bool = False  # the snapshot only records a failed run's log


def catalog_uri(cfg: _config.Config) -> str:
    """``ducklake:sqlite:<root>/catalog.sqlite``, or ``ducklake:postgres:<conninfo>`` when the
    ``catalog`` setting is ``postgres:<libpq conninfo>``."""
    if cfg.catalog and cfg.catalog.startswith("postgres:"):
        return f"ducklake:{cfg.catalog}"
    return f"ducklake:sqlite:{cfg.catalog_file}"


def exists(cfg: _config.Config) -> bool:
    """Whether the warehouse has been created (a PostgreSQL catalog is assumed to exist)."""
    return bool(cfg.catalog) or cfg.catalog_file.is_file()


def open_plain(
    cfg: _config.Config, *, read_only: bool, as_of: str | int | dt.datetime | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached (``USE lake``): pinned to a snapshot when
    ``read_only``, else the writer's (creating the warehouse on first use).

    Raises :class:`WarehouseNotFound` for a reader of a warehouse not created yet,
    :class:`SnapshotNotFound` for an unknown ``as_of``, :class:`CatalogError` for a catalog
    that cannot be read.
    """
    import duckdb
    import duckdb_ext

    has_data = _has_data_files(cfg)
    if not exists(cfg):
        if has_data:  # a new catalog would make every data file an orphan, deleted by the next run
            raise CatalogError(
                f"warehouse {cfg.warehouse}: {cfg.catalog_file.name} is missing but {cfg.data_dir} holds data files: "
                f"restore {cfg.catalog_file.name} from a backup, or move the warehouse away to start a new one"
            )
        if read_only:
            raise WarehouseNotFound(f"warehouse {cfg.warehouse} does not exist yet: {RUN_FIRST}")
        _create_sqlite_catalog(cfg.catalog_file)
    cfg.temp_directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        ":memory:",
        config={
            "extension_directory": duckdb_ext.get_extension_dir(),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            # The extension files come from the pinned duckdb-ext-* wheels in this environment
            # (as trusted as any installed package); checking their signatures on every load costs
            # ~1 s per connection (ducklake + sqlite), which every reader and CLI call would pay.
            "allow_unsigned_extensions": True,
            "memory_limit": cfg.memory_limit,
            "threads": cfg.threads,
            "temp_directory": str(cfg.temp_directory),
        },
    )
    try:
        con.execute("LOAD ducklake")
        if read_only:
            snapshot = _newest_in_sqlite(cfg) if as_of is None else None
            if snapshot is None:  # resolve through the catalog itself (run ids, timestamps, PostgreSQL)
                _attach(con, cfg, "READ_ONLY")
                snapshot = resolve(con, as_of)
                con.execute(f"DETACH {ALIAS}")
            _attach(con, cfg, f"READ_ONLY, SNAPSHOT_VERSION {snapshot}")
        else:
            # with data files the lake exists: an empty or replaced catalog must not start a new one
            _attach(con, cfg, f"CREATE_IF_NOT_EXISTS {str(not has_data).lower()}")
        con.execute(f"USE {ALIAS}")
    except duckdb.Error as exc:
        con.close()
        if "creating a new DuckLake is explicitly disabled" in str(exc):
            data = f" but {cfg.data_dir} holds data files" if has_data else ""
            raise CatalogError(
                f"warehouse {cfg.warehouse}: the catalog holds no DuckLake (empty or replaced?){data}: "
                "restore it from a backup, or move the warehouse away to start a new one"
            ) from None
        raise CatalogError(f"warehouse {cfg.warehouse}: the catalog cannot be opened: {_first_line(exc)}") from None
    except BaseException:
        con.close()
        raise
    return con


def check_catalog(cfg: _config.Config) -> None:
    """Raise :class:`CatalogError` if the lake has data files but its catalog cannot be opened
    (missing, empty, corrupt): a run checks before it starts its kernel and writes anything."""
    if _has_data_files(cfg):
        open_plain(cfg, read_only=True).close()


def _attach(con: duckdb.DuckDBPyConnection, cfg: _config.Config, options: str) -> None:
    """Attach the lake with ``options``, its data path always ``<warehouse>/data/``.

    DuckLake stores the absolute data path the lake was created with; a SQLite catalog lives in
    the warehouse root, so ``OVERRIDE_DATA_PATH`` keeps a moved or copied root on its own files
    (without it, readers of a copy read the original's files and its writer cannot attach). A
    PostgreSQL catalog is not part of the root: its stored data path must match.
    """
    data_path = f"DATA_PATH {_quote(str(cfg.data_dir) + '/')}"
    if not cfg.catalog:
        options += f", {data_path}, OVERRIDE_DATA_PATH true"
    elif "READ_ONLY" not in options:
        options += f", {data_path}"
    con.execute(f"ATTACH {_quote(catalog_uri(cfg))} AS {ALIAS} ({options})")


def _newest_in_sqlite(cfg: _config.Config) -> int | None:
    """The newest snapshot id read straight from a SQLite catalog (a millisecond, against a
    second attach of the lake), or None when that is not possible."""
    if cfg.catalog:
        return None
    try:
        with sqlite3.connect(f"file:{cfg.catalog_file}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("SELECT max(snapshot_id) FROM ducklake_snapshot").fetchone()
    except sqlite3.Error:
        return None  # not (yet) a DuckLake catalog: the attach says what is wrong
    return None if row is None or row[0] is None else int(row[0])


def _has_data_files(cfg: _config.Config) -> bool:
    """Whether the lake has written data files (so its catalog must exist)."""
    return cfg.data_dir.is_dir() and any(p.is_file() for p in cfg.data_dir.rglob("*"))


def _create_sqlite_catalog(path: Path) -> None:
    """An empty SQLite file in WAL mode (stored in the file): with it, readers never refuse and
    commits take tens of milliseconds; DuckDB cannot switch the mode itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL").fetchall()


def snapshots(con: duckdb.DuckDBPyConnection) -> list[Snapshot]:
    """Every snapshot the lake keeps, oldest first, with the run that committed it."""
    rows = con.execute(
        f"SELECT snapshot_id, snapshot_time, commit_extra_info FROM {ALIAS}.snapshots() ORDER BY snapshot_id"
    ).fetchall()
    return [Snapshot(int(i), _naive(at), *_run_of(extra)) for i, at, extra in rows]


def resolve(con: duckdb.DuckDBPyConnection, as_of: str | int | dt.datetime | None) -> int:
    """The snapshot id ``as_of`` names: ``None`` the newest; an int (or digits) a snapshot id; a
    run id the snapshot that run committed; a datetime (or ISO text) the newest at that time."""
    kept = snapshots(con)
    if not kept:
        raise SnapshotNotFound(f"the warehouse has no snapshot yet: {RUN_FIRST}")
    if as_of is None:
        return kept[-1].snapshot_id
    if isinstance(as_of, int) or (isinstance(as_of, str) and as_of.isdigit()):
        if any(s.snapshot_id == int(as_of) for s in kept):
            return int(as_of)
        raise SnapshotNotFound(f"snapshot {as_of} is not kept (kept: {kept[0].snapshot_id}..{kept[-1].snapshot_id})")
    if isinstance(as_of, str) and (match := [s for s in kept if s.run_id == as_of]):
        if published := [s for s in match if not s.failed]:
            return published[-1].snapshot_id
        raise SnapshotNotFound(f"run {as_of} failed: it published nothing (see `duckbook runs`)")
    moment = as_of if isinstance(as_of, dt.datetime) else _parse_time(as_of)
    before = [s for s in kept if s.at <= moment]
    if not before:
        raise SnapshotNotFound(f"no snapshot at or before {moment} (the oldest kept is {kept[0].at})")
    return before[-1].snapshot_id


def _parse_time(text: str) -> dt.datetime:
    try:
        return _naive(dt.datetime.fromisoformat(text))
    except ValueError:
        raise SnapshotNotFound(
            f"as_of {text!r} is not a run id, snapshot id or timestamp (YYYY-MM-DDTHH:MM:SS) of this warehouse "
            "(`duckbook runs` shows the runs; one whose snapshot `duckbook maintain` expired has snapshot -)"
        ) from None


def current(con: duckdb.DuckDBPyConnection) -> int | None:
    """The snapshot the connection sees (None before the first commit)."""
    row = con.execute(f"SELECT id FROM ducklake_current_snapshot({_quote(ALIAS)})").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def commit(con: duckdb.DuckDBPyConnection, *, message: str, extra: dict[str, object]) -> int | None:
    """Commit the open transaction as one snapshot carrying ``message`` and ``extra`` (JSON) and
    return its id (None when the transaction changed nothing: no snapshot is made).

    A statement that failed inside the transaction would make DuckDB roll back on COMMIT
    without raising: that is checked first and raised as :class:`CatalogError`.
    """
    import duckdb

    before = current(con)
    try:
        con.execute("SELECT 1").fetchall()  # raises when a failed statement aborted the transaction
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise CatalogError(f"{message}: a statement failed, so nothing was published ({_first_line(exc)})") from None
    # literals, not parameters: DuckDB imports pandas (~0.5 s) to inspect Python parameters
    con.execute(
        f"CALL {ALIAS}.set_commit_message({_quote(AUTHOR)}, {_quote(message)}, extra_info => {_quote(json.dumps(extra))})"
    )
    con.execute("COMMIT")
    after = current(con)
    return None if after == before else after


def delete_orphans(con: duckdb.DuckDBPyConnection, *, dry_run: bool = False) -> list[str]:
    """Delete data files no snapshot knows (left by a killed writer) and return their paths (with
    ``dry_run``: only list them). Only safe for the holder of the run lock: another writer's
    uncommitted files look orphaned too."""
    call = f"CALL ducklake_delete_orphaned_files({_quote(ALIAS)}, cleanup_all => true, dry_run => {dry_run})"
    return sorted(str(row[0]) for row in con.execute(call).fetchall())


def _run_of(extra: object) -> tuple[str | None, bool]:
    """(run id, failed) from a snapshot's ``commit_extra_info``."""
    try:
        info = json.loads(str(extra)) if extra else {}
    except ValueError:
        info = {}
    if not isinstance(info, dict) or not info.get("run_id"):
        return None, False
    return str(info["run_id"]), info.get("status") == "failed"


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
