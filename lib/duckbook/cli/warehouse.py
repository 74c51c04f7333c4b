"""``duckbook runs``, ``maintain``, ``export``, ``docs`` and ``check``: the warehouse after its runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duckbook.cli.common import WarehouseOption, app, error_handler, runs_app, setting_help


@runs_app.callback(invoke_without_command=True)
@error_handler
def runs(
    ctx: typer.Context,
    warehouse: WarehouseOption = None,
    limit: Annotated[int, typer.Option(metavar="N", help="Show at most this many runs, newest first.")] = 20,
) -> None:
    """List the runs: id, status, start, duration, rows written, the snapshot each published, and
    the error of failed ones (one run: `duckbook runs show RUN_ID`). Pin a published run with
    duckbook.connect(read_only=True, as_of=RUN_ID)."""
    from duckbook import config, engine, ops
    from duckbook.publish.runs import run_table

    if ctx.invoked_subcommand is not None:
        ctx.obj = warehouse  # `duckbook runs --warehouse X show ID` reads X too
        return
    with engine.connect_plain(config.load(warehouse=warehouse), read_only=True) as con:
        typer.echo("\n".join(run_table(ops.runs(con)[:limit])))


@runs_app.command("show")
@error_handler
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id, or a prefix of it that only that run has.")],
    warehouse: WarehouseOption = None,
) -> None:
    """One run as the runs page shows it: stages, checks, quarantined rows, a failure's error and notebook."""
    from duckbook import config, engine, ops
    from duckbook.publish.runs import describe

    with engine.connect_plain(cfg := config.load(warehouse=warehouse or ctx.obj), read_only=True) as con:
        lines = describe(ops.run_record(con, run_id), cfg.runs_dir)
    typer.echo("\n".join(lines))


@app.command()
@error_handler
def maintain(
    warehouse: WarehouseOption = None,
    retention_days: Annotated[
        int | None,
        typer.Option(
            metavar="DAYS", help=setting_help("Expire snapshots older than this many days.", "retention_days", 7)
        ),
    ] = None,
    keep_runs: Annotated[
        int | None,
        typer.Option(
            metavar="N", help=setting_help("Always keep the last N successful runs' snapshots.", "keep_runs", 3)
        ),
    ] = None,
    grace_minutes: Annotated[
        int | None,
        typer.Option(
            metavar="MINUTES",
            help=setting_help("Delete released files only this many minutes after.", "cleanup_grace_minutes", 60),
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be expired and deleted; change nothing.")
    ] = False,
) -> None:
    """Expire old snapshots (keeping the last runs'), merge small files and delete files no kept
    snapshot uses; fails while a run holds the warehouse. Safe with readers open."""
    from duckbook import config
    from duckbook.run.maintain import maintain as run_maintain

    cfg = config.load(
        warehouse=warehouse, retention_days=retention_days, keep_runs=keep_runs, cleanup_grace_minutes=grace_minutes
    )
    for line in run_maintain(cfg, dry_run=dry_run).lines():
        typer.echo(line)


@app.command()
@error_handler
def export(
    schemas: Annotated[list[str], typer.Argument(help="Schemas to export (every table of each).")],
    to: Annotated[
        Path, typer.Option("--to", metavar="PATH", help="The DuckDB file, or the directory of Parquet files.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="duckdb or parquet. [default: duckdb when --to ends with .duckdb, else parquet]",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(metavar="RUN", help="A run id, snapshot id or timestamp to export. [default: the newest]"),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Copy every table of SCHEMAS, as one snapshot, into a DuckDB file or Parquet files
    (<dir>/<schema>/<table>.parquet); a failed export leaves no half file."""
    from duckbook import config
    from duckbook.run.export import export as run_export

    summary = run_export(config.load(warehouse=warehouse), schemas, to, format=output, as_of=as_of)
    for line in summary.lines():
        typer.echo(line)


@app.command()
@error_handler
def docs(
    warehouse: WarehouseOption = None,
    reports_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help=setting_help("Reports directory; the site goes to <dir>/docs.", "reports_dir", "reports"),
        ),
    ] = None,
) -> None:
    """Write the docs site (data dictionary and lineage) to reports/docs/index.html."""
    from duckbook import config, project
    from duckbook.errors import RUN_FIRST, WarehouseNotFound
    from duckbook.publish import docs as docs_site

    cfg = config.load(warehouse=warehouse, reports_dir=reports_dir)
    if not cfg.warehouse.exists():
        raise WarehouseNotFound(f"warehouse {cfg.warehouse} does not exist yet: {RUN_FIRST}")
    loaded = project.load(cfg)
    descriptions = docs_site.Descriptions.from_table_docs(
        loaded.docs, loaded.metric_descriptions(), loaded.models.values()
    )
    typer.echo(f"docs: {docs_site.build(cfg, descriptions)}")


@app.command()
@error_handler
def check(
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            metavar="TABLE",
            help="Only these tables (schema.table or table; repeatable). [default: every table]",
        ),
    ] = None,
    run_date: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Date freshness and 'no future' checks compare with (YYYY-MM-DD, today or yesterday). [default: today]",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Run the checks declared in the project YAML against the published warehouse (read-only).

    Prints every result; exits 1 if an error check fails, 2 on bad arguments.
    """
    import datetime as dt

    import polars as pl

    from duckbook import config, params, project
    from duckbook.build.audit import check_warehouse

    day = params.parse_date("--run-date", run_date) if run_date else dt.date.today()
    results = check_warehouse(project.load(config.load(warehouse=warehouse)), select=select or [], run_date=day)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=220, fmt_str_lengths=60):
        typer.echo(
            results.select("table_name", "check_name", "severity", "failing_rows", "observed", "threshold", "status")
        )
    counts = results["status"].value_counts().sort("status")
    typer.echo(", ".join(f"{n} {status}" for status, n in counts.iter_rows()))
    if (results["status"] == "fail").any():
        raise typer.Exit(1)
