"""Writing and reading the ops tables over an Ibis connection.

:func:`record` is the only writer: it checks rows against the table's declaration
(:mod:`duckbook.ops.tables`), casts them to the declared types, creates the table or adds the
columns a newer version declares, and replaces the rows of the same batch or run in one
transaction. :func:`read`, :func:`table` and :func:`exists` are the readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from duckbook import engine
from duckbook.errors import RUN_FIRST
from duckbook.ops.tables import SCHEMA, OpsTableError, OpsTableNotFound, columns, schema

if TYPE_CHECKING:
    import ibis.expr.types as ir


def conform(name: str, rows: ir.Table) -> ir.Table:
    """``rows`` with exactly the declared columns of ops table ``name``, in declared order and
    cast to the declared types.

    Raises
    ------
    OpsTableError
        ``rows`` lacks a declared column or has an undeclared one (both are named).
    """
    declared = schema(name)
    missing = [c for c in declared.names if c not in rows.columns]
    extra = [c for c in rows.columns if c not in declared]
    if missing or extra:
        problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
        problems += [f"undeclared column(s) {', '.join(extra)}"] if extra else []
        raise OpsTableError(
            f"rows for {SCHEMA}.{name} have {' and '.join(problems)}; declared: {', '.join(declared.names)} "
            "(declarations: duckbook/ops/tables.py)"
        )
    return rows.select(*(rows[c] if rows[c].type() == t else rows[c].cast(t).name(c) for c, t in declared.items()))


def record(con: engine.DuckDBBackend, name: str, rows: ir.Table, *, replace_where: Mapping[str, object]) -> None:
    """Store ``rows`` in ops table ``name``, replacing its rows whose columns equal
    ``replace_where`` (a list value means "any of"), so recording the same batch or run twice
    keeps one copy.

    The table is created on first use with its declared columns; a table created by an older
    version gets the columns declared since then (older rows hold nulls there).

    Raises
    ------
    OpsTableError
        ``name`` is not an ops table, or ``rows`` do not have its columns (see :func:`conform`).
    """
    conformed = conform(name, rows)
    engine.ensure_table(con, SCHEMA, name, schema(name).to_sqlglot_column_defs(dialect="duckdb"))
    engine.replace_rows(con, SCHEMA, name, conformed, where=replace_where)


def exists(con: engine.Connection, name: str) -> bool:
    """Whether ops table ``name`` is in the warehouse (it is created when first recorded)."""
    columns(name)  # an unknown name is an error, not "absent"
    return engine.table_exists(con, SCHEMA, name)


def read(con: engine.DuckDBBackend, name: str) -> ir.Table | None:
    """Ops table ``name``, or ``None`` when nothing has been recorded into it yet."""
    columns(name)  # an unknown name is an error, not "absent"
    return engine.table(con, SCHEMA, name)


def table(con: engine.DuckDBBackend, name: str) -> ir.Table:
    """Ops table ``name``.

    Raises
    ------
    OpsTableNotFound
        Nothing has been recorded into it yet: the message says to run the pipeline.
    """
    found = read(con, name)
    if found is None:
        raise OpsTableNotFound(f"{SCHEMA}.{name} is not in the warehouse yet: {RUN_FIRST}")
    return found
