"""The SQL statements duckbook runs, built as sqlglot expressions and rendered for DuckDB.

sqlglot quotes every name and literal (a table called ``select``, a schema ``a"b``, a value with
a quote), so no statement is ever assembled from strings. Nothing here opens a connection or
runs a statement: :mod:`duckbook.engine.tables` does.

>>> print(render(drop_table('a"b', "select")))
DROP TABLE IF EXISTS "a""b"."select"
>>> print(render(delete_where("ops", "log", {"run_id": "it's", "stage": ["a", "b"]})))
DELETE FROM "ops"."log" WHERE "run_id" = 'it''s' AND "stage" IN ('a', 'b')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlglot as sg
import sqlglot.expressions as sge

DIALECT = "duckdb"


def render(statement: sge.Expression) -> str:
    """The DuckDB SQL text of ``statement``."""
    return statement.sql(dialect=DIALECT)


def identifier(name: str) -> sge.Identifier:
    """A quoted name (column, schema)."""
    return sg.to_identifier(name, quoted=True)


def table(schema: str, name: str) -> sge.Table:
    """The quoted table ``schema.name``."""
    return sg.table(name, db=schema, quoted=True)


def column_def(name: str, sql_type: str) -> sge.ColumnDef:
    """The definition of column ``name`` of DuckDB type ``sql_type`` (e.g. ``"BIGINT"``)."""
    return sge.ColumnDef(this=identifier(name), kind=sge.DataType.build(sql_type, dialect=DIALECT))


def create_schema(schema: str) -> sge.Create:
    """``CREATE SCHEMA IF NOT EXISTS schema``."""
    return sge.Create(kind="SCHEMA", this=identifier(schema), exists=True)


def create_table(schema: str, name: str, columns: Sequence[sge.ColumnDef]) -> sge.Create:
    """``CREATE TABLE IF NOT EXISTS schema.name (columns)``."""
    return sge.Create(kind="TABLE", this=sge.Schema(this=table(schema, name), expressions=list(columns)), exists=True)


def create_table_as(schema: str, name: str, query: sge.Query) -> sge.Create:
    """``CREATE OR REPLACE TABLE schema.name AS query``."""
    return sge.Create(kind="TABLE", this=table(schema, name), expression=query, replace=True)


def drop_table(schema: str, name: str) -> sge.Drop:
    """``DROP TABLE IF EXISTS schema.name``."""
    return sge.Drop(kind="TABLE", this=table(schema, name), exists=True)


def rename_table(schema: str, name: str, new_name: str) -> sge.Alter:
    """``ALTER TABLE schema.name RENAME TO new_name`` (the table stays in ``schema``)."""
    return sge.Alter(
        this=table(schema, name), kind="TABLE", actions=[sge.AlterRename(this=sg.table(new_name, quoted=True))]
    )


def add_column(schema: str, name: str, column: sge.ColumnDef) -> sge.Alter:
    """``ALTER TABLE schema.name ADD COLUMN column``."""
    return sge.Alter(this=table(schema, name), kind="TABLE", actions=[column])


def checkpoint() -> sge.Command:
    """``CHECKPOINT``: fold the write-ahead log into the database file."""
    return sge.Command(this="CHECKPOINT")


def where_equal(where: Mapping[str, object]) -> sge.Condition:
    """Rows whose columns equal ``where`` (a list value means "any of"; an empty list matches
    nothing, and so does an empty ``where``)."""
    conditions: list[sge.Condition] = []
    for name, value in where.items():
        col = sg.column(name, quoted=True)
        if isinstance(value, list):
            conditions.append(col.isin(*map(sge.convert, value)) if value else sge.false())
        else:
            conditions.append(col.eq(sge.convert(value)))
    return sge.and_(*conditions) if conditions else sge.false()


def delete_where(schema: str, name: str, where: Mapping[str, object]) -> sge.Delete:
    """``DELETE FROM schema.name WHERE ...`` for the rows :func:`where_equal` selects."""
    return sge.Delete(this=table(schema, name), where=sge.Where(this=where_equal(where)))


def insert(schema: str, name: str, columns: Sequence[str], rows: sge.Expression) -> sge.Insert:
    """``INSERT INTO schema.name (columns) rows``, ``rows`` a query or ``VALUES``."""
    return sge.insert(rows, into=table(schema, name), columns=[identifier(c) for c in columns])


def insert_placeholders(schema: str, name: str, columns: Sequence[str]) -> sge.Insert:
    """``INSERT INTO schema.name (columns) VALUES (?, ...)``, for a driver's ``executemany``."""
    return insert(
        schema, name, columns, sge.Values(expressions=[sge.Tuple(expressions=[sge.Placeholder() for _ in columns])])
    )


def describe(schema: str, name: str) -> sge.Select:
    """Name and DuckDB type of each column of ``schema.name`` (of a table or a view), in order;
    no rows when there is no such table."""
    return (
        sg.select("column_name", "data_type")
        .from_(sge.Table(this=sge.Anonymous(this="duckdb_columns")))
        .where(sg.column("schema_name").eq(sge.convert(schema)), sg.column("table_name").eq(sge.convert(name)))
        .order_by(sge.Ordered(this=sg.column("column_index"), nulls_first=False))
    )


def profile(schema: str, name: str, columns: Sequence[str]) -> sge.Select:
    """One scan of ``schema.name``: ``count(*)``, then per column its non-null count, minimum and
    maximum (both as text)."""
    parts: list[sge.Expression] = [sge.Count(this=sge.Star())]
    for column in columns:
        col = sg.column(column, quoted=True)
        parts += [sge.Count(this=col), sge.cast(sge.Min(this=col), "VARCHAR"), sge.cast(sge.Max(this=col), "VARCHAR")]
    return sg.select(*parts).from_(table(schema, name))


def sum_by(schema: str, name: str, key: str, value: str, where: Mapping[str, object]) -> sge.Select:
    """``SELECT key, sum(value) FROM schema.name WHERE ... GROUP BY key``."""
    k = sg.column(key, quoted=True)
    return (
        sg.select(k, sge.Sum(this=sg.column(value, quoted=True)))
        .from_(table(schema, name))
        .where(where_equal(where))
        .group_by(k)
    )
