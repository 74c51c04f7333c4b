"""The built-in aggregate check types: each observes one value of its table (a row count, hours
since the newest row, a z-score, a difference of totals) judged by thresholds
(:class:`~duckbook.quality.types.AggregateCheck`). Each is declared once, as one function
registered with :func:`~duckbook.quality.registry.check_type`.

>>> import ibis
>>> from duckbook.quality.evaluate import run_checks
>>> tables = {"t": ibis.memtable({"x": [1, 2]}), "s.u": ibis.memtable({"y": [3]})}
>>> checks = [row_count("t", min=3), totals_match("t", "x", "s.u", "y")]
>>> run_checks(checks, tables).select("check_name", "observed", "status").to_pandas().values.tolist()
[['row_count_min__t', 2.0, 'fail'], ['totals_match__t__x__u', 0.0, 'pass']]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from typing import Literal

import ibis
import ibis.expr.types as ir

from duckbook.quality.registry import check_type
from duckbook.quality.types import AggregateCheck, CheckDeclarationError, Severity, Tables

#: How ``totals_match`` totals a column (nulls count as 0; count and count_distinct skip them).
Aggregation = Literal["sum", "count", "count_distinct"]


@check_type("row_count")
def row_count(
    table: str, *, min: int | None = None, max: int | None = None, severity: Severity = "error"
) -> AggregateCheck:
    """The table's row count is at least ``min`` or at most ``max`` (one bound per check: declare
    two checks for both)."""
    conditions = [f"<{min}"] if min is not None else []
    conditions += [f">{max}"] if max is not None else []
    if len(conditions) != 1:
        raise CheckDeclarationError("row_count takes min or max; declare two checks for both")
    check = AggregateCheck(
        name=f"row_count_{'min' if min is not None else 'max'}__{table}",
        table=table,
        unit="rows",
        description=f"{table} has {'at least ' + str(min) if min is not None else 'at most ' + str(max)} rows",
        observe=lambda t: t[table].count(),
    )
    return _judged(check, severity, conditions[0])


@check_type("freshness")
def freshness(
    table: str,
    column: str,
    *,
    now: dt.datetime,
    warn_after_hours: float | None = None,
    error_after_hours: float | None = None,
) -> AggregateCheck:
    """Hours between the newest ``column`` value and ``now`` (the run's time), with a warn and/or
    an error SLA. An empty table has no freshness: it fails (error SLA) or warns."""
    if warn_after_hours is None and error_after_hours is None:
        raise CheckDeclarationError("freshness needs warn_after_hours and/or error_after_hours")
    limits = (("warn", warn_after_hours), ("error", error_after_hours))

    def observe(t: Tables) -> ir.Scalar:
        newest = t[table][column].max().cast("timestamp")
        return (ibis.literal(now, type="timestamp").epoch_seconds() - newest.epoch_seconds()) / 3600.0

    return AggregateCheck(
        name=f"freshness__{table}__{column}",
        table=table,
        column=column,
        unit="hours",
        severity="error" if error_after_hours is not None else "warn",
        description=(
            f"newest {table}.{column} is recent ("
            + ", ".join(f"{level} after {hours} h" for level, hours in limits if hours is not None)
            + ")"
        ),
        observe=observe,
        error_if=f">{error_after_hours}" if error_after_hours is not None else None,
        warn_if=f">{warn_after_hours}" if warn_after_hours is not None else None,
    )


@check_type("volume")
def volume(
    table: str, *, history: str, qualified_name: str, k: float = 3.0, min_runs: int = 5, severity: Severity = "warn"
) -> AggregateCheck:
    """The row count is within ``k`` standard deviations of the mean of the trailing published
    row counts of ``qualified_name`` (``history``: a table with ``table`` and ``rows`` columns, one
    row per run, such as ``ops.publish_log``). Observes the z-score; with fewer than ``min_runs``
    runs, or no history table yet, 0."""

    def observe(t: Tables) -> ir.Scalar:
        if history not in t:  # no run has published anything yet
            return ibis.literal(0.0)
        h = t[history]
        past = h.filter(h.table == qualified_name)
        stats = past.aggregate(n=past.count(), mean=past.rows.mean(), sd=past.rows.std())
        current = t[table].count().cast("float64")
        mean, sd = stats.mean.as_scalar(), stats.sd.as_scalar()
        # a perfectly stable history (sd 0): any change is infinitely unusual, no change is 0
        z = ibis.ifelse(sd == 0, ibis.ifelse(current == mean, 0.0, float("inf")), ((current - mean) / sd).abs())
        return ibis.ifelse(stats.n.as_scalar() >= min_runs, z.fill_null(0.0), 0.0)

    check = AggregateCheck(
        name=f"volume__{table}",
        table=table,
        unit="std devs",
        description=f"{table} row count within {k} std devs of the last runs (after {min_runs} runs)",
        observe=observe,
        references=(history,),
    )
    return _judged(check, severity, f">{k}")


@check_type("totals_match")
def totals_match(
    table: str,
    column: str,
    to: str,
    to_column: str,
    *,
    agg: Aggregation = "sum",
    to_agg: Aggregation = "sum",
    severity: Severity = "error",
    error_if: str | None = None,
    warn_if: str | None = None,
) -> AggregateCheck:
    """The ``agg`` of ``column`` equals the ``to_agg`` of ``to.to_column``, another table (looked
    up by exactly the name ``to``, such as ``marts.orders``): sum, count or count_distinct, nulls
    counting as 0. Observes the absolute difference; fails when above 0 unless ``error_if`` allows
    a tolerance."""
    for arg, value in (("agg", agg), ("to_agg", to_agg)):
        if value not in typing.get_args(Aggregation):
            raise CheckDeclarationError(
                f"{arg} must be one of {', '.join(typing.get_args(Aggregation))}, not {value!r}"
            )
    name = f"totals_match__{table}__{column}__{to.rsplit('.', 1)[-1]}"

    def observe(t: Tables) -> ir.Scalar:
        if to not in t:
            raise LookupError(f"check {name} reads table {to!r}, which was not supplied (have: {', '.join(sorted(t))})")
        # as scalar subqueries: one expression cannot otherwise reduce two tables
        difference = _total(t[table][column], agg).as_scalar() - _total(t[to][to_column], to_agg).as_scalar()
        return difference.abs().cast("float64")

    return AggregateCheck(
        name=name,
        table=table,
        column=column,
        severity=severity,
        unit="",
        description=f"{agg} of {table}.{column} = {to_agg} of {to}.{to_column}",
        observe=observe,
        error_if=error_if,
        warn_if=warn_if,
        references=(to,),
    )


def _judged(check: AggregateCheck, severity: Severity, condition: str) -> AggregateCheck:
    """``check`` with its one ``condition`` as the threshold of ``severity``: it fails (error) or
    warns (warn) when the observed value meets it."""
    if severity == "error":
        return dataclasses.replace(check, severity=severity, error_if=condition)
    return dataclasses.replace(check, severity=severity, warn_if=condition)


def _total(column: ir.Column, agg: str) -> ir.NumericScalar:
    if agg == "count":
        return column.count()
    if agg == "count_distinct":
        return column.nunique()
    return typing.cast(ir.NumericColumn, column).sum().fill_null(0)
