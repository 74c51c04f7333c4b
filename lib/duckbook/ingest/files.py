"""Batch file landing: source file -> contract validation -> Parquet raw zone + quarantine.

For each contract: the file is hashed (the batch id is content-addressed, so re-landing the
same file is idempotent), read as text, validated, its good rows landed as Parquet under
``<lake>/raw/<table>/batch_id=<id>/data.parquet`` (written to a temp file, then renamed); broken
rows go to ``ops.quarantine`` with reason, file and line, and :func:`record_manifest` records
rows read / landed / quarantined per batch in ``ops.ingest_manifest``. Staging the landed rows
into the ``raw`` schema is the build's job (:mod:`duckbook.build.ingest`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa

from duckbook import engine, ops
from duckbook.ingest import csvfile, evolution, pages
from duckbook.ingest.contracts import Contract, ContractError, good_rows, quarantine_rows, validate_rows


@dataclasses.dataclass(frozen=True)
class Batch:
    """One ingested file: where it came from and how its rows split."""

    table: str
    batch_id: str
    source_file: str
    parquet_path: str
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    rows_duplicate: int  # of the quarantined, duplicate deliveries of a key
    extra_columns: str  # file columns the contract does not declare (ignored), comma separated
    delivery_date: dt.date | None = None  # the delivery's date (the run's date for the undated source_dir)
    file_path: str = ""  # the file's path under source_dir (its identity in the manifest)
    file_size: int = 0
    checksum: str = ""  # sha256 of the file's bytes
    status: str = "new"  # new | correction | refresh (see duckbook.ingest.deliveries)
    rows_new: int = 0  # landed rows the raw table did not hold yet (set when merged)


@dataclasses.dataclass(frozen=True)
class Landed:
    """A landed file: its good rows (read back from the raw zone), its quarantined rows, its batch."""

    rows: ir.Table
    bad: ir.Table
    batch: Batch


def preflight(
    files: Sequence[tuple[Contract, Path]], current: Mapping[str, Mapping[str, str] | None], *, delivery: str = ""
) -> None:
    """Check, before anything is written, that every file exists and that its columns fit its
    contract and raw table (``current``: each table's columns and Ibis types, ``None`` when it
    does not exist yet) as the source's ``schema_evolution`` policy allows.

    Raises :class:`ContractError` listing every problem at once (a missing file, an unreadable
    header, a missing, renamed or narrowed column with the diff of expected vs found).
    """
    problems = []
    for contract, path in files:
        if not path.is_file():
            problems.append(f"{path}: file is missing (source {contract.name})")
            continue
        try:
            header = _header(contract, path)
        except csvfile.FileError as exc:
            problems.append(str(exc))
            continue
        try:
            evolution.resolve(
                evolution.compare(contract, header, current.get(contract.name)), delivery=delivery or str(path)
            )
        except evolution.SchemaEvolutionError as exc:
            problems.append(f"{path}: {exc}")
    if problems:
        raise ContractError("cannot ingest:\n" + "\n".join(f"- {p}" for p in problems))


def plan_evolution(
    contract: Contract, path: Path, current: Mapping[str, str] | None, *, delivery: str
) -> evolution.Evolution:
    """How the raw table of ``contract`` evolves to take ``path`` (see :mod:`duckbook.ingest.evolution`).

    Raises :class:`duckbook.ingest.evolution.SchemaEvolutionError` with the diff.
    """
    header = _header(contract, path)
    return evolution.resolve(evolution.compare(contract, header, current), delivery=delivery)


def _reader(path: Path) -> Any:
    """The module that reads ``path``: an API page (JSON lines) or a delimited text file."""
    return pages if path.suffix == pages.SUFFIX else csvfile


def _header(contract: Contract, path: Path) -> list[str]:
    """The columns ``path`` delivers. A JSON record leaves out a null field, so a page delivers
    every contract column (NULL where no record has it) and the fields its records add."""
    header = _reader(path).read_header(path)
    if path.suffix != pages.SUFFIX:
        return header
    return [*contract.column_names, *(h for h in header if h not in contract.column_names)]


@dataclasses.dataclass(frozen=True)
class Landing:
    """Where and for which run files are landed."""

    con: engine.DuckDBBackend
    raw_zone: Path
    run_id: str
    run_started_at: dt.datetime
    run_date: dt.date


def batch_file(raw_zone: Path, table: str, batch_id: str) -> Path:
    """Where a batch's landed rows are: ``<raw zone>/<table>/batch_id=<id>/data.parquet``. Readers
    build the path from the warehouse's own raw zone (not the one the manifest recorded), so a
    moved or copied warehouse reads its own files."""
    return raw_zone / table / f"batch_id={batch_id}" / "data.parquet"


@dataclasses.dataclass(frozen=True)
class StoredBatch:
    """A landed batch in the raw zone: its id, its file and its delivery date."""

    batch_id: str
    parquet_path: str
    delivery_date: dt.date


def current_batches(con: engine.DuckDBBackend, table: str, raw_zone: Path) -> list[StoredBatch]:
    """The current batch of each delivered file of ``table`` (the one ingested last under its
    path: a correction supersedes), in delivery order; files under ``raw_zone``."""
    manifest = ops.read(con, "ingest_manifest")
    if manifest is None:
        return []
    mine = manifest.filter(manifest.table == table)
    path = mine.file_path.fill_null(mine.source_file)
    ranked = mine.mutate(_n=ibis.row_number().over(group_by=path, order_by=ibis.desc(mine.ingested_at)))
    current = ranked.filter(ranked._n == 0).order_by("delivery_date", "ingested_at", "batch_id")
    rows = current.select("batch_id", "delivery_date").to_pyarrow().to_pylist()
    return [
        StoredBatch(r["batch_id"], str(batch_file(raw_zone, table, r["batch_id"])), r["delivery_date"]) for r in rows
    ]


def land_file(
    landing: Landing,
    contract: Contract,
    path: Path,
    *,
    batch_id: str,
    delivery_date: dt.date | None = None,
    evolved: evolution.Evolution | None = None,
) -> Landed:
    """Land one file in the raw zone (see module docstring); return its landed rows (read back
    from the Parquet batch), its quarantined rows (for :func:`record_quarantine`) and its counts.
    Landed rows carry ``_delivery_date``. With ``evolved`` (:func:`plan_evolution`) the file is
    read under the evolved contract: new columns kept, missing ones allowed as NULL."""
    path = path.resolve()
    con = landing.con
    try:
        parsed = _reader(path).read_records(path)
    except csvfile.FileError as exc:
        raise ContractError(str(exc)) from None
    text = ibis.memtable(csvfile.to_arrow(parsed))
    if evolved is not None:
        contract = evolved.contract
        text = text.mutate(**{c: ibis.null("string") for c in evolved.fill_null if c not in text.columns})
    if path.suffix == pages.SUFFIX:  # fields no record of the page has (see _header)
        text = text.mutate(**{c: ibis.null("string") for c in contract.column_names if c not in text.columns})
    # Values after the end of run_date are in the future for this run.
    latest = ibis.literal(dt.datetime.combine(landing.run_date, dt.time.max).replace(microsecond=0), type="timestamp")
    validated = engine.materialize_temp(con, validate_rows(text, contract, latest_allowed=latest), prefix="_validated")
    ingested_at = ibis.literal(landing.run_started_at, type="timestamp")
    metadata = {
        "_batch_id": ibis.literal(batch_id),
        "_source_file": ibis.literal(str(path)),
        "_ingested_at": ingested_at,
        "_delivery_date": ibis.literal(delivery_date, type="date"),
    }
    parquet = batch_file(landing.raw_zone, contract.name, batch_id)
    engine.write_parquet(con, good_rows(validated, contract, metadata), parquet)
    # hive_partitioning off: the batch_id=... directory must not become a column
    landed = con.read_parquet(parquet, hive_partitioning=False)
    bad = quarantine_rows(
        validated, contract, batch_id=batch_id, source_file=str(path), run_id=landing.run_id, quarantined_at=ingested_at
    )
    if parsed.rejects:  # lines that never became a record: encoding, NUL bytes, quotes, field count
        unreadable = ibis.memtable(
            [
                {
                    "source_table": contract.name,
                    "batch_id": batch_id,
                    "source_file": str(path),
                    "line": r.line,
                    "reason_code": r.reason,
                    "reason": f"{r.reason}: {r.detail}",
                    "raw_row": r.raw,
                    "run_id": landing.run_id,
                    "quarantined_at": landing.run_started_at,
                }
                for r in parsed.rejects
            ]
        )
        bad = bad.union(unreadable.cast(bad.schema()))
    bad = engine.materialize_temp(con, bad, prefix="_quarantined")
    n_landed, quarantined, duplicates = engine.count_rows([landed, bad, bad.filter(bad.reason_code == "duplicate_key")])
    # read = every non-blank data line the file has (a record spanning lines counts once per line
    # it spans only if it breaks), so a line lost anywhere fails the reconciliation check
    read = parsed.record_count + len(parsed.rejects)
    batch = Batch(
        table=contract.name,
        batch_id=batch_id,
        source_file=str(path),
        parquet_path=str(parquet),
        rows_read=read,
        rows_landed=n_landed,
        rows_quarantined=quarantined,
        rows_duplicate=duplicates,
        extra_columns=",".join(c for c in parsed.header if c not in contract.column_names),
        delivery_date=delivery_date,
    )
    return Landed(landed, bad, batch)


def record_quarantine(con: engine.DuckDBBackend, landed: Sequence[Landed]) -> None:
    """Record the quarantined rows of ``landed`` files in ``ops.quarantine`` in one statement
    (replacing earlier records of the same batches)."""
    if not landed:
        return
    # as one Arrow table, not a chain of unions: a catch-up run lands hundreds of files
    bad = pa.concat_tables([x.bad.to_pyarrow() for x in landed])
    ops.record(con, "quarantine", ibis.memtable(bad), replace_where={"batch_id": [x.batch.batch_id for x in landed]})


def record_schema_history(con: engine.DuckDBBackend, changes: Sequence[Mapping[str, Any]]) -> None:
    """Record schema changes (rows of ``ops.schema_history``, from ``evolution``) in one statement,
    replacing earlier records of the same batches; nothing when there are none."""
    if changes:
        ops.record(
            con,
            "schema_history",
            ibis.memtable(list(changes), schema=ops.schema("schema_history")),
            replace_where={"batch_id": sorted({str(r["batch_id"]) for r in changes})},
        )


def record_manifest(landing: Landing, batches: list[Batch]) -> pl.DataFrame:
    """Record ``batches`` in ``ops.ingest_manifest`` (replacing earlier records of the same
    batches) and return them as a frame for display."""
    declared = ops.schema("ingest_manifest").to_polars()
    rows = [{**dataclasses.asdict(b), "run_id": landing.run_id, "ingested_at": landing.run_started_at} for b in batches]
    manifest = pl.DataFrame(rows, schema=declared) if rows else pl.DataFrame(schema=declared)
    ops.record(
        landing.con,
        "ingest_manifest",
        ibis.memtable(manifest.to_arrow()),
        replace_where={"batch_id": manifest["batch_id"].to_list()},
    )
    return manifest.drop("parquet_path", "source_file", "ingested_at", "file_size", "checksum")


def quarantine_summary(con: engine.DuckDBBackend, batch_ids: list[str]) -> pl.DataFrame:
    """Quarantined rows of the given batches, per table and reason, with the first line."""
    q = ops.table(con, "quarantine")
    return (
        q.filter(q.batch_id.isin(batch_ids))
        .group_by("source_table", "reason")
        .agg(rows=ibis._.count(), first_line=ibis._.line.min())
        .order_by("source_table", "reason")
        .to_polars()
    )
