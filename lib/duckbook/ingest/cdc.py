"""PostgreSQL change data capture: a logical replication slot read exactly once into the raw zone.

One :class:`CdcSource` is one slot (wal2json) over a set of tables. :class:`Consumer` runs it:

1. ``start()``: the first time, create the slot on a replication connection with an exported
   snapshot and land the tables as read in that snapshot (``S`` events at the slot's consistent
   point), so nothing is missed or doubled between snapshot and stream. Later, drop the dot-files
   of a cut write and move the slot up to the landed position if a crash left it behind.
2. ``poll()``: ``pg_logical_slot_peek_changes`` (never ``get``: that forgets changes before they
   are landed), parse whole transactions, skip those at or below the landed position, land them
   as one Parquet batch (the rename is the commit point), record the position, and only then
   ``pg_replication_slot_advance``. A crash between any two steps re-reads what was not landed
   and skips what was: exactly once. An idle poll advances the slot to the WAL position it read
   up to, so an idle slot never pins WAL.
3. ``health()``: slot lag and retained WAL in bytes, the last landed LSN and commit time.

The landed position lives on our side (:mod:`duckbook.ingest.cdc_store`): after a server crash
the slot's own position can go back, and an advance can be lost.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from duckbook.errors import DuckbookError
from duckbook.ingest import cdc_store
from duckbook.ingest.cdc_catalog import TableNotCapturable, missing_value, split_table, table_schemas
from duckbook.ingest.cdc_events import (
    SchemaChange,
    TableSchema,
    Transaction,
    decode,
    events_table,
    format_lsn,
    parse_lsn,
    snapshot_table,
)
from duckbook.ingest.cdc_spec import redacted

__all__ = [
    "STEPS",
    "Batch",
    "CdcError",
    "CdcSource",
    "Consumer",
    "Health",
    "SlotLost",
    "TableNotCapturable",
    "resnapshot",
]

#: where a test may stop the consumer: after reading, after landing, after recording the position
STEPS = ("read", "landed", "recorded", "advanced")
SNAPSHOT_CHUNK = 100_000  # snapshot rows per file: bounds memory on big tables


class CdcError(DuckbookError):
    """The change stream cannot be read (server, slot or stream trouble)."""


class SlotLost(CdcError):
    """The replication slot is gone or invalidated: changes were lost and a new snapshot is needed."""


@dataclass(frozen=True, slots=True)
class CdcSource:
    """A PostgreSQL CDC source: its name, libpq DSN, ``schema.table`` names and landing directory.

    ``slot`` defaults to ``duckbook_<name>``; ``batch_changes`` bounds the rows one poll reads
    (whole transactions are never split, so a batch can be larger).
    """

    name: str
    dsn: str
    tables: tuple[str, ...]
    directory: Path
    slot: str = ""
    batch_changes: int = 50_000

    @property
    def slot_name(self) -> str:
        """The replication slot's name."""
        return self.slot or f"duckbook_{self.name}"


@dataclass(frozen=True, slots=True)
class Batch:
    """What one poll did: transactions landed (and skipped as already landed), events, the file."""

    transactions: int
    skipped: int
    events: int
    path: Path | None
    position: cdc_store.Position
    schema_changes: tuple[SchemaChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Health:
    """A slot's health: lag and retained WAL in bytes, WAL status, the last landed commit."""

    source: str
    slot: str
    lag_bytes: int
    retained_wal_bytes: int
    wal_status: str
    landed_lsn: str
    landed_commit_time: str | None


def _plugin_options(tables: tuple[str, ...]) -> list[str]:
    # no include-pk: keys come from the catalog, and a smaller message parses faster
    opts = {
        "format-version": "2",
        "include-xids": "1",
        "include-timestamp": "1",
        "include-lsn": "1",
        "include-transaction": "1",
        "add-tables": ",".join(tables),
    }
    return [x for kv in opts.items() for x in kv]


class Consumer:
    """Reads one :class:`CdcSource` exactly once into its landing directory.

    ``on_step`` is called with each of :data:`STEPS` as a poll passes it (the crash tests stop
    the consumer there).
    """

    def __init__(self, source: CdcSource, *, on_step: Callable[[str], None] | None = None) -> None:
        self.source = source
        self._on_step = on_step or (lambda step: None)
        self._con: psycopg.Connection[Any] | None = None
        self._lock: int | None = None
        self.position: cdc_store.Position | None = None

    # -- connection and slot ---------------------------------------------------------------

    @property
    def con(self) -> psycopg.Connection[Any]:
        """The consumer's (autocommit) connection, opened on first use."""
        if self._con is None or self._con.closed:
            try:
                self._con = psycopg.connect(self.source.dsn, autocommit=True)
            except psycopg.Error as exc:
                raise CdcError(
                    f"CDC source {self.source.name!r}: cannot connect to PostgreSQL at {redacted(self.source.dsn)}: {exc}"
                ) from exc
        return self._con

    def close(self) -> None:
        """Close the connection and release the source (the slot and the landed files stay)."""
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def _take_lock(self) -> None:
        # two consumers of one source would land the same changes twice
        directory = self.source.directory
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CdcError(
                f"CDC source {self.source.name!r}: another consumer is running on {directory} (it holds .lock)"
            ) from None
        self._lock = fd

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _slot(self) -> tuple[int, str]:
        """The slot's confirmed flush LSN and WAL status; :class:`SlotLost` when gone or invalid."""
        row = self.con.execute(
            "SELECT confirmed_flush_lsn::text, wal_status FROM pg_replication_slots WHERE slot_name = %s",
            (self.source.slot_name,),
        ).fetchone()
        fix = (
            f"run `duckbook cdc resnapshot {self.source.slot_name}` to take a new snapshot (it recreates the slot "
            f"and lands the tables anew under {self.source.directory}; the next ingest deletes the rows gone since)"
        )
        if row is None:
            raise SlotLost(
                f"CDC source {self.source.name!r}: replication slot {self.source.slot_name!r} is gone; {fix}"
            )
        if row[1] == "lost" or row[0] is None:
            raise SlotLost(
                f"CDC source {self.source.name!r}: replication slot {self.source.slot_name!r} was invalidated "
                f"(WAL it needed was removed, max_slot_wal_keep_size); {fix}"
            )
        return parse_lsn(row[0]), row[1]

    def _advance(self, lsn: int) -> None:
        confirmed, _ = self._slot()
        if lsn > confirmed:
            self.con.execute(
                "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (self.source.slot_name, format_lsn(lsn))
            )

    # -- snapshot and start ----------------------------------------------------------------

    def start(self) -> cdc_store.Position:
        """Snapshot the first time; else recover from a crash. Returns the landed position.

        Holds the source's lock until :meth:`close` (released at once when starting fails)."""
        directory = self.source.directory
        if self._lock is None:
            self._take_lock()
        try:
            cdc_store.remove_partial(directory)
            position = cdc_store.read_position(directory)
            if position is None:
                position = self._snapshot()
            self._advance(position.end_lsn)  # a crash after landing left the slot behind
        except Exception:
            self.close()
            raise
        self.position = position
        return position

    def _snapshot(self) -> cdc_store.Position:
        src = self.source
        for stale in src.directory.glob("snapshot-*.parquet"):  # a snapshot a crash cut short
            stale.unlink()
        exists = self.con.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (src.slot_name,))
        if exists.fetchone():
            self.con.execute("SELECT pg_drop_replication_slot(%s)", (src.slot_name,))
        schemas = table_schemas(self.con, src.tables)  # refuse before creating anything
        with psycopg.connect(src.dsn, autocommit=True, replication="database") as repl:
            create = sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL wal2json (SNAPSHOT 'export')")
            row = repl.execute(create.format(sql.Identifier(src.slot_name)), prepare=False).fetchone()
            assert row is not None
            lsn, snapshot_name = parse_lsn(row[1]), row[2]
            with psycopg.connect(src.dsn) as reader:
                reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                reader.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_name)))
                schemas = table_schemas(reader, src.tables)  # the columns as of the snapshot
                taken = dt.datetime.now(dt.UTC)
                for table in src.tables:
                    self._land_snapshot(reader, table, list(schemas[table].columns), lsn, taken)
                reader.rollback()
        position = cdc_store.Position(
            snapshot_lsn=lsn,
            end_lsn=lsn,
            commit_lsn=lsn,
            commit_time=cdc_store.commit_time_text(taken),
            schemas={t: s.to_json() for t, s in schemas.items()},
        )
        cdc_store.write_position(src.directory, position)  # the snapshot is complete only now
        return position

    def _land_snapshot(
        self, reader: psycopg.Connection[Any], table: str, names: list[str], lsn: int, taken: dt.datetime
    ) -> None:
        schema, name = split_table(table)
        select = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n in names)
        query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(select, sql.Identifier(schema, name))
        part = 0
        with reader.cursor().copy(query) as copy:
            rows: list[tuple[str | None, ...]] = []
            for row in copy.rows():
                rows.append(row)
                if len(rows) == SNAPSHOT_CHUNK:
                    self._write_snapshot_part(table, names, rows, lsn, taken, part)
                    rows, part = [], part + 1
            if rows or part == 0:
                self._write_snapshot_part(table, names, rows, lsn, taken, part)

    def _write_snapshot_part(
        self, table: str, names: list[str], rows: list[tuple[str | None, ...]], lsn: int, taken: dt.datetime, part: int
    ) -> None:
        data = snapshot_table(table, names, rows, lsn, taken)
        name = f"snapshot-{lsn:016X}-{table}-{part:05d}.parquet"
        cdc_store.land(self.source.directory, name, data, {"snapshot_lsn": lsn, "table": table})

    # -- polling ---------------------------------------------------------------------------

    def poll(self) -> Batch:
        """Land the next batch of whole transactions (possibly none) and advance the slot."""
        if self.position is None:
            self.start()
        position = self.position
        assert position is not None
        self._slot()  # a lost slot is an error before anything is read
        upto = self.con.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert upto is not None
        limit = self.source.batch_changes
        options = _plugin_options(self.source.tables)
        peek = "SELECT data FROM pg_logical_slot_peek_changes(%s, %s::pg_lsn, %s, " + ", ".join(["%s"] * len(options))
        rows = self.con.execute(peek + ")", (self.source.slot_name, upto[0], limit, *options)).fetchall()
        schemas = position.table_schemas()
        transactions, changes = decode((r[0] for r in rows), schemas)
        changes = [
            replace(c, fill=missing_value(self.con, c.table, c.column)) if c.change == "added" else c for c in changes
        ]
        self._on_step("read")
        fresh = [tx for tx in transactions if tx.end_lsn > position.end_lsn]
        landed = [tx for tx in fresh if tx.events]
        path = None
        if fresh:
            path = self._land(landed, fresh[-1], schemas, changes) if landed else None
            self._on_step("landed")
            position = self._moved(position, fresh[-1], schemas, changes)
            cdc_store.write_position(self.source.directory, position)
            self.position = position
            self._on_step("recorded")
        # everything up to `upto` was decoded when the limit did not cut the read
        self._advance(parse_lsn(upto[0]) if len(rows) < limit else position.end_lsn)
        self._on_step("advanced")
        events = sum(len(tx.events) for tx in landed)
        return Batch(len(landed), len(transactions) - len(fresh), events, path, position, tuple(changes))

    def _land(
        self, landed: list[Transaction], last: Transaction, schemas: dict[str, TableSchema], changes: list[SchemaChange]
    ) -> Path:
        meta = {
            "end_lsn": last.end_lsn,
            "last_commit_lsn": last.commit_lsn,
            "last_commit_time": cdc_store.commit_time_text(last.commit_time),
            "schemas": {t: s.to_json() for t, s in schemas.items()},
            "history": [asdict(c) for c in changes],
        }
        name = cdc_store.batch_name(landed[0].commit_lsn, landed[-1].commit_lsn)
        return cdc_store.land(self.source.directory, name, events_table(landed), meta)

    @staticmethod
    def _moved(
        position: cdc_store.Position, last: Transaction, schemas: dict[str, TableSchema], changes: list[SchemaChange]
    ) -> cdc_store.Position:
        return cdc_store.Position(
            snapshot_lsn=position.snapshot_lsn,
            end_lsn=last.end_lsn,
            commit_lsn=last.commit_lsn,
            commit_time=cdc_store.commit_time_text(last.commit_time),
            schemas={t: s.to_json() for t, s in schemas.items()},
            history=position.history + [asdict(c) for c in changes],
        )

    def run_until_idle(self, max_polls: int = 1_000_000) -> list[Batch]:
        """Poll until a poll lands nothing; return the batches that landed something."""
        out = []
        for _ in range(max_polls):
            batch = self.poll()
            if batch.transactions == 0:
                break
            out.append(batch)
        return out

    # -- health ----------------------------------------------------------------------------

    def health(self) -> Health:
        """Slot lag (current WAL - confirmed flush) and retained WAL (current WAL - restart LSN),
        in bytes, and the last landed LSN and commit time."""
        row = self.con.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, wal_status "
            "FROM pg_replication_slots WHERE slot_name = %s",
            (self.source.slot_name,),
        ).fetchone()
        if row is None or row[0] is None or row[2] == "lost":
            self._slot()  # raises SlotLost with the remedy
        assert row is not None
        position = self.position or cdc_store.read_position(self.source.directory)
        return Health(
            self.source.name,
            self.source.slot_name,
            int(row[0]),
            int(row[1] or 0),
            str(row[2]),
            format_lsn(position.commit_lsn) if position else "",
            position.commit_time if position else None,
        )


def resnapshot(source: CdcSource) -> cdc_store.Position:
    """Start a source over after a lost slot: forget the landed position, then snapshot anew
    (the files landed so far are kept, renamed ``superseded-*``: the new snapshot replaces them)."""
    (source.directory / cdc_store.POSITION_FILE).unlink(missing_ok=True)
    for landed in [*source.directory.glob(cdc_store.BATCH_GLOB), *source.directory.glob("snapshot-*.parquet")]:
        landed.rename(landed.with_name(f"superseded-{landed.name}"))
    with Consumer(source) as consumer:
        return consumer.start()
