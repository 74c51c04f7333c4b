"""Statements on warehouse tables: create and evolve, stage and swap in, replace rows, profile.

Each function builds its statements with :mod:`duckbook.engine.ddl` and runs them on a
connection; those taking a :data:`~duckbook.engine.connection.Connection` work on an Ibis
connection and on a bare DuckDB one alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

import sqlglot.expressions as sge

from duckbook.engine import compat, ddl
from duckbook.engine.connection import execute, raw, transaction
from duckbook.errors import DuckbookError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends.duckdb import Backend as DuckDBBackend

    from duckbook.engine.connection import Connection

#: Prefix of the hidden names tables are built under before they are swapped in.
STAGED_PREFIX = "_wap_"
#: Prefix of the hidden name a table is rewritten under when a type change needs new data files.
EVOLVE_PREFIX = "_evolve_"

_T = sge.DataType.Type
#: The type changes DuckLake applies without rewriting data files (measured on DuckLake for DuckDB
#: 1.4.4: it refuses every other one with "only widening type promotions are allowed").
_PROMOTIONS = {
    _T.TINYINT: {_T.SMALLINT, _T.INT, _T.BIGINT},
    _T.SMALLINT: {_T.INT, _T.BIGINT},
    _T.INT: {_T.BIGINT},
    _T.UTINYINT: {_T.USMALLINT, _T.UINT, _T.UBIGINT, _T.SMALLINT, _T.INT, _T.BIGINT},
    _T.USMALLINT: {_T.UINT, _T.UBIGINT, _T.INT, _T.BIGINT},
    _T.UINT: {_T.UBIGINT},  # not BIGINT
    _T.FLOAT: {_T.DOUBLE},
}


class TableEvolutionError(DuckbookError):
    """A table cannot be evolved as asked: it does not exist, or a column is unknown or taken."""


def ensure_schema(con: Connection, schema: str) -> None:
    """Create ``schema`` if it does not exist."""
    execute(con, ddl.create_schema(schema))


def columns(con: Connection, schema: str, name: str) -> list[tuple[str, str]]:
    """``(column, DuckDB type)`` of table or view ``schema.name`` in order; ``[]`` if there is none."""
    return [(str(c), str(t)) for c, t in execute(con, ddl.describe(schema, name)).fetchall()]


def table(con: DuckDBBackend, schema: str, name: str) -> ir.Table | None:
    """Table or view ``schema.name`` as Ibis's ``con.table(name, database=schema)`` returns it, or
    ``None`` when there is none: one ``DESCRIBE`` (~1 ms), where Ibis's listing of the schema's
    tables to check it exists costs ~15 ms on a DuckLake and its lookup ~6 ms."""
    import duckdb

    try:
        described = execute(con, ddl.describe_table(schema, name)).fetchall()
    except duckdb.CatalogException:
        return None
    return compat.database_table(con, schema, name, [(str(c), str(t), null == "YES") for c, t, null, *_ in described])


def table_exists(con: Connection, schema: str, name: str) -> bool:
    """Whether ``schema.name`` exists (a table or a view)."""
    return bool(columns(con, schema, name))


def ensure_table(con: Connection, schema: str, name: str, declared: Sequence[sge.ColumnDef]) -> None:
    """Create ``schema.name`` with the ``declared`` columns, or, when a table created by an older
    version exists, add the declared columns it lacks (evolution is additive: columns are never
    dropped, retyped or reordered)."""
    ensure_schema(con, schema)
    existing = {c for c, _ in columns(con, schema, name)}
    if not existing:
        execute(con, ddl.create_table(schema, name, declared))
        return
    for column in declared:
        if column.name not in existing:
            execute(con, ddl.add_column(schema, name, column))


def sql_of(con: DuckDBBackend, expr: ir.Table) -> str:
    """The SQL ``expr`` compiles to (what lineage records)."""
    return ddl.render(compat.to_sqlglot(con, expr))


def retypes_in_place(old: str, new: str) -> bool:
    """Whether DuckLake changes a column from DuckDB type ``old`` to ``new`` without rewriting
    data files (its "type promotions"): to a wider integer of the same sign, ``UTINYINT`` and
    ``USMALLINT`` to a wider signed integer, ``FLOAT`` to ``DOUBLE``. It refuses every other change
    (to a decimal, a wider decimal, ``VARCHAR``, ``DOUBLE`` from an integer, ``UINTEGER`` to ``BIGINT``).

    >>> retypes_in_place("INTEGER", "BIGINT"), retypes_in_place("UTINYINT", "SMALLINT"), retypes_in_place("BIGINT", "DECIMAL(38,0)")
    (True, True, False)
    """
    a, b = (sge.DataType.build(t, dialect=ddl.DIALECT).this for t in (old, new))
    return b in _PROMOTIONS.get(a, set())


def evolve_table(con: Connection, schema: str, name: str, adds: Mapping[str, str], widen: Mapping[str, str]) -> bool:
    """Add the nullable columns ``adds`` (``{column: Ibis type}``, appended in order) to table
    ``schema.name`` and change the types of the columns in ``widen`` (``{column: Ibis type}``),
    in one transaction; return whether the table was rewritten.

    Columns are never dropped or reordered. A change DuckLake applies in place
    (:func:`retypes_in_place`) is an ``ALTER TABLE``; any other rewrites the table under a hidden
    name with the new types and swaps it in (new data files; a time travel to an older snapshot
    still reads the old table with its old schema). Whether a change widens is the caller's call
    (:mod:`duckbook.ingest.evolution`). Adding a column the table has with that type, or changing
    one to the type it has, does nothing: evolving twice is evolving once.

    Raises
    ------
    TableEvolutionError
        The table does not exist, a column of ``widen`` is not in it, or a column of ``adds`` is
        in it with another type.
    """
    described = dict(columns(con, schema, name))
    if not described:
        raise TableEvolutionError(f"cannot evolve {schema}.{name}: there is no such table")
    add_types, widen_types = _sql_types(adds), _sql_types(widen)
    unknown = [c for c in widen if c not in described]
    if unknown:
        raise TableEvolutionError(
            f"cannot change the type of {', '.join(unknown)} in {schema}.{name}: no such column "
            f"(columns: {', '.join(described)})"
        )
    taken = [c for c, t in add_types.items() if c in described and not _same_type(described[c], t)]
    if taken:
        raise TableEvolutionError(
            f"cannot add {', '.join(f'{c} {adds[c]}' for c in taken)} to {schema}.{name}: "
            f"it has {', '.join(f'{c} {described[c]}' for c in taken)}"
        )
    add = {c: t for c, t in add_types.items() if c not in described}
    retype = {c: t for c, t in widen_types.items() if not _same_type(described[c], t)}
    if not add and not retype:
        return False
    in_place = all(retypes_in_place(described[c], ddl.render(t)) for c, t in retype.items())
    with transaction(con):
        if in_place:
            for column, sql_type in add.items():
                execute(con, ddl.add_column(schema, name, sge.ColumnDef(this=ddl.identifier(column), kind=sql_type)))
            for column, sql_type in retype.items():
                execute(con, ddl.alter_column_type(schema, name, column, sql_type))
        else:
            staged = f"{EVOLVE_PREFIX}{name}"
            execute(
                con, ddl.create_table_as(schema, staged, ddl.retyped_copy(schema, name, list(described), retype, add))
            )
            execute(con, ddl.drop_table(schema, name))
            execute(con, ddl.rename_table(schema, staged, name))
    return not in_place


def _sql_types(ibis_types: Mapping[str, str]) -> dict[str, sge.DataType]:
    """``{column: DuckDB type}`` of ``{column: Ibis type name}``, through Ibis's own mapping."""
    import ibis

    return {d.name: d.kind for d in ibis.schema(dict(ibis_types)).to_sqlglot_column_defs(dialect=ddl.DIALECT)}


def _same_type(described: str, sql_type: sge.DataType) -> bool:
    """Whether DuckDB type name ``described`` (as ``columns`` gives it) is ``sql_type``."""
    return ddl.render(sge.DataType.build(described, dialect=ddl.DIALECT)) == ddl.render(sql_type)  # VARCHAR is TEXT


def stage_table(con: DuckDBBackend, schema: str, name: str, expr: ir.Table) -> tuple[str, str]:
    """Materialize ``expr`` under a hidden name in ``schema``; return that name and the SQL it
    was built with (kept for column-level lineage).

    One ``CREATE OR REPLACE TABLE ... AS`` from SQL compiled once; ibis's own create_table
    compiles too and runs create + insert (+ drop and rename to overwrite).
    """
    ensure_schema(con, schema)
    staged = f"{STAGED_PREFIX}{name}"
    compat.register_inputs(con, expr)
    query = compat.to_sqlglot(con, expr)
    execute(con, ddl.create_table_as(schema, staged, query))
    return staged, ddl.render(query)


def swap_in(con: DuckDBBackend, schema: str, staged: Mapping[str, str]) -> None:
    """Replace ``schema.<name>`` by its staged build for every ``{name: staged_name}``, all in
    one transaction: readers of this file see every old table or every new one."""
    with transaction(con):
        for name, staged_name in staged.items():
            execute(con, ddl.drop_table(schema, name))
            execute(con, ddl.rename_table(schema, staged_name, name))


def drop_staged(con: DuckDBBackend, schema: str, staged_names: Sequence[str]) -> None:
    """Drop the staged tables of a build that is not published."""
    for staged_name in staged_names:
        execute(con, ddl.drop_table(schema, staged_name))


def replace_rows(con: DuckDBBackend, schema: str, name: str, rows: ir.Table, *, where: Mapping[str, object]) -> None:
    """Delete the rows of ``schema.name`` whose columns equal ``where`` (a list value means "any
    of"), then insert ``rows`` by column name, in one transaction: re-recording the same batch
    or run replaces it instead of duplicating it."""
    compat.register_inputs(con, rows)
    insert = ddl.insert(schema, name, rows.columns, compat.to_sqlglot(con, rows))
    with transaction(con):
        execute(con, ddl.delete_where(schema, name, where))
        execute(con, insert)


def delete_keys(con: DuckDBBackend, schema: str, name: str, column: str, keys: ir.Table) -> None:
    """Delete the rows of ``schema.name`` whose ``column`` is a value of ``keys`` (one column)."""
    compat.register_inputs(con, keys)
    execute(con, ddl.delete_in(schema, name, column, compat.to_sqlglot(con, keys)))


def delete_since(con: Connection, schema: str, name: str, column: str, since: object) -> None:
    """Delete the rows of ``schema.name`` whose ``column`` is on or after ``since``, or null."""
    execute(con, ddl.delete_since(schema, name, column, since))


def append(con: DuckDBBackend, schema: str, name: str, rows: ir.Table) -> None:
    """Insert the result of ``rows`` into ``schema.name``, matching columns by name."""
    compat.register_inputs(con, rows)
    execute(con, ddl.insert(schema, name, rows.columns, compat.to_sqlglot(con, rows)))


def insert_rows(
    con: Connection,
    schema: str,
    name: str,
    column_names: Sequence[str],
    rows: Sequence[Sequence[object]],
) -> None:
    """Insert Python ``rows`` (values in ``column_names`` order) into ``schema.name`` in one
    statement of literals (:func:`duckbook.engine.ddl.insert_values`)."""
    if rows:
        raw(con).execute(ddl.render(ddl.insert_values(schema, name, column_names, rows)))


def materialize_temp(con: DuckDBBackend, expr: ir.Table, prefix: str = "_tmp") -> ir.Table:
    """Compute ``expr`` once into a temporary table and return it (dropped with the session)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return con.create_table(name, obj=expr, temp=True)


class ColumnProfile(TypedDict):
    """A column's DuckDB type, null count, and minimum and maximum as text (``None`` if all null)."""

    name: str
    type: str
    nulls: int
    min: str | None
    max: str | None


class TableProfile(TypedDict):
    """A table's row count and its columns' profiles, in column order."""

    rows: int
    columns: list[ColumnProfile]


def profile(con: Connection, schema: str, table: str) -> TableProfile:
    """Row count and, per column, type, null count, min and max (as text) in one scan."""
    described = columns(con, schema, table)
    # an aggregate without GROUP BY returns exactly one row
    (n, *stats) = execute(con, ddl.profile(schema, table, [name for name, _ in described])).fetchall()[0]
    cols = []
    for i, (name, dtype) in enumerate(described):
        non_null, lo, hi = stats[3 * i : 3 * i + 3]
        cols.append(ColumnProfile(name=name, type=dtype, nulls=n - non_null, min=lo, max=hi))
    return TableProfile(rows=n, columns=cols)


def count_rows(tables: Sequence[ir.Table]) -> list[int]:
    """Row counts of many expressions in one query (one round trip instead of one per table).

    >>> import ibis
    >>> t = ibis.memtable({"a": [1, 2, 3]})
    >>> count_rows([t, t.filter(t.a > 1), t.filter(t.a > 5)])
    [3, 2, 0]
    """
    import ibis

    if not tables:
        return []
    parts = [t.aggregate(_i=ibis.literal(i, type="int64"), _n=ibis._.count()) for i, t in enumerate(tables)]
    result = ibis.union(*parts).to_pyarrow().to_pylist() if len(parts) > 1 else parts[0].to_pyarrow().to_pylist()
    by_index = {r["_i"]: int(r["_n"]) for r in result}
    return [by_index[i] for i in range(len(tables))]
