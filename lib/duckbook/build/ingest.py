"""The ingest stage's build: land every pending delivered file, bring the ``raw`` tables up to date,
record the manifest and the changes, and audit rows read = landed + quarantined per batch.

What each raw table holds (see :mod:`duckbook.ingest.deliveries` for which files a run takes):

* an ``events`` source: every row ever delivered, one per key. A dated delivery's rows are merged
  into it: keys not seen yet are added, a key delivered again is a no-op (``keep: first``) or
  replaces the stored row when its ``by`` column is greater (``keep: latest``). The change
  recorded for the models downstream is the new keys and the earliest ``event_time`` among them.
* a ``snapshot`` source: the latest delivered snapshot (a delivery without the file leaves it as
  it is). Its history is kept by the snapshot models reading the raw zone's batches.

A correction, a changed undated file or ``full_refresh`` rebuilds the table from the raw zone
(every file's latest batch, in delivery order: the same rows the merges give) and records a full
change. Every landed file stays in the raw zone, so a full refresh never re-reads a source file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import ibis
import ibis.expr.types as ir
import polars as pl

from duckbook import engine, events, ops
from duckbook.build import changes, ingest_cdc
from duckbook.build.context import StageContext
from duckbook.build.wap import Build
from duckbook.ingest import api, deliveries, files
from duckbook.ingest.contracts import Contract
from duckbook.quality.row_checks import ingest_reconciliation

RAW_SCHEMA = "raw"
#: More new keys than this are recorded as a full change (a first load or a long catch-up).
MAX_CHANGED_KEYS = 50_000


@dataclasses.dataclass
class Ingested:
    """What an ingest run did: the build to audit and publish, the manifest of its batches, the
    files skipped as already ingested, warnings (missing delivery days), and per CDC consumer what
    it ingested and its slot's health."""

    build: Build
    manifest: pl.DataFrame
    skipped: int
    warnings: list[str]
    cdc: tuple[ingest_cdc.CdcIngested, ...] = ()


def ingest(
    ctx: StageContext, contracts: Mapping[str, Contract], source_dir: str | Path, *, full_refresh: bool = False
) -> Ingested:
    """Ingest every pending file of ``source_dir`` (relative to the project root) into a ``raw``
    build, not yet audited or published (see the module docstring).

    Raises :class:`duckbook.ingest.contracts.ContractError` listing every missing file or column,
    or every changed file its source's policy refuses, before anything is written.
    """
    changing = {n: c for n, c in contracts.items() if c.cdc is not None}  # CDC: duckbook.build.ingest_cdc
    contracts = {n: c for n, c in contracts.items() if c.cdc is None}
    source = Path(source_dir) if Path(source_dir).is_absolute() else ctx.cfg.root / source_dir
    found = deliveries.discover(source)
    warnings = [f"no delivery folder for {day} (between deliveries)" for day in deliveries.missing_days(found)]
    ingested = _ingested_files(ctx.con)
    todo = deliveries.plan(found, contracts, run_date=ctx.run_date, ingested=ingested)
    pages, polled = _api_pages(ctx, contracts, ingested)
    todo += pages
    warnings += [f"{p.source}: polling stopped at a malformed page ({p.stopped})" for p in polled if p.stopped]
    skipped = sum(
        1 for d in found if d.date is None or d.date <= ctx.run_date for c in contracts.values() if c.file in d.files
    ) - len(todo)
    files.preflight([(f.contract, f.path) for f in todo], {c: _raw_columns(ctx, c) for c in contracts})
    landing = files.Landing(ctx.con, ctx.cfg.raw_zone, ctx.run_id, ctx.run_started_at, ctx.run_date)
    merged = {
        c.name for c in contracts.values() if _mergeable(ctx, c, [f for f in todo if f.contract is c], full_refresh)
    }
    landed, schema_changes = [], []
    for done, f in enumerate(todo, start=1):
        x, changed = _land(ctx, landing, f, evolve=f.contract.name in merged)
        landed.append(x)
        schema_changes += changed
        events.emit("progress", what="files ingested", done=done, total=len(todo), item=f.relative)
        if x.batch.rows_quarantined:
            events.emit("quarantined", file=f.relative, rows=x.batch.rows_quarantined, table=x.batch.table)
    files.record_quarantine(ctx.con, landed)
    files.record_schema_history(ctx.con, schema_changes)
    build = ctx.build(RAW_SCHEMA)
    by_table: dict[str, list[files.Landed]] = {}
    for x in landed:
        by_table.setdefault(x.batch.table, []).append(x)
    rebuild = contracts if full_refresh else {t: contracts[t] for t in by_table}
    feed = changes.Feed(ctx.con, ctx.run_id)
    new_rows: dict[str, int] = {}  # batch id -> rows new to its raw table
    # the manifest first: a rebuild from the raw zone reads this run's batches from it
    files.record_manifest(landing, [x.batch for x in landed])
    for name, contract in rebuild.items():
        batches = by_table.get(name, [])
        if name in merged:
            new_rows.update(_merge_events(ctx, build, feed, contract, batches))
        else:
            new_rows.update(_rebuild(ctx, build, contract, batches))
            feed.record(changes.full(f"{RAW_SCHEMA}.{name}"))
    cdc = ingest_cdc.ingest_changes(ctx, build, feed, landing, changing, ingested, full_refresh=full_refresh)
    feed.flush()
    counted = [
        dataclasses.replace(x.batch, rows_new=new_rows.get(x.batch.batch_id, x.batch.rows_landed)) for x in landed
    ]
    manifest = files.record_manifest(landing, counted + list(cdc.batches))
    build.add_checks([ingest_reconciliation()], context={"ingest_manifest": ops.table(ctx.con, "ingest_manifest")})
    return Ingested(build, manifest, skipped, warnings, cdc.streams)


def _api_pages(
    ctx: StageContext, contracts: Mapping[str, Contract], ingested: Mapping[str, str]
) -> tuple[list[deliveries.DeliveredFile], list[api.Polled]]:
    """Poll every API source (its pages landed under ``<warehouse>/api/<source>/``), then the page
    files not ingested yet: delivered on the run's date, identified as ``api/<source>/<file>``.

    Raises :class:`duckbook.ingest.api.ApiSourceError`; the pages landed before it stay and the
    next run ingests them."""
    todo, polled = [], []
    for contract in contracts.values():
        if contract.api is None:
            continue
        folder = api.landing_folder(ctx.cfg.warehouse, contract.name)
        polled.append(api.poll(contract, folder))
        files_ = api.page_files(folder)
        delivery = deliveries.Delivery(ctx.run_date, folder, tuple(p.name for p in files_))
        for path in files_:
            relative, checksum = f"api/{contract.name}/{path.name}", deliveries.file_digest(path)
            if ingested.get(relative) != checksum:
                todo.append(
                    deliveries.DeliveredFile(delivery, contract, path, relative, path.stat().st_size, checksum, "new")
                )
    return todo, polled


def _ingested_files(con: engine.DuckDBBackend) -> dict[str, str]:
    """``{file path under source_dir: checksum}`` of every file ingested so far (its latest batch)."""
    manifest = ops.read(con, "ingest_manifest")
    if manifest is None:
        return {}
    latest = manifest.filter(manifest.file_path.notnull()).order_by("ingested_at")
    return {r["file_path"]: r["checksum"] for r in latest.select("file_path", "checksum").to_pyarrow().to_pylist()}


def _raw_columns(ctx: StageContext, source: str) -> dict[str, str] | None:
    """The raw table's columns and Ibis types (metadata columns left out), or ``None``."""
    if not engine.table_exists(ctx.con, RAW_SCHEMA, source):
        return None
    schema = ctx.table(f"{RAW_SCHEMA}.{source}").schema()
    return {c: str(t) for c, t in schema.items() if not c.startswith("_")}


def _land(
    ctx: StageContext, landing: files.Landing, f: deliveries.DeliveredFile, *, evolve: bool
) -> tuple[files.Landed, list[dict[str, object]]]:
    """Land ``f`` under its contract evolved as the source's policy allows (new columns added,
    types widened), first evolving the raw table when ``evolve`` (its rows are merged into it; a
    table rebuilt from the raw zone takes the new schema from the data); return it and the schema
    changes it brought (``ops.schema_history`` rows)."""
    day = f.delivery.date
    batch_id = (
        f"{f.contract.name}-{f.checksum[:16]}" if day is None else f"{f.contract.name}-{day:%Y%m%d}-{f.checksum[:12]}"
    )
    if f.contract.api is not None:  # the page's number first: batches of one day sort in landing order
        batch_id = f"{f.contract.name}-{f.path.name.split('-')[0]}-{f.checksum[:12]}"
    current = _raw_columns(ctx, f.contract.name)
    evolved = files.plan_evolution(f.contract, f.path, current, delivery=f.relative)
    if evolve and current is not None and (evolved.add or evolved.widen):
        engine.evolve_table(ctx.con, RAW_SCHEMA, f.contract.name, evolved.add, evolved.widen)
    # an undated file is delivered on the run's date: what its snapshot versions are valid from
    x = files.land_file(
        landing, f.contract, f.path, batch_id=batch_id, delivery_date=day or landing.run_date, evolved=evolved
    )
    batch = dataclasses.replace(x.batch, file_path=f.relative, file_size=f.size, checksum=f.checksum, status=f.status)
    history = evolved.history(batch_id=batch_id, run_id=ctx.run_id, changed_at=ctx.run_started_at)
    return dataclasses.replace(x, batch=batch), history


def _mergeable(
    ctx: StageContext, contract: Contract, files_: Sequence[deliveries.DeliveredFile], full_refresh: bool
) -> bool:
    """Whether the delivered ``files_`` of ``contract`` are merged into the existing raw table
    (new dated event rows) rather than the table rebuilt from the raw zone."""
    return (
        not full_refresh
        and contract.kind == "events"
        and bool(files_)
        and all(f.status == "new" and f.delivery.date is not None for f in files_)
        and engine.table_exists(ctx.con, RAW_SCHEMA, contract.name)
    )


def _merge_events(
    ctx: StageContext, build: Build, feed: changes.Feed, contract: Contract, batches: Sequence[files.Landed]
) -> dict[str, int]:
    """Merge each batch's rows into the raw table in delivery order; record the change; return
    the rows each batch added."""
    con, key = ctx.con, list(contract.primary_key)
    target = ctx.table(f"{RAW_SCHEMA}.{contract.name}")
    added: list[ir.Table] = []
    for x in batches:
        if contract.keep == "latest":
            old = target.select(*key, _old=target[contract.latest_by])
            cand = x.rows.left_join(old, key)
            newer = cand.filter(cand._old.isnull() | (cand[contract.latest_by] > cand._old)).select(*x.rows.columns)
            newer = engine.materialize_temp(con, newer, prefix="_merge")
            engine.delete_keys(con, RAW_SCHEMA, contract.name, key[0], newer.select(key[0]))
        else:
            newer = engine.materialize_temp(con, x.rows.anti_join(target, key), prefix="_merge")
        engine.append(con, RAW_SCHEMA, contract.name, newer)
        added.append(newer)
    counts = engine.count_rows(added)
    build.adopt(contract.name, rows_written=sum(counts))
    feed.record(_merged(contract, added))
    return {x.batch.batch_id: n for x, n in zip(batches, counts, strict=True)}


def _merged(contract: Contract, added: Sequence[ir.Table]) -> changes.Change:
    """What a merge changed: the new keys (of every batch's added rows) and the earliest event
    time among them. Per batch, not one union: a catch-up run merges hundreds of batches."""
    table = f"{RAW_SCHEMA}.{contract.name}"
    if len(contract.primary_key) != 1:
        return changes.full(table)
    key = contract.primary_key[0]
    keys: list[str] = []
    earliest: list[dt.datetime] = []
    for rows in added:
        keys += rows[key].cast("string").to_pyarrow().to_pylist()
        if len(keys) > MAX_CHANGED_KEYS:
            return changes.full(table)
        first = rows[contract.event_time].min().execute() if contract.event_time else None
        earliest += [first] if first is not None and first == first else []  # NaT is not equal to itself
    since = None
    if earliest:
        first = min(earliest)
        since = dt.datetime(first.year, first.month, first.day)
    return changes.Change(
        table, key_column=key, keys=tuple(keys), time_column=contract.event_time if since else "", since=since
    )


def _rebuild(ctx: StageContext, build: Build, contract: Contract, batches: Sequence[files.Landed]) -> dict[str, int]:
    """Rebuild the raw table from the raw zone: a snapshot source's latest batch, or every
    current batch of an events source merged in delivery order; return the rows of ``batches``
    it holds (for an events source: the rows each batch delivered first)."""
    table = build.add(contract.name, _from_zone(ctx, contract), sources=_file_sources(ctx, contract, batches))
    if contract.kind != "events" or not batches:
        return {}
    ids = [x.batch.batch_id for x in batches]
    held = table.filter(table._batch_id.isin(ids)).group_by("_batch_id").agg(n=ibis._.count()).to_pyarrow()
    found = dict(zip(held["_batch_id"].to_pylist(), held["n"].to_pylist(), strict=True))
    return {b: int(found.get(b, 0)) for b in ids}


def _file_sources(ctx: StageContext, contract: Contract, batches: Sequence[files.Landed]) -> list[str]:
    return [f"file:{x.batch.source_file}" for x in batches] + [f"lake:{ctx.cfg.raw_zone / contract.name}"]


def _from_zone(ctx: StageContext, contract: Contract) -> ir.Table:
    """The raw table as the raw zone's current batches of ``contract`` make it."""
    batches = files.current_batches(ctx.con, contract.name, ctx.cfg.raw_zone)
    if not batches:
        raise LookupError(f"raw zone holds no batch of {contract.name}: nothing to rebuild it from")
    if contract.kind == "snapshot":
        return ctx.con.read_parquet(batches[-1].parquet_path, hive_partitioning=False)
    rows = ctx.con.read_parquet([b.parquet_path for b in batches], hive_partitioning=False, union_by_name=True)
    key = list(contract.primary_key)
    # first delivered wins; keep: latest takes the greatest ``by`` and, on a tie, the first delivered
    order = [rows._delivery_date.asc(nulls_first=True), rows._ingested_at, rows._batch_id]
    if contract.keep == "latest":
        order.insert(0, rows[contract.latest_by].desc())
    ranked_rows = rows.mutate(_n=ibis.row_number().over(group_by=key, order_by=order))
    return ranked_rows.filter(ranked_rows._n == 0).drop("_n")


def quarantine_summary(ctx: StageContext, batch_ids: list[str]) -> pl.DataFrame:
    """Quarantined rows of the given batches, per table and reason, with the first line."""
    return files.quarantine_summary(ctx.con, batch_ids)
