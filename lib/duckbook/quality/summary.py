"""What the quality report shows about a run: check status, problems, trends, quarantine and
sources, as small aggregated frames read from the ops tables."""

from __future__ import annotations

import ibis
import polars as pl

from duckbook import engine, ops


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


def latest_checked_run(con: engine.DuckDBBackend, prefer: str | None = None) -> str:
    """``prefer`` if it recorded check results (the run being reported on), else the run that
    checked last. Raises :class:`duckbook.ops.OpsTableNotFound` before any run checked anything."""
    results = ops.table(con, "check_results")
    if prefer is not None and results.filter(results.run_id == prefer).count().to_pyarrow().as_py():
        return prefer
    return str(results.order_by(ibis.desc("checked_at")).limit(1).run_id.to_pyarrow().to_pylist()[0])
