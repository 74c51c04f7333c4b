"""Querying the semantic layer: arguments checked against the layer, then compiled by the planner.

:func:`query` reads tables given by name (a mapping or a function, e.g. in-memory tables in a
notebook or a test); :func:`query_warehouse` reads them from an open Ibis connection, where each
semantic model's ``"schema.table"`` is a table in that schema.

Examples
--------
>>> import datetime as dt, ibis
>>> from duckbook.semantic import SemanticLayer
>>> layer = SemanticLayer.from_dict({
...     "semantic_models": {"orders": {
...         "table": "shop.orders",
...         "dimensions": [{"name": "ordered_at", "type": "time"}, {"name": "shop"}],
...         "measures": [{"name": "order_total", "agg": "sum"}]}},
...     "metrics": [{"name": "revenue", "type": "simple", "measure": "order_total"}]})
>>> con = ibis.duckdb.connect()
>>> con.raw_sql("CREATE SCHEMA shop")  # doctest: +ELLIPSIS
<...>
>>> _ = con.create_table("orders", ibis.memtable({"shop": ["a", "b", "a"], "order_total": [10.0, 20.0, 5.0],
...     "ordered_at": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 2, 1)]}), database="shop")
>>> query_warehouse(con, layer, ["revenue"], by=["shop"], grain=None).to_pyarrow().to_pylist()
[{'shop': 'a', 'revenue': 15.0}, {'shop': 'b', 'revenue': 20.0}]
>>> query_warehouse(con, layer, ["revenu"])
Traceback (most recent call last):
...
duckbook.semantic.spec.MetricError: metrics: unknown metric 'revenu'; did you mean revenue? choose from: revenue
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict, Unpack

import ibis.expr.types as ir
from ibis.common.exceptions import TableNotFound

from duckbook.errors import RUN_FIRST, unknown_name
from duckbook.expressions import ExpressionError
from duckbook.expressions import names as expression_names
from duckbook.params import ParameterError, parse_date
from duckbook.semantic import planner
from duckbook.semantic.spec import GRAINS, PERIOD, MetricError

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from duckbook.semantic.layer import SemanticLayer

#: the tables a query reads: ``"schema.table"`` -> Ibis table, as a mapping or a function
Tables = Mapping[str, ir.Table] | Callable[[str], ir.Table]


class QueryOptions(TypedDict, total=False):
    """How a query slices, filters and bounds its metrics: the keyword arguments every query entry
    point takes (:func:`query`, :func:`query_warehouse`, ``SemanticLayer.query``,
    ``duckbook.metrics.query``) and passes on to :func:`query`, which documents them and gives
    their defaults."""

    by: Sequence[str]
    grain: str | None
    where: str | None
    start: str | _dt.date | None
    end: str | _dt.date | None
    keep_empty: bool


#: compiled queries a layer keeps (a project has a few metric tables; ad hoc queries vary)
_COMPILED_KEPT = 64


class QueryArgumentError(MetricError, TypeError):
    """A query was given a keyword argument it does not take (a ``TypeError``, as Python's own)."""


def query(layer: SemanticLayer, metrics: Sequence[str], tables: Tables, **options: Unpack[QueryOptions]) -> ir.Table:
    """Compute ``metrics`` per ``grain`` period (column ``period``) and per ``by`` dimension.

    Parameters
    ----------
    layer
        The semantic layer declaring the metrics.
    metrics
        Metric names; none returns the members of the ``by`` dimensions (all of one model).
    tables
        Maps ``"schema.table"`` to Ibis tables (or is a function doing so).
    **options
        The :class:`QueryOptions`, all keyword arguments:

        ``by`` (default none)
            Categorical dimensions to slice by, each reachable from every model the metrics read.
        ``grain`` (default ``"month"``)
            ``day``, ``week``, ``month``, ``quarter`` or ``year``; ``None`` for totals.
        ``where`` (default none)
            Filters the rows the measures aggregate (an expression over dimensions and columns).
        ``start``, ``end`` (default none)
            Bound the periods shown, inclusive (``YYYY-MM-DD`` or dates); without a grain, the rows.
        ``keep_empty`` (default ``False``)
            Keep every member of the ``by`` dimensions and every period in range, even without
            facts (metrics with ``fill_nulls_with`` show that value there, the rest null).

    Returns
    -------
    ir.Table
        ``period`` (with a grain), the ``by`` columns, then one column per metric, ordered by the keys.

    Raises
    ------
    MetricError
        An unknown metric, dimension or grain, a dimension or grain a metric does not allow, a
        malformed ``where`` or date; the message lists the valid choices.
    QueryArgumentError
        A keyword argument that is not one of the :class:`QueryOptions`.
    """
    validate(layer, metrics, **options)
    by, grain, where = list(options.get("by", ())), options.get("grain", "month"), options.get("where")
    start, end = options.get("start"), options.get("end")
    resolve = tables if callable(tables) else tables.__getitem__
    if not metrics:
        return planner.compile_members(layer, resolve, by, where)
    first = _as_date(start, "start") if start is not None else None
    last = _as_date(end, "end") if end is not None else None
    keep_empty = options.get("keep_empty", False)
    # the same query over equal tables (same names, schemas, connection) compiles to an equal
    # expression: keep it (Ibis expressions are immutable); a resolving function is not a key
    key = None
    if not callable(tables):
        key = (tuple(metrics), tuple(by), grain, where, first, last, keep_empty)
        key += tuple((name, tables[name].op()) for name in sorted(tables))
        if (found := layer.compiled.get(key)) is not None:
            return found
    result = planner.compile_query(
        layer, resolve, metrics, by=by, grain=grain, where=where, start=first, end=last, keep_empty=keep_empty
    )
    if key is not None:
        if len(layer.compiled) >= _COMPILED_KEPT:
            layer.compiled.clear()
        layer.compiled[key] = result
    return result


def validate(layer: SemanticLayer, metrics: Sequence[str], **options: Unpack[QueryOptions]) -> None:
    """Check a query's arguments against ``layer`` without reading a table (so a typo is
    reported before the warehouse is opened); :func:`query` calls it first.

    Raises
    ------
    MetricError
        An unknown metric, dimension or grain (with the closest names and every valid one), a
        ``where`` naming anything but the dimensions the query can filter by, a dimension or grain
        a metric does not allow, or a malformed date.
    QueryArgumentError
        A keyword argument that is not one of the :class:`QueryOptions`.
    """
    if unknown := sorted(set(options) - set(QueryOptions.__annotations__)):
        raise QueryArgumentError(
            f"unknown query argument(s) {unknown}; choose from: {', '.join(QueryOptions.__annotations__)}"
        )
    by, grain, where = list(options.get("by", ())), options.get("grain", "month"), options.get("where")
    for name in metrics:
        if name not in layer.metrics:
            raise MetricError(unknown_name("metrics", "metric", name, sorted(layer.metrics)))
    for name in by:
        if name not in layer.dimension_names():
            raise MetricError(unknown_name("by", "dimension", name, sorted(layer.dimension_names())))
    if grain is not None and grain not in GRAINS:
        raise MetricError(unknown_name("grain", "grain", grain, GRAINS))
    if where is not None:
        _check_where(layer, metrics, where, grain)
    for key, value in (("start", options.get("start")), ("end", options.get("end"))):
        if value is not None:
            _as_date(value, key)
    if not metrics:
        if len({layer.model_of_dimension(d).name for d in by}) != 1:
            raise MetricError("by: a dimension-only query takes dimensions of one semantic model")
        return
    for name in metrics:
        if bad := set(by) - layer.dimensions(name):
            raise MetricError(
                f"by: metric {name} cannot be sliced by {sorted(bad)}; it allows: "
                f"{', '.join(sorted(layer.dimensions(name))) or 'no dimension'}"
            )
        if grain is None and layer.compares_periods(name):
            raise MetricError(f"grain: metric {name} compares periods (an offset), so it needs a grain")
        if grain is not None and grain not in (allowed := layer.grains(name)):
            raise MetricError(f"grain: metric {name} allows grains {', '.join(allowed)}, not {grain!r}")


def _check_where(layer: SemanticLayer, metrics: Sequence[str], where: str, grain: str | None) -> None:
    """``where`` filters by dimensions only: name the ones these metrics allow, not the columns
    the planner builds internally."""
    try:
        used = expression_names(where)
    except ExpressionError as exc:
        raise MetricError(f"where: {exc}") from None
    known = set(layer.dimension_names()) | ({PERIOD} if grain else set())
    if metrics:
        allowed = set.intersection(*(layer.dimensions(m) for m in metrics)) | ({PERIOD} if grain else set())
    else:
        allowed = known
    if unknown := sorted(used - known):
        raise MetricError(unknown_name("where", "dimension", unknown[0], sorted(allowed)))


def query_warehouse(
    con: BaseBackend, layer: SemanticLayer, metrics: Sequence[str], **options: Unpack[QueryOptions]
) -> ir.Table:
    """:func:`query` over the tables of an open connection: ``"schema.table"`` is ``table`` in ``schema``.

    The connection is used as given (no connecting, no configuration); the result runs on it.

    Raises
    ------
    MetricError
        As :func:`query`, or a table a semantic model reads is not on the connection.
    """

    def resolve(name: str) -> ir.Table:
        schema, _, table = name.rpartition(".")
        try:
            return con.table(table, database=schema or None)
        except TableNotFound:
            raise MetricError(f"table {name} of the semantic layer is not in the warehouse yet: {RUN_FIRST}") from None

    return query(layer, metrics, resolve, **options)


def _as_date(value: str | _dt.date, name: str) -> _dt.date:
    if isinstance(value, _dt.date):
        return value
    try:
        return parse_date(name, value)
    except ParameterError as exc:
        raise MetricError(str(exc)) from None
