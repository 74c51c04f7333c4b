"""Lineage, derived from the Ibis expressions themselves (no hand-maintained lists).

When a build stages a table, :func:`upstream_tables` walks the expression for the tables it
reads, and the SQL it was compiled to is kept; :func:`record` stores both in ``ops.lineage``
when the build publishes. (Column lineage, traced from that SQL, is the docs site's:
:mod:`duckbook.publish.column_lineage`.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from duckbook import engine, ops

STAGED_PREFIX = engine.STAGED_PREFIX


def upstream_tables(expr: ir.Table, schema: str) -> list[str]:
    """``schema.table`` names of the warehouse tables ``expr`` reads, sorted; staged tables of
    the same build count as their final names; in-memory and temporary inputs are left out."""
    from ibis.expr import operations as ops

    found = set()
    for node in expr.op().find(ops.DatabaseTable):
        if isinstance(node, ops.InMemoryTable):
            continue
        db = node.namespace.database
        if not db or node.namespace.catalog == "temp" or node.name.startswith(("_validated_", "ibis_")):
            continue  # temporary tables and views (CSV scans, parquet reads, SCD2 steps): the caller records the inputs
        name = node.name.removeprefix(STAGED_PREFIX)
        found.add(f"{db}.{name}")
    return sorted(found)


def record(con: engine.DuckDBBackend, schema: str, tables: Mapping[str, Mapping[str, object]], *, run_id: str) -> None:
    """Store the lineage of published ``tables`` (``{name: {"upstream": [...], "sql": str}}``)."""
    if not tables:
        return
    rows = [
        {
            "schema_name": schema,
            "table_name": name,
            "upstream": json.dumps(info["upstream"]),
            "sql": str(info["sql"]),
            "run_id": run_id,
        }
        for name, info in sorted(tables.items())
    ]
    ops.record(con, "lineage", ibis.memtable(rows), replace_where={"schema_name": schema, "table_name": sorted(tables)})
