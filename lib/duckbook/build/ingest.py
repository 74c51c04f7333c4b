"""The ingest stage's build: land every source file, stage the landed rows as schema ``raw``,
record the manifest, and audit rows read = landed + quarantined per batch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from duckbook import ops
from duckbook.build.context import StageContext
from duckbook.build.wap import Build
from duckbook.ingest import files
from duckbook.ingest.contracts import Contract
from duckbook.quality.row_checks import ingest_reconciliation

RAW_SCHEMA = "raw"


def ingest(ctx: StageContext, contracts: Mapping[str, Contract], source_dir: str | Path) -> tuple[Build, pl.DataFrame]:
    """Ingest every contract's file from ``source_dir`` (relative to the project root) into a
    ``raw`` build, not yet audited or published.

    Returns the build and the manifest of the batches (also recorded in ``ops.ingest_manifest``).
    Raises :class:`duckbook.ingest.contracts.ContractError` listing every missing file or column
    before anything is written.
    """
    source = Path(source_dir) if Path(source_dir).is_absolute() else ctx.cfg.root / source_dir
    files.preflight(contracts, source)
    landing = files.Landing(ctx.con, ctx.cfg.raw_zone, ctx.run_id, ctx.run_started_at, ctx.run_date)
    build = ctx.build(RAW_SCHEMA)
    batches = []
    for contract in contracts.values():
        landed, batch = files.land_file(landing, contract, source)
        lake = Path(batch.parquet_path).parent.parent
        build.add(contract.name, landed, sources=[f"file:{batch.source_file}", f"lake:{lake}"])
        batches.append(batch)
    manifest = files.record_manifest(landing, batches)
    build.add_checks([ingest_reconciliation()], context={"ingest_manifest": ops.table(ctx.con, "ingest_manifest")})
    return build, manifest


def quarantine_summary(ctx: StageContext, batch_ids: list[str]) -> pl.DataFrame:
    """Quarantined rows of the given batches, per table and reason, with the first line."""
    return files.quarantine_summary(ctx.con, batch_ids)
