"""What the quality report shows about a run, read from the ops tables: a verdict, the checks not
passing and since when, stale sources, what the latest ingest quarantined (raw lines of a source
with a PII column never leave the warehouse), and a compact history of the last runs. The frames
are small and readable (:mod:`duckbook.quality.digest` shapes them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import ibis
import ibis.expr.types as ir
import polars as pl

from duckbook import engine, ops
from duckbook.quality import digest

_CHECK_COLUMNS = (
    *digest.KEY,
    "severity",
    "description",
    "status",
    "failing_rows",
    "observed",
    "threshold",
)


@dataclasses.dataclass(frozen=True)
class QualitySummary:
    """The quality report of one run, in the order the page shows it."""

    run_id: str
    verdict: str  #: "3 checks need attention: 1 failed, 2 warned" or "All 143 checks pass"
    coverage: str  #: which checks ran in this run ("" when all did)
    worst: str  #: fail | warn | pass: the verdict's colour
    not_passing: pl.DataFrame  #: :func:`duckbook.quality.digest.not_passing`
    stale: pl.DataFrame  #: freshness checks not passing (:func:`duckbook.quality.digest.stale_sources`)
    fresh_line: str  #: the fresh sources, one line
    quarantine: pl.DataFrame  #: quarantined rows of the latest ingest by source, file and reason
    trend: pl.DataFrame  #: checks per status per run, last runs (:func:`duckbook.quality.digest.trend`)
    history: pl.DataFrame  #: the checks not passing in one of the last runs, run by run
    history_line: str  #: "N checks passed every time they ran in the last K runs"
    checks: pl.DataFrame  #: every check: its newest result up to the run
    sources: pl.DataFrame  #: the latest ingest per source: file, rows read / landed / quarantined


def run_summary(
    con: engine.DuckDBBackend, run_id: str, *, shown_sources: Collection[str] = (), trailing_runs: int = 10
) -> QualitySummary:
    """The quality report of ``run_id``.

    Parameters
    ----------
    con
        The warehouse (its ``ops`` tables).
    run_id
        The run reported on; one that checked nothing reports the newest results before it.
    shown_sources
        Sources whose quarantined raw lines may be shown: those whose contract declares no PII
        column. Any other source's lines are never read; the page says ``PII, hidden``.
    trailing_runs
        How many runs, up to ``run_id``, the history covers. A check is reported with its newest
        result in them: a stage that skipped its build (nothing changed) checked nothing, and
        its checks' results from an earlier run still stand.
    """
    results = ops.table(con, "check_results")
    runs = results.group_by("run_id").agg(at=results.checked_at.max())
    # a run that checked nothing (every stage skipped) reports the newest results before it
    until = ibis.coalesce(runs.filter(runs.run_id == run_id).at.max().as_scalar(), runs.at.max().as_scalar())
    upto = runs.filter(runs.at <= until)
    recent = upto.order_by(ibis.desc("at")).limit(trailing_runs)
    rows = results.select(*_CHECK_COLUMNS, "run_id").inner_join(recent, "run_id").to_polars()
    # a stage that skipped its build checked nothing: its checks' newest results stand
    checks = digest.latest(rows)
    history = rows.select(*digest.KEY, "run_id", "at", "status")
    # every earlier run of the checks not passing now: since when they have not passed
    names = checks.filter(pl.col("status") != "pass").get_column("check_name").unique().to_list()
    status = results.select(*digest.KEY, "run_id", "status")
    streak_history = (
        status.filter(status.check_name.isin(names)).inner_join(upto, "run_id").to_polars() if names else history
    )
    stale, fresh_line = digest.stale_sources(checks)
    compact, history_line = digest.compact_history(history)
    statuses = checks.get_column("status").to_list()
    latest = _latest_batches(con)
    return QualitySummary(
        run_id=run_id,
        verdict=digest.verdict(statuses),
        coverage=digest.coverage(checks, run_id),
        worst=digest.worst(statuses),
        not_passing=digest.not_passing(checks, streak_history, run_id),
        stale=stale,
        fresh_line=fresh_line,
        quarantine=digest.quarantine(_quarantine_groups(con, latest, shown_sources), shown_sources),
        trend=digest.trend(history),
        history=compact,
        history_line=history_line,
        checks=digest.every_check(checks, run_id),
        sources=_sources(latest),
    )


def _latest_batches(con: engine.DuckDBBackend) -> ir.Table | None:
    """The newest ingest of each source table (``ops.ingest_manifest`` rows), or None."""
    manifest = ops.read(con, "ingest_manifest")
    if manifest is None:
        return None
    return manifest.filter(manifest.ingested_at == manifest.ingested_at.max().over(group_by="table"))


def _sources(latest: ir.Table | None) -> pl.DataFrame:
    columns = ("Source", "File", "Delivered", "Rows read", "Landed", "Quarantined", "Ingested at")
    if latest is None:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    return (
        latest.order_by("table", "file_path")
        .to_polars()
        .select(
            pl.col("table"),
            pl.coalesce("file_path", "source_file"),
            pl.col("delivery_date").cast(pl.String).fill_null(""),
            *(pl.col(c).map_elements(lambda n: f"{n:,}", return_dtype=pl.String).fill_null("") for c in _COUNTS),
            pl.col("ingested_at").dt.strftime("%Y-%m-%d %H:%M"),
        )
        .pipe(lambda df: df.rename(dict(zip(df.columns, columns, strict=True))))
    )


_COUNTS = ("rows_read", "rows_landed", "rows_quarantined")


def _quarantine_groups(
    con: engine.DuckDBBackend, latest: ir.Table | None, shown_sources: Collection[str]
) -> pl.DataFrame:
    """Quarantined rows of the ``latest`` batches per source, file and reason code: ``rows``,
    ``first_line``, ``reason`` and ``example`` (the first line's raw text, read only for
    ``shown_sources``; null for the others)."""
    empty = pl.DataFrame(
        schema={
            "source_table": pl.String,
            "file": pl.String,
            "reason_code": pl.String,
            "reason": pl.String,
            "rows": pl.Int64,
            "first_line": pl.Int64,
            "example": pl.String,
        }
    )
    q = ops.read(con, "quarantine")
    if q is None or latest is None:
        return empty
    files = latest.select("batch_id", file=latest.file_path.fill_null(latest.source_file))
    q = q.inner_join(files, "batch_id")
    by = ("source_table", "file", "reason_code")
    groups = q.group_by(*by).agg(rows=q.count(), first_line=q.line.min(), reason=q.reason.argmin(q.line))
    shown = sorted(shown_sources)
    if shown:  # raw_row is selected only from sources without PII
        visible = q.filter(q.source_table.isin(shown))
        examples = visible.group_by(*by).agg(example=visible.raw_row.argmin(visible.line))
        groups = groups.left_join(examples, list(by)).select(*groups.columns, "example")
    else:
        groups = groups.mutate(example=ibis.null("string"))
    return groups.to_polars().cast({"rows": pl.Int64, "first_line": pl.Int64}).select(empty.columns)


def latest_checked_run(con: engine.DuckDBBackend, prefer: str | None = None) -> str:
    """``prefer`` if it recorded check results (the run being reported on), else the run that
    checked last. Raises :class:`duckbook.ops.OpsTableNotFound` before any run checked anything."""
    results = ops.table(con, "check_results")
    if prefer is not None and results.filter(results.run_id == prefer).count().to_pyarrow().as_py():
        return prefer
    return str(results.order_by(ibis.desc("checked_at")).limit(1).run_id.to_pyarrow().to_pylist()[0])
