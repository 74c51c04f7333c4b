"""The one wrapper around Ibis internals duckbook relies on.

Ibis's public API has no call for "compile this expression into a statement I run myself":
materializing ``CREATE OR REPLACE TABLE ... AS <query>`` from SQL compiled once needs the
backend's pre-execute hooks (they register the in-memory tables a query reads) and its compiler's
sqlglot expression. Both are reached here and nowhere else; ``tests/unit/duckbook/engine/
test_compat.py`` fails as soon as an Ibis upgrade removes or renames them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from duckbook.errors import DuckbookError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import sqlglot.expressions as sge
    from ibis.backends.duckdb import Backend as DuckDBBackend

#: ``(attribute path on the DuckDB backend, what duckbook uses it for)``.
INTERNALS = (
    ("_run_pre_execute_hooks", "register the in-memory tables an expression reads"),
    ("compiler.to_sqlglot", "compile an expression to a sqlglot query"),
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
