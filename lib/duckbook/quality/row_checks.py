"""The built-in row check types: each returns the rows of its table that break its rule
(:class:`~duckbook.quality.types.RowCheck`). Each is declared once, as one function registered
with :func:`~duckbook.quality.registry.check_type`: its parameters are what a YAML declaration
may give, its docstring documents the type. Check names follow ``<type>__<table>__<column>``.

>>> import ibis
>>> from duckbook.quality.evaluate import run_checks
>>> t = ibis.memtable({"id": [1, 2, 2, None]})
>>> [c.name for c in (not_null("t", "id"), unique("t", "id"))]
['not_null__t__id', 'unique__t__id']
>>> results = run_checks([not_null("t", "id"), unique("t", "id")], {"t": t})
>>> results.select("check_name", "failing_rows", "status").to_pandas().values.tolist()
[['not_null__t__id', 1, 'fail'], ['unique__t__id', 2, 'fail']]
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from duckbook.expressions import to_ibis
from duckbook.quality.registry import check_type
from duckbook.quality.types import CheckDeclarationError, RowCheck, Severity, Tables

Rule = Callable[[ir.Table], ir.BooleanValue]


def _row_check(
    kind: str,
    table: str,
    columns: str | Sequence[str],
    description: str,
    failing: Callable[[Tables], ir.Table],
    *,
    severity: Severity,
    qualifier: str = "",
    key: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    error_if: str | None = None,
    warn_if: str | None = None,
) -> RowCheck:
    """The :class:`RowCheck` of type ``kind`` guarding ``columns`` (one, several, or none),
    named ``<kind>__<table>[__<column>...][__<qualifier>]``: every check type names its checks so."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    return RowCheck(
        name="__".join([kind, table, *cols, *([qualifier] if qualifier else [])]),
        table=table,
        column=", ".join(cols) or None,
        severity=severity,
        description=description,
        failing=failing,
        key=key,
        references=references,
        error_if=error_if,
        warn_if=warn_if,
    )


@check_type("not_null")
def not_null(table: str, column: str, *, severity: Severity = "error") -> RowCheck:
    """Rows where ``column`` is null."""
    return _row_check(
        "not_null",
        table,
        column,
        f"{table}.{column} is never null",
        lambda t: t[table].filter(t[table][column].isnull()),
        severity=severity,
    )


@check_type("unique")
def unique(table: str, *columns: str, severity: Severity = "error") -> RowCheck:
    """Rows whose value of ``columns`` (in YAML a list, default: the column) occurs more than once;
    every copy counts as failing, rows with a null in the key never do."""
    cols = list(columns)

    def failing(t: Tables) -> ir.Table:
        base = t[table]
        dupes = (
            base.filter(*[base[c].notnull() for c in cols]).group_by(cols).agg(_n=ibis._.count()).filter(ibis._._n > 1)
        )
        return base.semi_join(dupes, cols)

    return _row_check(
        "unique", table, cols, f"{table}.({', '.join(cols)}) is unique", failing, severity=severity, key=tuple(cols)
    )


@check_type("accepted_values")
def accepted_values(table: str, column: str, values: Sequence[object], *, severity: Severity = "error") -> RowCheck:
    """Rows where ``column`` is not null and not one of ``values``."""
    allowed = list(values)
    return _row_check(
        "accepted_values",
        table,
        column,
        f"{table}.{column} in {allowed}",
        lambda t: t[table].filter(t[table][column].notnull() & ~t[table][column].isin(allowed)),
        severity=severity,
    )


@check_type("relationship")
def relationship(table: str, column: str, to: str, field: str, *, severity: Severity = "error") -> RowCheck:
    """Rows whose non-null ``column`` has no match in ``to.field`` (orphans); ``to`` may be the
    table itself (``manager_id`` -> ``id``)."""

    def failing(t: Tables) -> ir.Table:
        child, parent = t[table], t[to].view()  # a view, so that a self-reference joins two relations
        return child.filter(child[column].notnull()).anti_join(parent, child[column] == parent[field])

    description = f"every {table}.{column} exists in {to}.{field}"
    return _row_check(
        "relationship",
        table,
        column,
        description,
        failing,
        severity=severity,
        qualifier=to,
        key=(column,),
        references=(to,),
    )


@check_type("expression")
def expression(
    table: str,
    name: str,
    expr: str | Rule,
    description: str | None = None,
    *,
    where: str | Rule | None = None,
    severity: Severity = "error",
) -> RowCheck:
    """Rows for which the rule ``expr`` is false (null counts as passing, as in SQL ``CHECK``),
    only among rows matching ``where`` when given. In YAML both are expressions over the table's
    columns (:mod:`duckbook.expressions`) and ``expr`` is the default description; in Python they
    may be functions of the table, and then a description is required. Named ``<name>__<table>``."""
    rule = _rule(expr)
    only = _rule(where) if where else None
    if not description:
        if not isinstance(expr, str):
            raise CheckDeclarationError(f"expression {name}: describe a rule given as a function")
        description = expr

    def failing(t: Tables) -> ir.Table:
        base = t[table]
        if only is not None:
            base = base.filter(only(base))
        return base.filter(~rule(base).fill_null(True))

    return _row_check(name, table, (), description, failing, severity=severity)


def _rule(expr: str | Rule) -> Rule:
    return (lambda t: typing.cast(ir.BooleanValue, to_ibis(expr, t))) if isinstance(expr, str) else expr


def _outside(t: ir.Table, column: str, low: object, high: object) -> ir.Table:
    """Rows whose ``column`` is below ``low`` or above ``high`` (inclusive bounds, None = open;
    nulls pass)."""
    c = t[column]
    bad = ibis.literal(False)
    if low is not None:
        bad = bad | (c < low)
    if high is not None:
        bad = bad | (c > high)
    return t.filter(bad.fill_null(False))


@check_type("range")
def in_range(
    table: str,
    column: str,
    *,
    min: float | None = None,
    max: float | None = None,
    severity: Severity = "error",
    error_if: str | None = None,
    warn_if: str | None = None,
) -> RowCheck:
    """Rows where ``column`` is below ``min`` or above ``max`` (bounds inclusive; nulls pass)."""
    if min is None and max is None:
        raise CheckDeclarationError("range needs min and/or max")
    bounds = "__".join(f"{k}_{v}" for k, v in (("min", min), ("max", max)) if v is not None)
    description = f"{table}.{column} within [{min}, {max}]"

    def failing(t: Tables) -> ir.Table:
        return _outside(t[table], column, min, max)

    return _row_check(
        "range",
        table,
        column,
        description,
        failing,
        severity=severity,
        qualifier=bounds,
        error_if=error_if,
        warn_if=warn_if,
    )


@check_type("regex")
def regex(
    table: str,
    column: str,
    pattern: str,
    *,
    severity: Severity = "error",
    error_if: str | None = None,
    warn_if: str | None = None,
) -> RowCheck:
    """Rows where the non-null ``column`` (as text) does not fully match ``pattern`` (RE2 syntax)."""
    re.compile(pattern)  # fail at declaration, not at run time
    if re.search(r"\(\?<?[=!]|\\[1-9]", pattern):  # the engines' RE2 has no lookaround, no backreferences
        raise CheckDeclarationError(f"regex {pattern!r}: lookaround and backreferences are not supported (RE2 syntax)")
    anchored = f"^(?:{pattern})$"
    description = f"{table}.{column} matches /{pattern}/"

    def failing(t: Tables) -> ir.Table:
        value = t[table][column]
        return t[table].filter(value.notnull() & ~value.cast("string").re_search(anchored))

    return _row_check(
        "regex", table, column, description, failing, severity=severity, error_if=error_if, warn_if=warn_if
    )


@check_type("date_window")
def date_window(
    table: str,
    column: str,
    *,
    after: object = None,
    not_after: object = None,
    now: dt.datetime | None = None,
    severity: Severity = "error",
    error_if: str | None = None,
    warn_if: str | None = None,
) -> RowCheck:
    """Rows whose date/timestamp ``column`` is before ``after`` or later than ``not_after``
    (bounds inclusive; nulls pass). A bound ``run`` is ``now``, the run's time: no order dates
    in the future."""
    after, not_after = (now if bound == "run" else bound for bound in (after, not_after))
    if after is None and not_after is None:
        raise CheckDeclarationError("date_window needs after and/or not_after")

    def failing(t: Tables) -> ir.Table:
        c = t[table][column]
        cast = lambda v: None if v is None else ibis.literal(v).cast(c.type())
        return _outside(t[table], column, cast(after), cast(not_after))

    description = f"{table}.{column} between {after or '-'} and {not_after or '-'}"
    return _row_check(
        "date_window", table, column, description, failing, severity=severity, error_if=error_if, warn_if=warn_if
    )


@check_type("type")
def column_type(table: str, column: str, expected: str, *, severity: Severity = "error") -> RowCheck:
    """The column exists with type ``expected``, an Ibis type name such as ``int64`` or
    ``decimal(16,2)`` (nullability aside); else one failing row."""
    try:
        want = ibis.dtype(expected)
    except Exception:  # ibis raises a parser error for an unknown name
        raise CheckDeclarationError(
            f"unknown type {expected!r} (use an Ibis type such as int64, string, decimal(16,2))"
        ) from None

    def failing(t: Tables) -> ir.Table:
        got = t[table].schema().get(column)
        ok = got is not None and got.copy(nullable=True) == want.copy(nullable=True)
        return ibis.memtable({"found": [str(got)]}).limit(0 if ok else 1)

    return _row_check("type", table, column, f"{table}.{column} is {want}", failing, severity=severity)


@check_type("required_columns")
def required_columns(table: str, columns: Sequence[str], *, severity: Severity = "error") -> RowCheck:
    """One failing row per column of ``columns`` the table lacks (named in the sample)."""
    cols = list(columns)

    def failing(t: Tables) -> ir.Table:
        missing = [c for c in cols if c not in t[table].columns]
        return ibis.memtable({"missing_column": missing or [""]}).limit(len(missing))

    description = f"{table} has columns {', '.join(cols)}"
    return _row_check("required_columns", table, (), description, failing, severity=severity, key=("missing_column",))


def ingest_reconciliation(manifest_table: str = "ingest_manifest") -> RowCheck:
    """Error check on the ingest manifest: for every batch, rows read = rows landed + rows
    quarantined (a row lost anywhere between the file and the raw zone fails it)."""
    return expression(
        manifest_table,
        "rows_reconcile",
        lambda t: t.rows_read == t.rows_landed + t.rows_quarantined,
        "rows read = rows landed + rows quarantined, per batch",
    )
