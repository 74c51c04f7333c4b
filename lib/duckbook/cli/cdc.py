"""``duckbook cdc status`` and ``duckbook cdc resnapshot``: operating the PostgreSQL CDC sources.

A CDC slot is one :class:`~duckbook.ingest.cdc.Consumer` of the project's sources
(:func:`duckbook.ingest.cdc_spec.consumers`): the sources sharing a DSN and slot.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from duckbook.cli.common import WarehouseOption, app, error_handler
from duckbook.errors import DuckbookError, UserError, unknown_name

if TYPE_CHECKING:
    from duckbook import config
    from duckbook.ingest.cdc import CdcSource
    from duckbook.ingest.contracts import Contract

cdc_app = typer.Typer(
    help="PostgreSQL CDC sources: each slot's health, a new snapshot for a lost slot.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(cdc_app, name="cdc")

Slots = list[tuple["CdcSource", tuple["Contract", ...]]]


class UnknownSlot(UserError, LookupError):
    """A slot named on the command line is not a CDC slot of the project."""


class SlotsLost(DuckbookError):
    """``duckbook cdc status`` found slots lost or unreachable (exit 1)."""


def _slots(warehouse: Path | None, wanted: list[str]) -> tuple[config.Config, Slots]:
    """The configuration and the project's CDC slots, only ``wanted`` ones when given."""
    from duckbook import config, project
    from duckbook.ingest.cdc_spec import consumers

    cfg = config.load(warehouse=warehouse)
    found = consumers(project.load(cfg).sources.values(), cfg.warehouse)
    names = [source.slot_name for source, _ in found]
    for name in wanted:
        if name not in names:
            raise UnknownSlot(unknown_name("SLOT", "CDC slot", name, sorted(names)))
    return cfg, [(s, c) for s, c in found if not wanted or s.slot_name in wanted]


def _ingested(cfg: config.Config) -> set[str]:
    """The names of the files ``ops.ingest_manifest`` records (none before the first run)."""
    from duckbook import engine
    from duckbook.errors import WarehouseNotFound
    from duckbook.ops.tables import SCHEMA

    try:
        with engine.connect_plain(cfg, read_only=True) as con:
            if not engine.table_exists(con, SCHEMA, "ingest_manifest"):
                return set()
            rows = con.execute(f"SELECT source_file, file_path FROM {SCHEMA}.ingest_manifest").fetchall()
    except WarehouseNotFound:
        return set()
    return {Path(p).name for row in rows for p in row if p}


def _status(source: CdcSource, contracts: tuple[Contract, ...], ingested: set[str]) -> tuple[list[str], str]:
    """The lines of one slot, and what is wrong with it ("" when nothing is)."""
    from duckbook.ingest import cdc_store
    from duckbook.ingest.cdc import CdcError, Consumer, SlotLost
    from duckbook.publish.runs_cdc import WAL_STATUS, readable_bytes

    by_table = {c.cdc.table: c.name for c in contracts if c.cdc is not None}
    lines = [f"slot {source.slot_name}", "  tables: " + ", ".join(f"{t} ({by_table[t]})" for t in source.tables)]
    if cdc_store.read_position(source.directory) is None:
        return [*lines, "  not started: the next `duckbook run` creates the slot and lands a first snapshot"], ""
    try:
        with Consumer(source) as consumer:
            h = consumer.health()
    except CdcError as exc:  # a lost slot's message says how to re-snapshot
        return [*lines, f"  {'LOST' if isinstance(exc, SlotLost) else 'UNREACHABLE'}: {exc}"], str(exc)
    landed = [*source.directory.glob("snapshot-*.parquet"), *source.directory.glob(cdc_store.BATCH_GLOB)]
    waiting = sorted(p.name for p in landed if p.name not in ingested)
    committed = ""
    if h.landed_commit_time:  # ISO text in UTC
        committed = f" committed {dt.datetime.fromisoformat(h.landed_commit_time):%Y-%m-%d %H:%M:%S} UTC"
    lines += [
        (
            f"  lag: {readable_bytes(h.lag_bytes)}, retained WAL: {readable_bytes(h.retained_wal_bytes)}, "
            f"WAL status: {h.wal_status}"
        ),
        f"  landed: {h.landed_lsn}{committed}",
        f"  landed, not ingested yet: {len(waiting)} file(s)" + (f" in {source.directory}" if waiting else ""),
    ]
    if h.wal_status != "reserved":
        lines.append(f"  warning: WAL status {h.wal_status}: {WAL_STATUS.get(h.wal_status, '').format(slot=h.slot)}")
    return lines, ""


@cdc_app.command("status")
@error_handler
def status(
    slots: Annotated[
        list[str] | None,
        typer.Argument(metavar="SLOT", help="Slots to show. [default: every CDC slot of the project]"),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Each CDC slot now, read from its PostgreSQL server: tables, lag, retained WAL, WAL status,
    the last landed LSN and commit time, landed files not ingested yet. Exits 1, with the remedy,
    when a slot is lost or its server cannot be reached."""
    cfg, found = _slots(warehouse, slots or [])
    if not found:
        typer.echo("no CDC sources in this project (a source with a cdc: block is one)")
        return
    ingested, problems = _ingested(cfg), []
    for source, contracts in found:
        lines, problem = _status(source, contracts, ingested)
        typer.echo("\n".join(lines))
        if problem:
            problems.append(source.slot_name)
    if problems:
        fix = " and ".join(f"`duckbook cdc resnapshot {p}`" for p in problems)
        raise SlotsLost(
            f"{len(problems)} CDC slot(s) lost or unreachable: {', '.join(problems)} (see above); {fix} "
            "takes a new snapshot once the server is reachable"
        )


@cdc_app.command("resnapshot")
@error_handler
def resnapshot(
    slot: Annotated[
        str, typer.Argument(metavar="SLOT", help="The CDC slot to snapshot anew (duckbook cdc status lists them).")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation. [default: ask]")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Start a CDC slot over (after it was lost): drop the replication slot, set the landed files
    aside (renamed superseded-*), create the slot again and land a new snapshot of its tables,
    under the run lock. The next `duckbook run` ingests the new snapshot: rows deleted while the
    slot was lost become deletes."""
    from duckbook.engine.lock import run_lock
    from duckbook.ingest import cdc
    from duckbook.ingest.cdc_events import format_lsn

    cfg, ((source, _),) = _slots(warehouse, [slot])
    typer.echo(
        f"re-snapshot slot {slot} ({', '.join(source.tables)}): drop the replication slot if it still exists, "
        f"rename the files landed in {source.directory} to superseded-*, create the slot again and land a new "
        "snapshot of the tables consistent with it"
    )
    if not yes:
        typer.confirm("go ahead?", abort=True)
    with run_lock(cfg.lock_file, f"duckbook cdc resnapshot {slot}"):
        position = cdc.resnapshot(source)
    files = len(list(source.directory.glob("snapshot-*.parquet")))
    typer.echo(
        f"slot {slot}: new snapshot at LSN {format_lsn(position.snapshot_lsn)} ({files} file(s)); "
        "the next `duckbook run` ingests it in place of the current rows: rows deleted while the slot was lost "
        "become deletes"
    )
