"""Where a CDC source's batches land, and the landed position on our side.

A batch is one Parquet file of whole transactions, written to a dot-file, fsynced and renamed:
the rename is the commit point. Its name is its first and last commit LSN
(``<first>-<last>.parquet``, 16 hex digits each, so names sort in commit order) and its metadata
(``duckbook.cdc``) holds the end LSN of its last transaction and the captured tables' schemas.
The position (:class:`Position`) is also kept in ``position.json`` (written after the rename, for
when the apply step has moved the files away); :func:`read_position` takes the later of the two,
so a crash between the rename and the position file loses nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from duckbook.ingest.cdc_events import EVENT_SCHEMA, TableSchema

META_KEY = b"duckbook.cdc"
POSITION_FILE = "position.json"
BATCH_GLOB = "[0-9A-F]*-*.parquet"  # change batches; snapshot files start with "snapshot-"


@dataclass(slots=True)
class Position:
    """How far a source has landed.

    ``end_lsn`` is the end of the last landed transaction (the slot is advanced to it; any
    transaction ending at or before it is already landed), ``commit_lsn`` / ``commit_time`` its
    commit, ``snapshot_lsn`` the consistent point of the initial snapshot, ``schemas`` the captured
    tables as last seen, ``history`` every column added or dropped since the snapshot.
    """

    snapshot_lsn: int
    end_lsn: int
    commit_lsn: int
    commit_time: str | None = None
    schemas: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def table_schemas(self) -> dict[str, TableSchema]:
        """The captured tables' schemas as :class:`TableSchema` objects."""
        return {name: TableSchema.from_json(s) for name, s in self.schemas.items()}


def batch_name(first_commit: int, last_commit: int) -> str:
    """The file name of a batch.

    >>> batch_name(0x1925C20, 0x192C0B0)
    '0000000001925C20-000000000192C0B0.parquet'
    """
    return f"{first_commit:016X}-{last_commit:016X}.parquet"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced dot-file and a rename (then fsync the directory)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def land(directory: Path, name: str, table: pa.Table, meta: dict[str, Any]) -> Path:
    """Write ``table`` as ``directory/name`` atomically and durably, ``meta`` in its metadata."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_durably(path, sink.getvalue().to_pybytes())
    return path


def batch_meta(path: Path) -> dict[str, Any]:
    """The ``duckbook.cdc`` metadata of a landed file."""
    raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else {}


def remove_partial(directory: Path) -> int:
    """Delete the dot-files of writes a crash cut short; return how many."""
    found = list(directory.glob(".*.tmp")) if directory.is_dir() else []
    for path in found:
        path.unlink(missing_ok=True)
    return len(found)


def write_position(directory: Path, position: Position) -> None:
    """Record ``position`` in ``directory/position.json`` (durably)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_durably(directory / POSITION_FILE, json.dumps(asdict(position), indent=1).encode())


def read_position(directory: Path) -> Position | None:
    """The landed position: the later of ``position.json`` and the newest landed batch; ``None``
    before the initial snapshot has landed whole."""
    file = directory / POSITION_FILE
    position = Position(**json.loads(file.read_text())) if file.exists() else None
    batches = sorted(directory.glob(BATCH_GLOB))
    if batches and position is not None:
        meta = batch_meta(batches[-1])
        if meta and meta["end_lsn"] > position.end_lsn:
            # landed, but the crash came before position.json was written
            position.end_lsn = meta["end_lsn"]
            position.commit_lsn = meta["last_commit_lsn"]
            position.commit_time = meta["last_commit_time"]
            position.schemas = meta["schemas"]
            position.history = position.history + meta["history"]
    return position


def read_landed(directory: Path) -> pa.Table:
    """Every event landed in ``directory``: the snapshot files, then the batches in commit order
    (``superseded-*`` files of an earlier snapshot are left out)."""
    files = sorted(directory.glob("snapshot-*.parquet")) + sorted(directory.glob(BATCH_GLOB))
    tables = [pq.read_table(f).replace_schema_metadata(None) for f in files]
    return pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()


def commit_time_text(value: datetime) -> str:
    """A commit time as ISO text (kept in JSON)."""
    return value.isoformat()
