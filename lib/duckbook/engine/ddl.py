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


def table(schema: str, name: str, catalog: str | None = None) -> sge.Table:
    """The quoted table ``schema.name`` (``catalog.schema.name`` when ``catalog`` is given)."""
    return sg.table(name, db=schema, catalog=catalog, quoted=True)


def column_def(name: str, sql_type: str) -> sge.ColumnDef:
    """The definition of column ``name`` of DuckDB type ``sql_type`` (e.g. ``"BIGINT"``)."""
    return sge.ColumnDef(this=identifier(name), kind=sge.DataType.build(sql_type, dialect=DIALECT))


def create_schema(schema: str, catalog: str | None = None) -> sge.Create:
    """``CREATE SCHEMA IF NOT EXISTS schema`` (in ``catalog`` when given)."""
    this = sge.Table(db=identifier(schema), catalog=identifier(catalog)) if catalog else identifier(schema)
    return sge.Create(kind="SCHEMA", this=this, exists=True)


def create_table(schema: str, name: str, columns: Sequence[sge.ColumnDef]) -> sge.Create:
    """``CREATE TABLE IF NOT EXISTS schema.name (columns)``."""
    return sge.Create(kind="TABLE", this=sge.Schema(this=table(schema, name), expressions=list(columns)), exists=True)


def create_table_as(schema: str, name: str, query: sge.Query) -> sge.Create:
    """``CREATE OR REPLACE TABLE schema.name AS query``."""
    return sge.Create(kind="TABLE", this=table(schema, name), expression=query, replace=True)


def copy_table(source: sge.Table, target: sge.Table) -> sge.Create:
    """``CREATE TABLE target AS SELECT * FROM source`` (e.g. from the lake into an attached file).

    >>> print(render(copy_table(table("marts", "orders", "lake"), table("marts", "orders", "out"))))
    CREATE TABLE "out"."marts"."orders" AS SELECT * FROM "lake"."marts"."orders"
    """
    return sge.Create(kind="TABLE", this=target, expression=sg.select("*").from_(source))


def copy_to_parquet(source: sge.Table, path: str) -> sge.Copy:
    """``COPY (SELECT * FROM source) TO 'path' (FORMAT parquet)``."""
    return sge.Copy(
        this=sg.select("*").from_(source).subquery(),
        kind=False,  # TO a file
        files=[sge.convert(path)],
        params=[sge.CopyParameter(this=sge.var("FORMAT"), expression=sge.var("parquet"))],
    )


def attach(path: str, alias: str) -> sge.Attach:
    """``ATTACH 'path' AS alias``: a DuckDB database file, created if missing.

    >>> print(render(attach("/tmp/it's.duckdb", "out")))
    ATTACH '/tmp/it''s.duckdb' AS "out"
    """
    return sge.Attach(this=sge.Alias(this=sge.convert(path), alias=identifier(alias)))


def detach(alias: str) -> sge.Detach:
    """``DETACH alias``."""
    return sge.Detach(this=identifier(alias))


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


def alter_column_type(schema: str, name: str, column: str, sql_type: sge.DataType) -> sge.Alter:
    """``ALTER TABLE schema.name ALTER COLUMN column SET DATA TYPE sql_type``.

    >>> print(render(alter_column_type("raw", "orders", "amount", sge.DataType.build("BIGINT"))))
    ALTER TABLE "raw"."orders" ALTER COLUMN "amount" SET DATA TYPE BIGINT
    """
    return sge.Alter(
        this=table(schema, name), kind="TABLE", actions=[sge.AlterColumn(this=identifier(column), dtype=sql_type)]
    )


def retyped_copy(
    schema: str, name: str, columns: Sequence[str], retype: Mapping[str, sge.DataType], add: Mapping[str, sge.DataType]
) -> sge.Select:
    """``SELECT`` every one of ``columns`` of ``schema.name`` in order (those in ``retype`` cast to
    their new type), then a typed NULL for each of ``add``: a table's rows under a new schema.

    >>> big = sge.DataType.build("BIGINT")
    >>> print(render(retyped_copy("raw", "t", ["id", "n"], {"n": big}, {"note": sge.DataType.build("VARCHAR")})))
    SELECT "id", CAST("n" AS BIGINT) AS "n", CAST(NULL AS TEXT) AS "note" FROM "raw"."t"
    """
    parts: list[sge.Expression] = [
        sge.cast(sg.column(c, quoted=True), retype[c]).as_(identifier(c)) if c in retype else sg.column(c, quoted=True)
        for c in columns
    ]
    parts += [sge.cast(sge.null(), sql_type).as_(identifier(c)) for c, sql_type in add.items()]
    return sg.select(*parts).from_(table(schema, name))


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


def delete_in(schema: str, name: str, column: str, query: sge.Query) -> sge.Delete:
    """``DELETE FROM schema.name WHERE column IN (query)`` (``query`` returns one column)."""
    condition = sge.In(this=sg.column(column, quoted=True), query=sge.Subquery(this=query))
    return sge.Delete(this=table(schema, name), where=sge.Where(this=condition))


def delete_since(schema: str, name: str, column: str, since: object) -> sge.Delete:
    """``DELETE FROM schema.name WHERE column >= since OR column IS NULL``."""
    col = sg.column(column, quoted=True)
    bound = sge.Cast(this=sge.convert(str(since)), to=sge.DataType.build("TIMESTAMP"))
    condition = sge.or_(sge.GTE(this=col, expression=bound), sge.Is(this=col.copy(), expression=sge.Null()))
    return sge.Delete(this=table(schema, name), where=sge.Where(this=condition))


def insert(schema: str, name: str, columns: Sequence[str], rows: sge.Expression) -> sge.Insert:
    """``INSERT INTO schema.name (columns) rows``, ``rows`` a query or ``VALUES``."""
    return sge.insert(rows, into=table(schema, name), columns=[identifier(c) for c in columns])


def insert_values(schema: str, name: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> sge.Insert:
    """``INSERT INTO schema.name (columns) VALUES (...), ...`` with the values as SQL literals
    (quoted by sqlglot). On a lake table a prepared statement with parameters costs ~0.5 s to
    bind; literals cost nothing.

    >>> import datetime as dt
    >>> print(render(insert_values("ops", "t", ["a", "b"], [("it's", 1), (None, dt.date(2024, 1, 2))])))
    INSERT INTO "ops"."t" ("a", "b") VALUES ('it''s', 1), (NULL, CAST('2024-01-02' AS DATE))
    """
    values = [sge.Tuple(expressions=[sge.convert(v) for v in row]) for row in rows]
    return insert(schema, name, columns, sge.Values(expressions=values))


def describe(schema: str, name: str) -> sge.Select:
    """Name and DuckDB type of each column of ``schema.name`` (of a table or a view), in order;
    no rows when there is no such table."""
    return (
        sg.select("column_name", "data_type")
        .from_(sge.Table(this=sge.Anonymous(this="duckdb_columns")))
        .where(sg.column("schema_name").eq(sge.convert(schema)), sg.column("table_name").eq(sge.convert(name)))
        .order_by(sge.Ordered(this=sg.column("column_index"), nulls_first=False))
    )


def describe_table(schema: str, name: str) -> sge.Describe:
    """``DESCRIBE schema.name``: each column's name, DuckDB type and ``null`` (``YES`` / ``NO``),
    as Ibis reads a table's schema; an error when there is no such table."""
    return sge.Describe(this=table(schema, name))


def list_schemas(catalog: str) -> sge.Select:
    """The schemas of the attached database ``catalog``, by name."""
    return (
        sg.select("schema_name")
        .from_(sge.Table(this=sge.Anonymous(this="duckdb_schemas")))
        .where(sg.column("database_name").eq(sge.convert(catalog)), sge.not_(sg.column("internal")))
        .order_by("schema_name")
    )


def list_tables(catalog: str) -> sge.Select:
    """``(schema, table)`` of every table (not view) of the attached database ``catalog``, sorted."""
    return (
        sg.select("schema_name", "table_name")
        .from_(sge.Table(this=sge.Anonymous(this="duckdb_tables")))
        .where(sg.column("database_name").eq(sge.convert(catalog)))
        .order_by("schema_name", "table_name")
    )


def call(function: str, *args: object, **named: object) -> sge.Select:
    """``SELECT * FROM function(args, name => value, ...)``: a table function (what ``CALL`` runs),
    Python values converted to SQL literals (a list to a list, a datetime to a timestamp).

    >>> print(render(call("ducklake_expire_snapshots", "lake", versions=[1, 2], dry_run=True)))
    SELECT * FROM DUCKLAKE_EXPIRE_SNAPSHOTS('lake', versions => [1, 2], dry_run => TRUE)
    >>> import datetime as dt
    >>> print(render(call("ducklake_cleanup_old_files", "lake", older_than=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))))
    SELECT * FROM DUCKLAKE_CLEANUP_OLD_FILES('lake', older_than => CAST('2026-01-02 00:00:00+00:00' AS TIMESTAMPTZ))
    """
    arguments = [sge.convert(a) for a in args]
    arguments += [sge.Kwarg(this=sge.var(k), expression=sge.convert(v)) for k, v in named.items()]
    return sg.select("*").from_(sge.Table(this=sge.Anonymous(this=function, expressions=arguments)))


def scheduled_files(metadata: str) -> sge.Select:
    """``(path, scheduled at)`` of every file a DuckLake whose catalog is attached as ``metadata``
    has scheduled for deletion (files of expired snapshots and merged files)."""
    return sg.select("path", sge.cast(sg.column("schedule_start"), "TIMESTAMPTZ")).from_(
        table(metadata, "ducklake_files_scheduled_for_deletion")  # the catalog's default schema
    )


def ended_files(metadata: str) -> sge.Union:
    """``(path, first snapshot, end snapshot)`` of every data and delete file of a DuckLake (catalog
    attached as ``metadata``) that a newer snapshot no longer uses: expiring every snapshot in
    ``[first, end)`` releases it."""
    ended = [
        sg.select("path", "begin_snapshot", "end_snapshot")
        .from_(table(metadata, name))
        .where(sg.column("end_snapshot").is_(sge.null()).not_())
        for name in ("ducklake_data_file", "ducklake_delete_file")
    ]
    return sg.union(*ended, distinct=False)


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
