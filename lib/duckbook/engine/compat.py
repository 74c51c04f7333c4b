"""The one wrapper around Ibis internals duckbook relies on.

Ibis's public API has no call for "compile this expression into a statement I run myself":
materializing ``CREATE OR REPLACE TABLE ... AS <query>`` from SQL compiled once needs the
backend's pre-execute hooks (they register the in-memory tables a query reads) and its compiler's
sqlglot expression. Both are reached here and nowhere else; ``tests/unit/duckbook/engine/
test_compat.py`` fails as soon as an Ibis upgrade removes or renames them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from duckbook.errors import DuckbookError

if TYPE_CHECKING:
    import ibis.expr.datatypes as dt
    import ibis.expr.types as ir
    import sqlglot.expressions as sge
    from ibis.backends.duckdb import Backend as DuckDBBackend

#: ``(attribute path on the DuckDB backend, what duckbook uses it for)``.
INTERNALS = (
    ("_run_pre_execute_hooks", "register the in-memory tables an expression reads"),
    ("compiler.to_sqlglot", "compile an expression to a sqlglot query"),
    ("compiler.type_mapper.from_string", "read a table's column types as Ibis types"),
)


class IbisCompatibilityError(DuckbookError):
    """The installed Ibis lacks an internal API duckbook uses (see :mod:`duckbook.engine.compat`)."""


def _internal(con: DuckDBBackend, path: str) -> Any:
    """The attribute at dotted ``path`` of ``con``, or an error naming it and the Ibis version."""
    target: Any = con
    for part in path.split("."):
        if not hasattr(target, part):
            import ibis

            raise IbisCompatibilityError(
                f"ibis {ibis.__version__} has no DuckDB Backend.{path}, which duckbook uses to "
                f"{dict(INTERNALS)[path]}: install the ibis-framework version pinned in constraints.txt, "
                "or adapt lib/duckbook/engine/compat.py to the new Ibis"
            )
        target = getattr(target, part)
    return target


def register_inputs(con: DuckDBBackend, expr: ir.Expr) -> None:
    """Register with ``con`` the in-memory tables (memtables) ``expr`` reads, so SQL compiled
    from ``expr`` can run as a statement of its own."""
    _internal(con, "_run_pre_execute_hooks")(expr)


def to_sqlglot(con: DuckDBBackend, expr: ir.Table) -> sge.Query:
    """``expr`` compiled by ``con`` to a sqlglot query (what ``con.compile`` renders as text)."""
    query: sge.Query = _internal(con, "compiler.to_sqlglot")(expr)
    return query


def database_table(con: DuckDBBackend, schema: str, name: str, described: Sequence[tuple[str, str, bool]]) -> ir.Table:
    """The Ibis table ``con.table(name, database=schema)`` returns, built from its columns as
    ``(name, DuckDB type, nullable)`` already read: Ibis's own lookup parses every type string
    with sqlglot on every call (~6 ms a table; a micro-batch looks up ~140 tables)."""
    import ibis.expr.operations as ops

    mapper = _internal(con, "compiler.type_mapper.from_string")
    columns = {column: _dtype(mapper, sql_type, nullable) for column, sql_type, nullable in described}
    found = ops.DatabaseTable(
        name, schema=columns, source=con, namespace=ops.Namespace(catalog=None, database=schema)
    ).to_expr()
    if found.schema().geospatial:  # Ibis loads the spatial extension for these: let it
        return con.table(name, database=schema)
    return found


@functools.lru_cache(maxsize=1024)
def _dtype(from_string: Any, sql_type: str, nullable: bool) -> dt.DataType:
    """A DuckDB type name as an Ibis type, parsed once per process (types are immutable)."""
    found: dt.DataType = from_string(sql_type, nullable=nullable)
    return found
