"""The ``duckbook`` command: a thin layer over :mod:`duckbook.runner`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="duckbook: notebook-centric analytics engineering on Ibis and DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """duckbook: notebook-centric analytics engineering on Ibis and DuckDB."""


@app.command()
def run(
    stage: Annotated[
        list[str], typer.Option("--stage", "-s", help="Run only this stage (repeatable): 20_staging or staging.")
    ] = [],  # noqa: B006
    param: Annotated[
        list[str],
        typer.Option("--param", "-p", help="NAME=VALUE passed to every stage that declares NAME (repeatable)."),
    ] = [],  # noqa: B006
    warehouse: Annotated[
        Path | None, typer.Option(help="Warehouse file [env DUCKBOOK_WAREHOUSE; default data/warehouse.duckdb].")
    ] = None,
    reports_dir: Annotated[
        Path | None, typer.Option(help="Where HTML reports and run artifacts go [default reports].")
    ] = None,
    isolated: Annotated[bool, typer.Option(help="Start a fresh kernel per stage instead of one warm kernel.")] = False,
) -> None:
    """Execute the stage notebooks in order with papermill, as one atomic run."""
    from duckbook import params
    from duckbook.run import runner

    try:
        values = params.split_assignments(param)
        result = runner.run(
            stages=stage,
            parameters=values,
            warehouse=str(warehouse or ""),
            reports_dir=str(reports_dir or ""),
            isolated=isolated,
            echo=typer.echo,
        )
    except params.ParameterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except runner.RunLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.status != "success":
        typer.echo(f"error: run {result.run_id} failed; the warehouse was not changed.\n{result.error}", err=True)
        raise typer.Exit(1)
    total = sum(float(e["duration_s"]) for e in result.log)
    typer.echo(f"run {result.run_id} succeeded in {total:.1f}s -> {result.warehouse}")
    for page in result.reports:
        typer.echo(f"  report: {page}")


@app.command()
def stages() -> None:
    """List the stage notebooks and the parameters each declares."""
    from duckbook import config
    from duckbook.run import runner

    found = runner.discover(config.load())
    for name, declared in runner.declared_parameters(found).items():
        typer.echo(f"{name}: " + ", ".join(f"{k}: {v}" for k, v in declared.items()))


@app.command()
def docs(
    warehouse: Annotated[Path | None, typer.Option(help="Warehouse file [default: configured].")] = None,
    reports_dir: Annotated[Path | None, typer.Option(help="Reports directory; the site goes to <dir>/docs.")] = None,
) -> None:
    """Write the docs site (data dictionary and lineage) to reports/docs/index.html."""
    from duckbook import config
    from duckbook.publish import docs as docs_site

    cfg = config.load(warehouse=str(warehouse or ""), reports_dir=str(reports_dir or ""))
    if not cfg.warehouse.exists():
        typer.echo(f"error: warehouse {cfg.warehouse} does not exist: run `duckbook run` first", err=True)
        raise typer.Exit(2)
    # the project's declarations, read here until the project loader owns them
    import yaml

    declared = [yaml.safe_load(path.read_text(encoding="utf-8")) or {} for path in cfg.docs_yaml]
    descriptions = docs_site.Descriptions.from_docs(
        {
            section: {k: v for d in declared for k, v in (d.get(section) or {}).items()}
            for section in ("sources", "models")
        },
        {m["name"]: m.get("description", "") for d in declared for m in d.get("metrics") or []},
    )
    typer.echo(f"docs: {docs_site.build(cfg, descriptions)}")


@app.command()
def check(
    select: Annotated[
        list[str], typer.Option("--select", "-s", help="Only these tables (schema.table or table; repeatable).")
    ] = [],  # noqa: B006
    run_date: Annotated[
        str | None, typer.Option(help="Date freshness and 'no future' checks compare with [default: today].")
    ] = None,
    warehouse: Annotated[Path | None, typer.Option(help="Warehouse file [default: configured].")] = None,
) -> None:
    """Run the checks declared in the project YAML against the published warehouse (read-only).

    Prints every result; exits 1 if an error check fails, 2 on bad arguments.
    """
    import datetime as dt

    import polars as pl

    from duckbook import config
    from duckbook.quality import warehouse as quality

    cfg = config.load(warehouse=str(warehouse or ""))
    try:
        day = dt.date.fromisoformat(run_date) if run_date else dt.date.today()
        results = quality.check_warehouse(cfg, select=select, run_date=day)
    except (ValueError, LookupError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=220, fmt_str_lengths=60):
        typer.echo(
            results.select("table_name", "check_name", "severity", "failing_rows", "observed", "threshold", "status")
        )
    counts = results["status"].value_counts().sort("status")
    typer.echo(", ".join(f"{n} {status}" for status, n in counts.iter_rows()))
    if (results["status"] == "fail").any():
        raise typer.Exit(1)


metrics_app = typer.Typer(help="The semantic layer: list metrics, query them.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


@metrics_app.command("list")
def metrics_list() -> None:
    """List every metric with its type, description and the dimensions it can be sliced by."""
    from duckbook import metrics

    for row in metrics.load().describe():
        typer.echo(f"{row['metric']:<28} {row['type']:<10} {row['description']}")
        typer.echo(f"{'':<28} by: {row['dimensions'] or '-'}")


@metrics_app.command("query")
def metrics_query(
    names: Annotated[list[str], typer.Argument(help="Metric names (none: list the members of --by).")] = None,  # type: ignore[assignment]
    by: Annotated[list[str], typer.Option("--by", help="Dimension to slice by (repeatable).")] = [],  # noqa: B006
    grain: Annotated[str, typer.Option(help="day, week, month, quarter, year, or none for totals.")] = "month",
    where: Annotated[str | None, typer.Option(help="Filter, e.g. \"location_name == 'Brooklyn'\".")] = None,
    start: Annotated[str | None, typer.Option(help="First period (YYYY-MM-DD), inclusive.")] = None,
    end: Annotated[str | None, typer.Option(help="Last period (YYYY-MM-DD), inclusive.")] = None,
    keep_empty: Annotated[bool, typer.Option(help="Keep dimension members and periods without facts.")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    warehouse: Annotated[Path | None, typer.Option(help="Warehouse file [default: configured].")] = None,
) -> None:
    """Query metrics from the warehouse: `duckbook metrics query revenue orders --by location_name`."""
    import sys

    from duckbook import metrics

    if format not in ("table", "csv", "json"):
        typer.echo(f"error: --format must be table, csv or json, not {format!r}", err=True)
        raise typer.Exit(2)
    try:
        result = metrics.query(
            names or [],
            by=by,
            grain=None if grain == "none" else grain,
            where=where,
            start=start,
            end=end,
            keep_empty=keep_empty,
            warehouse=str(warehouse or ""),
        )
        df = result.to_polars()
    except (metrics.MetricError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if format == "csv":
        df.write_csv(sys.stdout)
    elif format == "json":
        typer.echo(df.write_json())
    else:
        import polars as pl

        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=200):
            typer.echo(df)


if __name__ == "__main__":
    app()
