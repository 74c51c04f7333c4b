"""Small helpers shared by the unit tests."""

from __future__ import annotations

import ibis.expr.types as ir


def rows(table: ir.Table, *order_by: str) -> list[dict]:
    """Execute ``table`` (ordered by ``order_by`` when given) and return its rows as dicts."""
    if order_by:
        table = table.order_by(list(order_by))
    return table.to_pyarrow().to_pylist()
