"""Column lineage for the docs site: which upstream columns each output column of a table comes
from, traced by sqlglot through the SQL the table was compiled to (kept in ``ops.lineage``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping, Sequence

from duckbook.build.lineage import STAGED_PREFIX

#: Temporary views a build reads through (CSV scans, validated batches, Ibis memtables): not tables.
_TEMPORARY = ("_validated_", "ibis_")


def column_lineage(sql: str, columns: Sequence[str]) -> dict[str, list[str]]:
    """Trace the output ``columns`` of ``sql`` to the warehouse columns they come from.

    Parameters
    ----------
    sql
        A DuckDB query (the compiled SQL of a table's expression).
    columns
        The output columns to trace.

    Returns
    -------
    dict
        ``{column: ["schema.table.column", ...]}``, sorted; a column sqlglot cannot trace (or
        any column of SQL it cannot parse) maps to an empty list. Staged tables count as their
        final names; temporary views are left out.

    Examples
    --------
    >>> column_lineage("SELECT o.id AS order_id FROM staging.orders AS o", ["order_id"])
    {'order_id': ['staging.orders.id']}
    """
    import sqlglot
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    out: dict[str, list[str]] = {column: [] for column in columns}
    try:  # qualify and scope once per query, not once per column
        parsed = qualify(
            sqlglot.parse_one(sql, dialect="duckdb"), dialect="duckdb", validate_qualify_columns=False, identify=False
        )
        scope = build_scope(parsed)
    except Exception:  # sqlglot cannot parse or qualify every construct
        return out
    for column in columns:
        try:
            node = lineage(column, parsed, dialect="duckdb", scope=scope, copy=False)
        except Exception:  # nor trace every column (unnest, some window frames, ...)
            continue
        sources = set()
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.source, sqlglot.exp.Table):
                continue
            table = leaf.source.name.removeprefix(STAGED_PREFIX)
            if not leaf.source.db or table.startswith(_TEMPORARY):
                continue
            sources.add(f"{leaf.source.db}.{table}.{leaf.name.split('.')[-1].strip(chr(34))}")
        out[column] = sorted(sources)
    return out


def cached_column_lineage(
    sql: str, columns: Sequence[str], cache: MutableMapping[str, dict[str, list[str]]]
) -> dict[str, list[str]]:
    """:func:`column_lineage`, memoized in ``cache`` by the SQL text and columns (tracing takes
    ~0.1-1 s per table and the SQL only changes when the code does). SQL that is not a query
    (``SELECT``/``WITH``) has no column lineage: ``{}``.

    Examples
    --------
    >>> cache = {}
    >>> cached_column_lineage("SELECT a FROM raw.t", ["a"], cache)
    {'a': ['raw.t.a']}
    >>> len(cache), cached_column_lineage("CREATE TABLE x (a INT)", ["a"], cache)
    (1, {})
    """
    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return {}
    key = hashlib.sha256(json.dumps([sql, list(columns)]).encode()).hexdigest()
    if key not in cache:
        cache[key] = column_lineage(sql, columns)
    return cache[key]
