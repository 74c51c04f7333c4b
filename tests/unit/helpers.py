"""Small helpers shared by the unit tests."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

BEGINNING_OF_TIME = dt.datetime(1900, 1, 1)
END_OF_TIME = dt.datetime(9999, 12, 31)


def history(table: ir.Table) -> ir.Table:
    """``table`` as an SCD2 history of one snapshot: each row one version valid for all time."""
    return table.mutate(
        valid_from=ibis.literal(BEGINNING_OF_TIME, type="timestamp"),
        valid_to=ibis.literal(END_OF_TIME, type="timestamp"),
        is_current=ibis.literal(True),
    )


def rows(table: ir.Table, *order_by: str) -> list[dict]:
    """Execute ``table`` (ordered by ``order_by`` when given) and return its rows as dicts."""
    if order_by:
        table = table.order_by(list(order_by))
    return table.to_pyarrow().to_pylist()


def check_result(check: object, tables: object) -> dict:
    """The one result row of running ``check`` on ``tables``."""
    from duckbook.quality.evaluate import run_checks

    (row,) = rows(run_checks([check], tables))
    return row


def check_outcome(check: object, tables: object) -> tuple:
    """(failing_rows, observed, threshold, status) of one check."""
    row = check_result(check, tables)
    return row["failing_rows"], row["observed"], row["threshold"], row["status"]
