"""What the source database says about the tables a CDC source captures: columns, key, identity."""

from __future__ import annotations

from typing import Any

import psycopg

from duckbook.errors import UserError
from duckbook.ingest.cdc_events import TableSchema


class TableNotCapturable(UserError):
    """A table cannot be captured: missing, or without a primary key or REPLICA IDENTITY FULL."""


def split_table(table: str) -> tuple[str, str]:
    """``schema.table`` as its two parts.

    >>> split_table("public.customers")
    ('public', 'customers')
    >>> split_table("customers")
    Traceback (most recent call last):
    ...
    duckbook.ingest.cdc_catalog.TableNotCapturable: CDC table 'customers': name it as schema.table (e.g. public.customers)
    """
    schema, dot, name = table.partition(".")
    if not dot or not name:
        raise TableNotCapturable(f"CDC table {table!r}: name it as schema.table (e.g. public.customers)")
    return schema, name


def table_schemas(con: psycopg.Connection[Any], tables: tuple[str, ...]) -> dict[str, TableSchema]:
    """Each table's columns (name -> type with modifiers) and primary key, checking it can be
    captured: it exists, and has a primary key or REPLICA IDENTITY FULL (without either,
    PostgreSQL decodes updates and deletes with no key at all)."""
    out = {}
    for table in tables:
        schema, name = split_table(table)
        row = con.execute(
            "SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (schema, name),
        ).fetchone()
        if row is None:
            raise TableNotCapturable(f"CDC table {table!r} does not exist in the source database")
        oid, identity = row
        cols = con.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (oid,),
        ).fetchall()
        key = con.execute(
            "SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, pos) ON true "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.pos",
            (oid,),
        ).fetchall()
        if not key and identity != "f":
            raise TableNotCapturable(
                f"CDC table {table!r} has no primary key: its updates and deletes would reach us without a key. "
                f"Add a primary key, or run `ALTER TABLE {table} REPLICA IDENTITY FULL` (old rows are then sent whole)"
            )
        out[table] = TableSchema(dict(cols), tuple(k for (k,) in key))
    return out


def missing_value(con: psycopg.Connection[Any], table: str, column: str) -> str | None:
    """The text of the value ``ALTER TABLE ... ADD COLUMN ... DEFAULT`` gave the rows already in
    ``table`` (``pg_attribute.attmissingval``), or ``None`` (no default, or the column is gone)."""
    schema, name = split_table(table)
    row = con.execute(
        "SELECT (a.attmissingval::text::text[])[1] FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND a.atthasmissing",
        (schema, name, column),
    ).fetchone()
    return None if row is None else row[0]
