"""The ``duckbook`` command: a thin layer over the library (each command is a few lines).

Every command runs under :func:`error_handler`: a :class:`duckbook.errors.DuckbookError` becomes
one line on stderr and its exit code (2 for a user error, 1 for a failed run or check), never a
traceback. Heavy imports happen inside the commands so ``duckbook --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from duckbook.errors import DuckbookError

app = typer.Typer(
    help="duckbook: notebook-centric analytics engineering on Ibis and DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
metrics_app = typer.Typer(help="The semantic layer: list metrics, query them.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")
runs_app = typer.Typer()
app.add_typer(runs_app, name="runs")

P = ParamSpec("P")
R = TypeVar("R")

WarehouseOption = Annotated[
    Path | None, typer.Option(help="Warehouse root directory [env DUCKBOOK_WAREHOUSE; default data/warehouse].")
]


def error_handler(command: Callable[P, R]) -> Callable[P, R]:
    """Turn duckbook's errors into one ``error: ...`` line and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _user_errors():
            return command(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except DuckbookError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


@app.callback()
def main() -> None:
    """duckbook: notebook-centric analytics engineering on Ibis and DuckDB."""


@app.command()
@error_handler
def run(
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            help="Run only this stage (repeatable): staging, 20_staging, overview; marts+ adds every stage downstream, "
            "+marts every stage upstream.",
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            help="Build only this model (repeatable): orders, marts.orders; orders+ adds its downstream models "
            "and the reports, +orders its upstream models and sources.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Leave out this stage or model (repeatable; the same forms).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE passed to every stage that declares NAME (repeatable)."),
    ] = None,
    warehouse: WarehouseOption = None,
    reports_dir: Annotated[
        Path | None, typer.Option(help="Where HTML reports and run artifacts go [default reports].")
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild every raw table from the raw zone and every model in full (-p full_refresh=true).",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Run the selected stages even when nothing they depend on changed.")
    ] = False,
    when_new_data: Annotated[
        bool,
        typer.Option(
            "--when-new-data",
            help="Exit at once (code 0, one line) when no delivery is waiting: a sensor for cron.",
        ),
    ] = False,
) -> None:
    """Execute the stage notebooks in order, as one atomic run: it publishes one snapshot of the
    warehouse, or nothing. A run ingests every delivery not ingested yet (dated folders up to
    -p run_date=YYYY-MM-DD) and updates only what the new data reaches; a stage whose code,
    parameters and inputs did not change since it last ran is skipped (--force runs it anyway)."""
    from duckbook import params
    from duckbook.run import runner

    assignments = params.split_assignments(param or [])
    if full_refresh:
        assignments["full_refresh"] = "true"
    the_plan = runner.plan(
        stages=stage or [],
        parameters=assignments,
        warehouse=warehouse,
        reports_dir=reports_dir,
        select=select or [],
        exclude=exclude or [],
        force=force,
    )
    if when_new_data:
        waiting = runner.waiting_deliveries(the_plan)
        if not waiting:
            typer.echo(f"no new delivery in {the_plan.source_dir} up to {the_plan.run_date}: nothing to run")
            return
        typer.echo(f"{len(waiting)} new delivered file(s), e.g. {waiting[0]}: running")
    result = runner.run(the_plan, echo=typer.echo, live=sys.stdout.isatty())
    for note in result.notes:
        typer.echo(note, err=note.startswith(("warning", "note")))
    if result.status != "success":
        if "No space left on device" in result.error:  # one line: what a person must do is free space
            typer.echo(
                f"error: run {result.run_id} failed: no space left on device under {result.warehouse}; "
                "nothing was published (free space and run again)",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"error: run {result.run_id} failed; nothing was published.\n{result.error}", err=True)
        raise typer.Exit(1)
    if not result.executed:
        typer.echo(f"run {result.run_id}: nothing changed, every stage skipped (--force reruns) -> {result.warehouse}")
    else:
        typer.echo(f"run {result.run_id} succeeded in {result.seconds:.1f}s -> {result.warehouse}")
    if result.summary is not None:
        for line in result.summary.lines():
            typer.echo(f"  {line}")
    for page in result.reports:
        typer.echo(f"  report: {page}")


@app.command()
@error_handler
def backfill(
    start: Annotated[str, typer.Option(help="First date (YYYY-MM-DD), inclusive.")],
    end: Annotated[str, typer.Option(help="Last date (YYYY-MM-DD), inclusive.")],
    stage: Annotated[
        list[str] | None, typer.Option("--stage", "-s", help="Run only this stage (repeatable): 20_staging or staging.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE passed to every stage that declares NAME (not run_date)."),
    ] = None,
    warehouse: WarehouseOption = None,
    reports_dir: Annotated[
        Path | None, typer.Option(help="Where HTML reports and run artifacts go [default reports].")
    ] = None,
    restart: Annotated[bool, typer.Option("--restart", help="Rerun dates already done too.")] = False,
) -> None:
    """Run the pipeline once per date from --start to --end (run_date=DATE), in date order.
    Dates already done are skipped, so after a failure the same command continues where it stopped."""
    from duckbook import params
    from duckbook.run.backfill import backfill as run_backfill

    result = run_backfill(
        params.parse_date("--start", start),
        params.parse_date("--end", end),
        stages=stage or [],
        parameters=params.split_assignments(param or []),
        warehouse=warehouse,
        reports_dir=reports_dir,
        restart=restart,
        echo=typer.echo,
    )
    if result.failed is not None:
        typer.echo(f"error: {result.summary()}", err=True)
        raise typer.Exit(1)
    typer.echo(result.summary())


@app.command()
@error_handler
def stages() -> None:
    """List the stage notebooks and the parameters each declares."""
    from duckbook import config
    from duckbook.run import runner

    found = runner.discover(config.load())
    for name, declared in runner.declared_parameters(found).items():
        typer.echo(f"{name}: " + ", ".join(f"{k}: {v}" for k, v in declared.items()))


@runs_app.callback(invoke_without_command=True)
@error_handler
def runs(
    ctx: typer.Context,
    warehouse: WarehouseOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs, newest first.")] = 20,
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
        int | None, typer.Option(help="Expire snapshots older than this [setting retention_days; default 7].")
    ] = None,
    keep_runs: Annotated[
        int | None, typer.Option(help="Always keep the last N successful runs' snapshots [keep_runs; default 3].")
    ] = None,
    grace_minutes: Annotated[
        int | None,
        typer.Option(help="Delete released files only after this long [cleanup_grace_minutes; default 60]."),
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
    to: Annotated[Path, typer.Option("--to", help="The DuckDB file, or the directory of Parquet files.")],
    output: Annotated[
        str | None,
        typer.Option("--format", help="duckdb or parquet [default: duckdb when --to ends with .duckdb, else parquet]."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="A run id, snapshot id or timestamp to export [default: the newest].")
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
    reports_dir: Annotated[Path | None, typer.Option(help="Reports directory; the site goes to <dir>/docs.")] = None,
) -> None:
    """Write the docs site (data dictionary and lineage) to reports/docs/index.html."""
    from duckbook import config, project
    from duckbook.errors import WarehouseNotFound
    from duckbook.publish import docs as docs_site

    cfg = config.load(warehouse=warehouse, reports_dir=reports_dir)
    if not cfg.warehouse.exists():
        raise WarehouseNotFound(f"warehouse {cfg.warehouse} does not exist: run `duckbook run` first")
    loaded = project.load(cfg)
    descriptions = docs_site.Descriptions.from_table_docs(
        loaded.docs, loaded.metric_descriptions(), loaded.models.values()
    )
    typer.echo(f"docs: {docs_site.build(cfg, descriptions)}")


@app.command()
@error_handler
def check(
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="Only these tables (schema.table or table; repeatable).")
    ] = None,
    run_date: Annotated[
        str | None, typer.Option(help="Date freshness and 'no future' checks compare with [default: today].")
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


@app.command()
@error_handler
def drops(
    source_dir: Annotated[Path, typer.Argument(help="A jafgen directory (raw_orders.csv, raw_items.csv, ...).")],
    out_dir: Annotated[Path, typer.Argument(help="Where the daily folders YYYY-MM-DD/ and deliveries.json go.")],
    seed: Annotated[int, typer.Option(help="Chooses the late rows and the changed members.")] = 0,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: the first event day).")] = None,
    days: Annotated[int | None, typer.Option(help="Number of days (default: to the last event day).")] = None,
    late_fraction: Annotated[float, typer.Option(help="Share of the orders delivered 1-3 days late.")] = 0.02,
    skip_day: Annotated[
        list[str] | None, typer.Option("--skip-day", help="A day without delivery (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT_DIR if it is not empty.")] = False,
) -> None:
    """Split a jafgen dataset into daily delivery folders with late rows, a repeated delivery and
    changed entity snapshots; deliveries.json lists every defect."""
    from duckbook import params
    from duckbook.ingest.drops import split

    summary = split(
        source_dir,
        out_dir,
        seed=seed,
        start=params.parse_date("--start", start) if start else None,
        days=days,
        late_fraction=late_fraction,
        skip_days=[params.parse_date("--skip-day", day) for day in skip_day or []],
        force=force,
    )
    for line in summary.lines():
        typer.echo(line)


@metrics_app.command("list")
@error_handler
def metrics_list() -> None:
    """List every metric with its type, description and the dimensions it can be sliced by."""
    from duckbook import metrics

    for row in metrics.load().describe():
        typer.echo(f"{row['metric']:<28} {row['type']:<10} {row['description']}")
        typer.echo(f"{'':<28} by: {row['dimensions'] or '-'}")


@metrics_app.command("query")
@error_handler
def metrics_query(
    names: Annotated[list[str] | None, typer.Argument(help="Metric names (none: list the members of --by).")] = None,
    by: Annotated[list[str] | None, typer.Option("--by", help="Dimension to slice by (repeatable).")] = None,
    grain: Annotated[str, typer.Option(help="day, week, month, quarter, year, or none for totals.")] = "month",
    where: Annotated[str | None, typer.Option(help="Filter, e.g. \"location_name == 'Brooklyn'\".")] = None,
    start: Annotated[str | None, typer.Option(help="First period (YYYY-MM-DD), inclusive.")] = None,
    end: Annotated[str | None, typer.Option(help="Last period (YYYY-MM-DD), inclusive.")] = None,
    keep_empty: Annotated[bool, typer.Option(help="Keep dimension members and periods without facts.")] = False,
    output: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    warehouse: WarehouseOption = None,
) -> None:
    """Query metrics from the warehouse: `duckbook metrics query revenue orders --by location_name`."""
    from duckbook import metrics
    from duckbook.errors import UserError

    if output not in ("table", "csv", "json"):
        raise UserError(f"--format must be table, csv or json, not {output!r}")
    result = metrics.query(
        names or [],
        by=by or [],
        grain=None if grain == "none" else grain,
        where=where,
        start=start,
        end=end,
        keep_empty=keep_empty,
        warehouse=warehouse,
    )
    df = result.to_polars()
    if output == "csv":
        df.write_csv(sys.stdout)
    elif output == "json":
        typer.echo(df.write_json())
    else:
        import polars as pl

        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=200):
            typer.echo(df)


if __name__ == "__main__":
    app()
