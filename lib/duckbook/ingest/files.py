"""Batch file ingestion: source files -> contract validation -> Parquet raw zone + raw schema.

For each contract: the file is hashed (the batch id is content-addressed, so re-ingesting the
same file is idempotent), read as text, validated, its good rows landed as Parquet under
``<lake>/raw/<table>/batch_id=<id>/data.parquet`` (written to a temp file, then renamed) and staged
into the ``raw`` build; broken rows go to ``ops.quarantine`` with reason, file and line, and
``ops.ingest_manifest`` records rows read / landed / quarantined per batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path

import ibis
import polars as pl

from duckbook import engine, ops
from duckbook.build.stage import Build, StageContext
from duckbook.ingest import csvfile
from duckbook.ingest.contracts import Contract, ContractError, good_rows, quarantine_rows, validate_rows
from duckbook.quality import checks


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


def preflight(contracts: Mapping[str, Contract], source_dir: Path) -> None:
    """Check every file exists and has every contract column, before anything is written.

    Raises :class:`ContractError` listing every missing file and column at once.
    """
    if not source_dir.is_dir():
        raise ContractError(f"source_dir {source_dir} is not a directory")
    problems = []
    for contract in contracts.values():
        path = source_dir / contract.file
        if not path.is_file():
            problems.append(f"{path}: file is missing (source {contract.name})")
            continue
        try:
            header = csvfile.read_header(path)
        except csvfile.FileError as exc:
            problems.append(str(exc))
            continue
        missing = [c for c in contract.column_names if c not in header]
        if missing:
            problems.append(
                f"{path}: missing column(s) {', '.join(missing)} (header is {', '.join(header) or 'empty'})"
            )
        extra = [c for c in header if c not in contract.column_names]
        if extra and contract.extra_columns == "error":
            problems.append(
                f"{path}: column(s) {', '.join(extra)} are not in the contract of {contract.name} (extra_columns: error)"
            )
    if problems:
        raise ContractError("cannot ingest:\n" + "\n".join(f"- {p}" for p in problems))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ingest_file(ctx: StageContext, build: Build, contract: Contract, source_dir: Path) -> Batch:
    """Ingest one file into the raw build, the lake and the quarantine (see module docstring)."""
    path = (source_dir / contract.file).resolve()
    batch_id = f"{contract.name}-{file_digest(path)[:16]}"
    con = ctx.con
    try:
        parsed = csvfile.read_records(path)
    except csvfile.FileError as exc:
        raise ContractError(str(exc)) from None
    text = ibis.memtable(csvfile.to_arrow(parsed))
    # Values after the end of run_date are in the future for this run.
    latest = ibis.literal(dt.datetime.combine(ctx.run_date, dt.time.max).replace(microsecond=0), type="timestamp")
    validated = engine.materialize_temp(con, validate_rows(text, contract, latest_allowed=latest), prefix="_validated")
    ingested_at = ibis.literal(ctx.run_started_at, type="timestamp")
    good = good_rows(
        validated,
        contract,
        {
            "_batch_id": ibis.literal(batch_id),
            "_source_file": ibis.literal(str(path)),
            "_ingested_at": ingested_at,
        },
    )
    parquet = ctx.cfg.lake_dir / "raw" / contract.name / f"batch_id={batch_id}" / "data.parquet"
    engine.write_parquet(con, good, parquet)
    # hive_partitioning off: the batch_id=... directory must not become a column
    landed = con.read_parquet(parquet, hive_partitioning=False)
    build.add(contract.name, landed, sources=[f"file:{path}", f"lake:{parquet.parent.parent}"])
    bad = quarantine_rows(
        validated, contract, batch_id=batch_id, source_file=str(path), run_id=ctx.run_id, quarantined_at=ingested_at
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
                    "run_id": ctx.run_id,
                    "quarantined_at": ctx.run_started_at,
                }
                for r in parsed.rejects
            ]
        )
        bad = bad.union(unreadable.cast(bad.schema()))
    ops.record(con, "quarantine", bad, replace_where={"batch_id": batch_id})
    landed, quarantined, duplicates = checks.count_rows(
        [build.tables[contract.name], bad, bad.filter(bad.reason_code == "duplicate_key")]
    )
    # read = every non-blank data line the file has (a record spanning lines counts once per line
    # it spans only if it breaks), so a line lost anywhere fails the reconciliation check
    read = parsed.record_count + len(parsed.rejects)
    return Batch(
        table=contract.name,
        batch_id=batch_id,
        source_file=str(path),
        parquet_path=str(parquet),
        rows_read=read,
        rows_landed=landed,
        rows_quarantined=quarantined,
        rows_duplicate=duplicates,
        extra_columns=",".join(c for c in parsed.header if c not in contract.column_names),
    )


def ingest(ctx: StageContext, contracts: Mapping[str, Contract], source_dir: str | Path) -> tuple[Build, pl.DataFrame]:
    """Ingest every contract's file from ``source_dir`` into a ``raw`` build (not yet published).

    Returns the build (audit and publish it) and the manifest of the batches, which is also
    recorded in ``ops.ingest_manifest``.
    """
    source = ctx.cfg.root / source_dir if not Path(source_dir).is_absolute() else Path(source_dir)
    preflight(contracts, source)
    build = ctx.build("raw")
    batches = [ingest_file(ctx, build, c, source) for c in contracts.values()]
    manifest = pl.DataFrame([dataclasses.asdict(b) for b in batches]).with_columns(
        run_id=pl.lit(ctx.run_id), ingested_at=pl.lit(ctx.run_started_at)
    )
    ops.record(
        ctx.con,
        "ingest_manifest",
        ibis.memtable(manifest.to_arrow()),
        replace_where={"batch_id": manifest["batch_id"].to_list()},
    )
    return build, manifest.drop("parquet_path", "source_file", "ingested_at")


def quarantine_summary(ctx: StageContext, batch_ids: list[str]) -> pl.DataFrame:
    """Quarantined rows of the given batches, per table and reason, with the first line."""
    q = ops.table(ctx.con, "quarantine")
    return (
        q.filter(q.batch_id.isin(batch_ids))
        .group_by("source_table", "reason")
        .agg(rows=ibis._.count(), first_line=ibis._.line.min())
        .order_by("source_table", "reason")
        .to_polars()
    )


def reconciliation_check(manifest_table: str = "ingest_manifest") -> checks.Check:
    """Error check: for every batch, rows read = rows landed + rows quarantined."""
    return checks.expression(
        manifest_table,
        "rows_reconcile",
        lambda t: t.rows_read == t.rows_landed + t.rows_quarantined,
        "rows read = rows landed + rows quarantined, per batch",
    )
