"""``duckbook metrics list`` and ``metrics query``: the semantic layer from the command line."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import sys
from typing import Annotated, Any

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
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="METRIC...",
            help="Metric names (`duckbook metrics list`). [default: none, list the members of --by]",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", metavar="DIMENSION", help="Dimension to slice by (repeatable). [default: none]"),
    ] = None,
    grain: Annotated[
        str, typer.Option(metavar="GRAIN", help="day, week, month, quarter, year, or none for totals.")
    ] = "month",
    where: Annotated[
        str | None,
        typer.Option(
            metavar="EXPRESSION", help="Filter over dimensions, e.g. \"location_name == 'Brooklyn'\". [default: none]"
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            metavar="DATE", help="First period (YYYY-MM-DD, today or yesterday), inclusive. [default: the first]"
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            metavar="DATE", help="Last period (YYYY-MM-DD, today or yesterday), inclusive. [default: the last]"
        ),
    ] = None,
    keep_empty: Annotated[bool, typer.Option(help="Keep dimension members and periods without facts.")] = False,
    output: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table, csv or json.")] = "table",
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
    if output == "json":
        typer.echo(json_rows(result.to_pyarrow().to_pylist()))
        return
    df = result.to_polars()
    if output == "csv":
        df.write_csv(sys.stdout)
    else:
        import polars as pl

        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=200):
            typer.echo(df)


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as a JSON array that keeps numbers numbers: integers as integers, decimals (money,
    ``decimal(16,2)``) as JSON numbers (exact up to 15 significant digits), dates and timestamps as ISO
    strings, null and NaN as null.

    >>> import datetime as dt, decimal
    >>> json_rows([{"period": dt.date(2024, 1, 1), "revenue": decimal.Decimal("12.30"), "orders": 3, "x": None}])
    '[{"period": "2024-01-01", "revenue": 12.3, "orders": 3, "x": null}]'
    """

    def plain(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float(value)
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dt.date | dt.datetime | dt.time):
            return value.isoformat()
        return value

    return json.dumps([{key: plain(value) for key, value in row.items()} for row in rows], default=str)
