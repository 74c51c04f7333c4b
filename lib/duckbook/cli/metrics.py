"""``duckbook metrics list`` and ``metrics query``: the semantic layer from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from duckbook.cli.common import WarehouseOption, error_handler, metrics_app


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
