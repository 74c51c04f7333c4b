"""Data checks: declared once, run against staged tables before they are published.

A check is a name, the table it guards, a severity and a function that returns the *failing rows*
of that table as an Ibis expression. Counting those rows, keeping a sample of their keys and
storing the result is the toolkit's job (:func:`run_checks`); each check only says what "bad"
means, so it runs on any Ibis backend.

Examples
--------
>>> import ibis
>>> t = ibis.memtable({"id": [1, 2, 2, None]})
>>> [c.name for c in (not_null("t", "id"), unique("t", "id"))]
['not_null__t__id', 'unique__t__id']
>>> results = run_checks([not_null("t", "id"), unique("t", "id")], {"t": t})
>>> results.select("check_name", "failing_rows", "status").to_pandas().values.tolist()
[['not_null__t__id', 1, 'fail'], ['unique__t__id', 2, 'fail']]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

Severity = Literal["error", "warn"]
Tables = Mapping[str, ir.Table]


@dataclasses.dataclass(frozen=True)
class Check:
    """One rule about one table.

    ``failing`` receives every table of the build by name (so relationship checks can look at
    the referenced table) and returns the rows of ``table`` that break the rule.
    """

    name: str
    table: str
    description: str
    failing: Callable[[Tables], ir.Table]
    column: str | None = None
    severity: Severity = "error"
    key: tuple[str, ...] = ()  # columns shown in the sample of failing rows


class CheckFailed(RuntimeError):
    """Raised when error-severity checks fail; the message lists every failing check."""


def not_null(table: str, column: str, *, severity: Severity = "error") -> Check:
    """Rows where ``column`` is null."""
    return Check(
        name=f"not_null__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} is never null",
        failing=lambda t: t[table].filter(t[table][column].isnull()),
    )


def unique(table: str, *columns: str, severity: Severity = "error") -> Check:
    """Rows whose value of ``columns`` occurs more than once (every copy counts as failing)."""
    cols = list(columns)

    def failing(t: Tables) -> ir.Table:
        base = t[table]
        dupes = base.filter(*[base[c].notnull() for c in cols]).group_by(cols).agg(_n=ibis._.count()).filter(ibis._._n > 1)
        return base.semi_join(dupes, cols)

    return Check(
        name=f"unique__{table}__{'__'.join(cols)}",
        table=table,
        column=", ".join(cols),
        severity=severity,
        key=tuple(cols),
        description=f"{table}.({', '.join(cols)}) is unique",
        failing=failing,
    )


def accepted_values(table: str, column: str, values: Sequence[object], *, severity: Severity = "error") -> Check:
    """Rows where ``column`` is not null and not one of ``values``."""
    return Check(
        name=f"accepted_values__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} in {list(values)}",
        failing=lambda t: t[table].filter(t[table][column].notnull() & ~t[table][column].isin(list(values))),
    )


def relationship(table: str, column: str, to: str, field: str, *, severity: Severity = "error") -> Check:
    """Rows whose non-null ``column`` has no match in ``to.field`` (orphans)."""

    def failing(t: Tables) -> ir.Table:
        child, parent = t[table], t[to]
        return child.filter(child[column].notnull()).anti_join(parent, child[column] == parent[field])

    return Check(
        name=f"relationship__{table}__{column}__{to}",
        table=table,
        column=column,
        severity=severity,
        key=(column,),
        description=f"every {table}.{column} exists in {to}.{field}",
        failing=failing,
    )


def expression(
    table: str,
    name: str,
    rule: Callable[[ir.Table], ir.BooleanValue],
    description: str,
    *,
    where: Callable[[ir.Table], ir.BooleanValue] | None = None,
    severity: Severity = "error",
) -> Check:
    """Rows for which the business rule is false (null counts as passing, as in SQL ``CHECK``),
    optionally only among rows matching ``where``."""

    def failing(t: Tables) -> ir.Table:
        base = t[table]
        if where is not None:
            base = base.filter(where(base))
        return base.filter(~rule(base).fill_null(True))

    return Check(name=f"{name}__{table}", table=table, severity=severity, description=description, failing=failing)


_RESULT_SCHEMA = ibis.schema(
    {
        "check_name": "string",
        "table_name": "string",
        "column_name": "string",
        "severity": "string",
        "description": "string",
        "failing_rows": "int64",
        "status": "string",
        "failing_sample": "string",
    }
)

SAMPLE_SIZE = 5


def run_checks(checks: Sequence[Check], tables: Tables) -> ir.Table:
    """Evaluate every check and return one result row per check.

    All checks run, so one call reports every failure, not only the first. ``status`` is
    ``pass``, ``warn`` (a failing warn check) or ``fail`` (a failing error check). The result is
    an in-memory table; :class:`duckbook.publish.Build` stores it with the run id.
    """
    failing = [check.failing(tables) for check in checks]
    counts = count_rows(failing)
    rows = []
    for check, bad, n in zip(checks, failing, counts, strict=True):
        sample = ""
        if n and check.key:
            keys = bad.select(*check.key).distinct().order_by(list(check.key)).limit(SAMPLE_SIZE).to_pyarrow().to_pylist()
            sample = "; ".join(", ".join(str(v) for v in row.values()) for row in keys)
        status = "pass" if n == 0 else ("fail" if check.severity == "error" else "warn")
        rows.append(
            {
                "check_name": check.name,
                "table_name": check.table,
                "column_name": check.column,
                "severity": check.severity,
                "description": check.description,
                "failing_rows": n,
                "status": status,
                "failing_sample": sample,
            }
        )
    return ibis.memtable(pa.Table.from_pylist(rows, schema=_RESULT_SCHEMA.to_pyarrow()))


def count_rows(tables: Sequence[ir.Table]) -> list[int]:
    """Row counts of many expressions in one query (one round trip instead of one per check)."""
    if not tables:
        return []
    parts = [t.aggregate(_i=ibis.literal(i, type="int64"), _n=ibis._.count()) for i, t in enumerate(tables)]
    result = ibis.union(*parts).to_pyarrow().to_pylist() if len(parts) > 1 else parts[0].to_pyarrow().to_pylist()
    by_index = {r["_i"]: int(r["_n"]) for r in result}
    return [by_index[i] for i in range(len(tables))]


def raise_for_failures(results: ir.Table) -> None:
    """Raise :class:`CheckFailed` listing every failing error check in ``results``."""
    failed = results.filter(results.status == "fail").order_by("check_name").to_pyarrow().to_pylist()
    if failed:
        lines = [f"- {r['check_name']}: {r['failing_rows']} failing row(s) in {r['table_name']}" + (f" (e.g. {r['failing_sample']})" if r["failing_sample"] else "") for r in failed]
        raise CheckFailed(f"{len(failed)} error check(s) failed; nothing was published:\n" + "\n".join(lines))
