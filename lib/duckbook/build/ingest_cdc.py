"""The ingest stage's PostgreSQL CDC sources (kind ``changes``).

For each consumer (one slot, :func:`duckbook.ingest.cdc_spec.consumers`): start it (the first
time: the slot and its snapshot) and poll until idle, so every committed change is landed under
``<warehouse>/cdc/<slot>/`` and the slot advanced. Then every landed file not ingested yet (the
manifest's ``file_path`` ``cdc/<slot>/<file>`` and checksum, as for files), in LSN order, gives
per source of the slot its VERSIONS (:mod:`duckbook.ingest.cdc_versions`): upserts validated
against the contract (broken ones quarantined, the reason naming the LSN), deletes and
truncates needing only a key, landed as one raw-zone Parquet batch with one manifest row.

``raw.<source>`` is the table's current state: the ingested versions applied to it (a key's last
version when it is an upsert; a truncate first removes everything), in place for a one-column key,
else rewritten; ``full_refresh`` (or a first ingest) builds it from every version batch. A
PostgreSQL column added mid-stream is added to the raw table as ``schema_evolution`` allows and
recorded in ``ops.schema_history``. One ``ops.cdc_health`` row per consumer per ingest.

A crash before the run's commit loses nothing: the landed files stay, the manifest is rolled back
with the raw tables, and the next ingest takes the same files again (same batch ids).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from duckbook import engine, ops
from duckbook.build import changes
from duckbook.build.context import StageContext
from duckbook.build.wap import Build
from duckbook.ingest import cdc_land, cdc_spec, cdc_store, deliveries, evolution, files
from duckbook.ingest.cdc_versions import Fold, Key, Row
from duckbook.ingest.contracts import Contract

if TYPE_CHECKING:
    from duckbook.ingest.cdc import CdcSource, Health

RAW_SCHEMA = "raw"
#: More touched keys than this are recorded as a full change.
MAX_CHANGED_KEYS = 50_000


@dataclasses.dataclass(frozen=True)
class CdcIngested:
    """What the ingest did with one consumer: the transactions and events of the change files it
    ingested, their commit times (aware, UTC; the stream's latency starts there), the slot's health."""

    slot: str
    transactions: int
    events: int
    commit_times: tuple[dt.datetime, ...]
    health: Health


@dataclasses.dataclass(frozen=True)
class CdcResult:
    """The manifest batches of the CDC sources and what each consumer did."""

    batches: tuple[files.Batch, ...] = ()
    streams: tuple[CdcIngested, ...] = ()


@dataclasses.dataclass(frozen=True)
class _File:
    """A landed file not ingested yet."""

    path: Path
    relative: str  # cdc/<slot>/<name>: its identity in the manifest
    checksum: str
    snapshot_of: str  # the table of a snapshot part ("" for a change batch)
    lsn: int  # snapshot: the consistent point; batch: its first commit LSN


def ingest_changes(
    ctx: StageContext,
    build: Build,
    feed: changes.Feed,
    landing: files.Landing,
    contracts: Mapping[str, Contract],
    ingested: Mapping[str, str],
    *,
    full_refresh: bool = False,
) -> CdcResult:
    """Consume, land and apply every CDC source of ``contracts`` (see the module docstring);
    ``ingested``: ``{file_path: checksum}`` of the files ingested before.

    Raises :class:`duckbook.ingest.cdc.CdcError` (:class:`~duckbook.ingest.cdc.SlotLost` with the
    command that re-snapshots), :class:`duckbook.ingest.cdc.TableNotCapturable`, or
    :class:`duckbook.ingest.evolution.SchemaEvolutionError` naming the landed file."""
    batches: list[files.Batch] = []
    streams = []
    for source, members in cdc_spec.consumers(contracts.values(), ctx.cfg.warehouse):
        health = _consume(source)
        todo = _pending(source, ingested)
        read = {f.path: pq.read_table(f.path) for f in todo}
        for contract in members:
            batches += _ingest_source(ctx, build, feed, landing, source, contract, todo, read, full_refresh)
        streams.append(_stream(source.slot_name, todo, read, health))
        _record_health(ctx, streams[-1])
    return CdcResult(tuple(batches), tuple(streams))


def _consume(source: CdcSource) -> Health:
    """Start the consumer and poll until idle; the slot's health after it."""
    import psycopg

    from duckbook.ingest import cdc

    consumer = cdc.Consumer(source)
    try:
        consumer.start()
        consumer.run_until_idle()
        return consumer.health()
    except psycopg.Error as exc:
        raise cdc.CdcError(
            f"CDC source {source.name!r} ({cdc_spec.redacted(source.dsn)}): PostgreSQL failed while reading changes: {exc}"
        ) from exc
    finally:
        consumer.close()


def _pending(source: CdcSource, ingested: Mapping[str, str]) -> list[_File]:
    """The landed files not ingested yet, in LSN order (a snapshot before the changes after it)."""
    out = []
    for path in [*source.directory.glob("snapshot-*.parquet"), *source.directory.glob(cdc_store.BATCH_GLOB)]:
        relative, checksum = f"cdc/{source.slot_name}/{path.name}", deliveries.file_digest(path)
        if ingested.get(relative) == checksum:
            continue
        meta = cdc_store.batch_meta(path)
        if path.name.startswith("snapshot-"):
            out.append(_File(path, relative, checksum, str(meta["table"]), int(meta["snapshot_lsn"])))
        else:
            out.append(_File(path, relative, checksum, "", int(path.name.split("-")[0], 16)))
    return sorted(out, key=lambda f: (f.lsn, f.snapshot_of == "", f.path.name))


def _ingest_source(
    ctx: StageContext,
    build: Build,
    feed: changes.Feed,
    landing: files.Landing,
    source: CdcSource,
    contract: Contract,
    todo: Sequence[_File],
    read: Mapping[Path, pa.Table],
    full_refresh: bool,
) -> list[files.Batch]:
    """Land the versions of ``contract``'s table in each of ``todo`` and apply them to its raw table."""
    assert contract.cdc is not None
    table, name, key = contract.cdc.table, contract.name, list(contract.primary_key)
    start = _raw_columns(ctx, name)
    position = cdc_store.read_position(source.directory)
    history = position.history if position else []
    fills = {h["column"]: h.get("fill") for h in history if h["table"] == table and h["change"] == "added"}
    fold = Fold(table, key, seed=lambda keys: _seed(ctx, contract, start, keys), fills=fills)
    known = start
    landed: list[files.Landed] = []
    schema_changes: list[dict[str, object]] = []
    for f in todo:
        events = read[f.path]
        mine = int(pc.sum(pc.equal(events["table_name"], table)).as_py() or 0)
        if f.snapshot_of != table and (f.snapshot_of or not mine):
            continue
        header = _header(f, events, table, position)
        evolved = evolution.resolve(evolution.compare(contract, header, known), delivery=f.relative)
        known = dict(evolved.columns)
        batch_id = f"{name}-{f.path.stem}"
        gone: list[Key] = []
        if f.snapshot_of and f.path.stem.endswith("-00000") and start is not None:
            gone = _gone(ctx, contract, fold, f, read)
        text = fold.versions(events, list(evolved.columns), gone=gone, gone_at=(f.lsn, landing.run_started_at))
        x = cdc_land.land_versions(landing, evolved.contract, text, batch_id=batch_id, path=f.path)
        batch = dataclasses.replace(
            x.batch,
            file_path=f.relative,
            file_size=f.path.stat().st_size,
            checksum=f.checksum,
            extra_columns=",".join(evolved.ignore),
            rows_new=x.batch.rows_landed,
        )
        landed.append(dataclasses.replace(x, batch=batch))
        schema_changes += evolved.history(batch_id=batch_id, run_id=ctx.run_id, changed_at=ctx.run_started_at)
    files.record_quarantine(ctx.con, landed)
    files.record_schema_history(ctx.con, schema_changes)
    batches = [x.batch for x in landed]
    files.record_manifest(landing, batches)  # a rebuild from the raw zone reads them from it
    if full_refresh or start is None:
        if files.current_batches(ctx.con, name, ctx.cfg.raw_zone):
            build.add(name, _state(_zone(ctx, name), key), sources=[f"lake:{ctx.cfg.raw_zone / name}"])
            feed.record(changes.full(f"{RAW_SCHEMA}.{name}"))
    elif landed:
        _apply(ctx, build, feed, contract, [x.batch.parquet_path for x in landed], start, known or start, fills)
    return batches


def _header(f: _File, events: pa.Table, table: str, position: cdc_store.Position | None) -> list[str]:
    """The columns the table had when ``f`` was landed: a batch's recorded schema, else (a
    snapshot) the columns of its rows, else the position's."""
    meta = cdc_store.batch_meta(f.path)
    if table in meta.get("schemas", {}):
        return [c for c, _ in meta["schemas"][table]["columns"]]
    mine = events.filter(pc.equal(events["table_name"], table))
    if mine.num_rows:
        return [k for k, _ in mine["values"][0].as_py()]
    schemas = position.schemas if position else {}
    return [c for c, _ in schemas.get(table, {}).get("columns", [])]


def _raw_columns(ctx: StageContext, name: str) -> dict[str, str] | None:
    """The raw table's data columns and Ibis types (metadata left out), or ``None``."""
    if not engine.table_exists(ctx.con, RAW_SCHEMA, name):
        return None
    schema = ctx.table(f"{RAW_SCHEMA}.{name}").schema()
    return {c: str(t) for c, t in schema.items() if not c.startswith("_")}


def _text_of(raw: ir.Table, columns: Mapping[str, str]) -> dict[str, ir.Value]:
    return {c: raw[c].cast("string") for c in columns}


def _seed(ctx: StageContext, contract: Contract, columns: Mapping[str, str] | None, keys: list[Key]) -> dict[Key, Row]:
    """The raw table's current rows of ``keys`` as text (what an update left out comes from)."""
    if columns is None or not keys:
        return {}
    key = list(contract.primary_key)
    raw = ctx.table(f"{RAW_SCHEMA}.{contract.name}")
    wanted = ibis.memtable(pa.table({f"_k{i}": pa.array([k[i] for k in keys], pa.string()) for i in range(len(key))}))
    text = raw.select(**_text_of(raw, columns))
    joined = text.inner_join(wanted, [text[k] == wanted[f"_k{i}"] for i, k in enumerate(key)])
    rows = joined.select(*columns).to_pyarrow().to_pylist()
    return {tuple(r[k] for k in key): r for r in rows}


def _gone(ctx: StageContext, contract: Contract, fold: Fold, f: _File, read: Mapping[Path, pa.Table]) -> list[Key]:
    """The keys present now (raw, then as folded) that a new snapshot (all its parts) lacks."""
    assert contract.cdc is not None
    key, table = list(contract.primary_key), contract.cdc.table
    raw = ctx.table(f"{RAW_SCHEMA}.{contract.name}")
    present = {
        tuple(r.values()) for r in raw.select(**{k: raw[k].cast("string") for k in key}).to_pyarrow().to_pylist()
    }
    present |= {k for k, row in fold.state.items() if row is not None}
    present -= {k for k, row in fold.state.items() if row is None}
    kept: set[Key] = set()
    prefix = f.path.name.rsplit("-", 1)[0]
    for part in sorted(f.path.parent.glob(f"{prefix}-*.parquet")):
        events = read.get(part) or pq.read_table(part)
        for items in events.filter(pc.equal(events["table_name"], table))["values"].to_pylist():
            row = dict(items)
            kept.add(tuple(row.get(k) for k in key))
    return sorted(present - kept, key=str)


def _zone(ctx: StageContext, name: str) -> ir.Table:
    """Every current version batch of ``name`` in the raw zone."""
    paths = [b.parquet_path for b in files.current_batches(ctx.con, name, ctx.cfg.raw_zone)]
    return ctx.con.read_parquet(paths, hive_partitioning=False, union_by_name=True)


def _after_truncate(versions: ir.Table) -> tuple[ir.Table, bool]:
    """The versions after the last truncate among them, and whether there was one."""
    cuts = versions.filter(versions._cdc_op == "truncate")
    last = cuts.order_by([ibis.desc("_cdc_lsn"), ibis.desc("_cdc_seq")]).limit(1).to_pyarrow().to_pylist()
    if not last:
        return versions, False
    lsn, seq = last[0]["_cdc_lsn"], last[0]["_cdc_seq"]
    after = (versions._cdc_lsn > lsn) | ((versions._cdc_lsn == lsn) & (versions._cdc_seq > seq))
    return versions.filter(after), True


def _state(versions: ir.Table, key: Sequence[str]) -> ir.Table:
    """The current rows ``versions`` give: each key's last version when it is an upsert."""
    after, _ = _after_truncate(versions)
    order = [ibis.desc("_cdc_lsn"), ibis.desc("_cdc_seq")]
    ranked = after.mutate(_n=ibis.row_number().over(group_by=list(key), order_by=order))
    return ranked.filter((ranked._n == 0) & (ranked._cdc_op == "upsert")).drop("_n")


def _apply(
    ctx: StageContext,
    build: Build,
    feed: changes.Feed,
    contract: Contract,
    parquet: Sequence[str],
    start: Mapping[str, str],
    known: Mapping[str, str],
    fills: Mapping[str, Any],
) -> None:
    """Apply the version batches ``parquet`` to the raw table (columns ``start`` before, ``known``
    after them): in place for a one-column key, else rewritten; record the change."""
    con, name, key = ctx.con, contract.name, list(contract.primary_key)
    table = f"{RAW_SCHEMA}.{name}"
    versions = con.read_parquet(list(parquet), hive_partitioning=False, union_by_name=True)
    after, truncated = _after_truncate(versions)
    touched = engine.materialize_temp(con, after.select(*key).distinct(), prefix="_cdc_touched")
    latest = engine.materialize_temp(con, _state(versions, key), prefix="_cdc_latest")
    added = {c: t for c, t in known.items() if c not in start}
    widen = {c: t for c, t in known.items() if c in start and t != start[c]}
    raw = ctx.table(table)
    if len(key) == 1 and not truncated and not added:
        if widen:
            engine.evolve_table(con, RAW_SCHEMA, name, {}, widen)
            raw = ctx.table(table)
        engine.delete_keys(con, RAW_SCHEMA, name, key[0], touched)
        engine.append(con, RAW_SCHEMA, name, latest.select(*(latest[c].cast(t) for c, t in raw.schema().items())))
        build.adopt(name, rows_written=engine.count_rows([latest])[0])
    else:
        kept = raw.limit(0) if truncated else raw.anti_join(touched, key)
        kept = kept.mutate(**{c: ibis.literal(fills.get(c)).cast(t) for c, t in added.items()})
        target = {**dict(kept.schema().items()), **dict(latest.schema().items())}
        target.update({c: ibis.dtype(t) for c, t in known.items()})
        union = kept.select(*(kept[c].cast(t).name(c) for c, t in target.items())).union(
            latest.select(*(latest[c].cast(t).name(c) for c, t in target.items()))
        )
        build.add(name, union, sources=[f"lake:{ctx.cfg.raw_zone / name}"])
    if truncated or len(key) != 1:
        feed.record(changes.full(table))
        return
    keys = versions.select(k=versions[key[0]].cast("string")).distinct().filter(lambda t: t.k.notnull())
    listed = keys.to_pyarrow()["k"].to_pylist()
    feed.record(
        changes.full(table)
        if len(listed) > MAX_CHANGED_KEYS
        else changes.Change(table, key_column=key[0], keys=tuple(listed))
    )


def _stream(slot: str, todo: Sequence[_File], read: Mapping[Path, pa.Table], health: Health) -> CdcIngested:
    """The transactions, events and commit times of the change files ingested."""
    commits: dict[int, dt.datetime] = {}
    events = 0
    for f in todo:
        if f.snapshot_of:
            continue
        data = read[f.path]
        events += data.num_rows
        first = data.group_by("commit_lsn").aggregate([("commit_time", "min")])
        commits.update(zip(first["commit_lsn"].to_pylist(), first["commit_time_min"].to_pylist(), strict=True))
    times = tuple(commits[k] for k in sorted(commits))
    return CdcIngested(slot, len(commits), events, times, health)


def _record_health(ctx: StageContext, stream: CdcIngested) -> None:
    """One ``ops.cdc_health`` row for the consumer of this ingest."""
    h = stream.health
    landed_at = dt.datetime.fromisoformat(h.landed_commit_time) if h.landed_commit_time else None
    if landed_at is not None and landed_at.tzinfo is not None:
        landed_at = landed_at.astimezone(dt.UTC).replace(tzinfo=None)
    row = {
        "run_id": ctx.run_id,
        "source": h.source,
        "slot": h.slot,
        "lag_bytes": h.lag_bytes,
        "retained_wal_bytes": h.retained_wal_bytes,
        "wal_status": h.wal_status,
        "landed_lsn": h.landed_lsn,
        "landed_commit_time": landed_at,
        "transactions": stream.transactions,
        "events": stream.events,
        "checked_at": ctx.run_started_at,
    }
    rows = ibis.memtable([row], schema=ops.schema("cdc_health"))
    ops.record(ctx.con, "cdc_health", rows, replace_where={"run_id": ctx.run_id, "slot": h.slot})
