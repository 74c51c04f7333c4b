"""Data quality outside a pipeline run: ``duckbook check`` runs the declared checks against the
published warehouse. (Inside a run, each stage audits its own build: :mod:`duckbook.stage`.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import polars as pl

from duckbook import config as _config
from duckbook import engine, ops
from duckbook.ingest.files import reconciliation_check
from duckbook.quality import checks as _checks


def check_warehouse(
    cfg: _config.Config, *, select: Sequence[str] = (), run_date: dt.date | None = None
) -> pl.DataFrame:
    """Run every check declared in the project YAML (``docs_yaml``) on the tables they guard,
    optionally only tables named in ``select`` (``schema.table`` or ``table``). Returns one row
    per check, sorted by table and check. Raises ``LookupError`` for a selected table that has no
    checks or is not in the warehouse."""
    now = dt.datetime.combine(run_date or dt.date.today(), dt.time(23, 59, 59))
    declared = {k: v for k, v in _checks.load_checks(cfg.docs_yaml, now=now).items() if v}
    if select:
        wanted = {s if "." in s else next((k for k in declared if k.split(".", 1)[1] == s), s) for s in select}
        if missing := sorted(wanted - declared.keys()):
            raise LookupError(
                f"no checks declared for {', '.join(missing)}; tables with checks: {', '.join(sorted(declared))}"
            )
        declared = {k: v for k, v in declared.items() if k in wanted}
    con = engine.connect(cfg.warehouse, read_only=True, cfg=cfg)
    try:
        frames = []
        for schema in sorted({k.split(".")[0] for k in declared}):
            checks = [c for k, cs in declared.items() if k.split(".")[0] == schema for c in cs]
            if schema not in con.list_databases():
                raise LookupError(f"schema {schema} is not in {cfg.warehouse}: run the pipeline first")
            tables = {n: con.table(n, database=schema) for n in con.list_tables(database=schema)}
            for name in ("publish_log", "ingest_manifest"):
                if (found := ops.read(con, name)) is not None:
                    tables[name] = found
            if schema == "raw" and "ingest_manifest" in tables and not select:
                checks = [reconciliation_check(), *checks]
            absent = sorted({c.table for c in checks} - tables.keys())
            if absent:
                raise LookupError(f"tables {', '.join(schema + '.' + a for a in absent)} are not in {cfg.warehouse}")
            frames.append(_checks.run_checks(checks, tables).to_polars().with_columns(schema_name=pl.lit(schema)))
    finally:
        con.disconnect()
    return pl.concat(frames).sort("schema_name", "table_name", "check_name") if frames else pl.DataFrame()


def run_summary(con: engine.DuckDBBackend, run_id: str, *, trailing_runs: int = 10) -> dict[str, pl.DataFrame]:
    """What the quality report shows, as small aggregated frames:

    * ``status``: checks per table and status in ``run_id`` (latest result per check);
    * ``problems``: the warn and fail checks of ``run_id`` with their observations;
    * ``checks``: every check of ``run_id`` with its status;
    * ``trend``: checks per status for each of the last ``trailing_runs`` runs;
    * ``history``: each check's status in each of those runs;
    * ``quarantine``: quarantined rows per source table and reason code, for the batches of the
      latest ingest;
    * ``sources``: per source table, rows read / landed / quarantined and when it was ingested.
    """
    results = ops.table(con, "check_results")
    this_run = results.filter(results.run_id == run_id)
    status = (
        this_run.group_by("schema_name", "table_name")
        .agg(
            passed=(ibis._.status == "pass").sum(),
            warned=(ibis._.status == "warn").sum(),
            failed=(ibis._.status == "fail").sum(),
        )
        .order_by("schema_name", "table_name")
        .to_polars()
    )
    problems = (
        this_run.filter(this_run.status != "pass")
        .select("schema_name", "table_name", "check_name", "status", "failing_rows", "observed", "threshold")
        .order_by("status", "schema_name", "table_name", "check_name")
        .to_polars()
    )
    runs = results.group_by("run_id").agg(at=results.checked_at.max()).order_by(ibis.desc("at")).limit(trailing_runs)
    recent = results.inner_join(runs, "run_id")
    trend = recent.group_by("run_id", "at", "status").agg(checks=ibis._.count()).order_by("at", "status").to_polars()
    history = (
        recent.select("run_id", "at", "schema_name", "table_name", "check_name", "status", "failing_rows")
        .order_by("schema_name", "table_name", "check_name", "at")
        .to_polars()
    )
    checks = (
        this_run.select("schema_name", "table_name", "check_name", "severity", "status", "failing_rows", "threshold")
        .order_by("schema_name", "table_name", "check_name")
        .to_polars()
    )
    manifest = ops.table(con, "ingest_manifest")
    latest = manifest.filter(manifest.ingested_at == manifest.ingested_at.max().over(group_by="table"))
    sources = (
        latest.select("table", "rows_read", "rows_landed", "rows_quarantined", "ingested_at")
        .order_by("table")
        .to_polars()
    )
    quarantine = pl.DataFrame(schema={"source_table": pl.String, "reason_code": pl.String, "rows": pl.Int64})
    if (q := ops.read(con, "quarantine")) is not None:
        q = q.filter(q.batch_id.isin(latest.batch_id))
        quarantine = (
            q.group_by("source_table", "reason_code")
            .agg(rows=ibis._.count())
            .order_by("source_table", "reason_code")
            .to_polars()
        )
    return {
        "status": status,
        "problems": problems,
        "checks": checks,
        "trend": trend,
        "history": history,
        "quarantine": quarantine,
        "sources": sources,
    }
