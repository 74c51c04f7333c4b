"""Data quality outside a pipeline run: ``duckbook check`` runs the project's declared checks
against the published warehouse, read-only. (Inside a run each stage audits its own build:
:mod:`duckbook.build.wap`.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis.expr.types as ir
import polars as pl

from duckbook import engine, ops
from duckbook.errors import RUN_FIRST, UserError, unknown_name
from duckbook.project import Project
from duckbook.quality import evaluate
from duckbook.quality.registry import HISTORY
from duckbook.quality.row_checks import ingest_reconciliation
from duckbook.quality.types import Check


def check_warehouse(project: Project, *, select: Sequence[str] = (), run_date: dt.date | None = None) -> pl.DataFrame:
    """Run every declared check on the published tables it guards (optionally only the tables
    named in ``select``: ``schema.table`` or ``table``), plus ingestion's reconciliation of the
    manifest when nothing is selected. Time-relative checks compare with the end of ``run_date``
    (default: today). Returns one row per check, sorted by schema, table and check.

    Raises :class:`duckbook.errors.UserError` for a selected table without checks, and
    ``LookupError`` for a table that is not in the warehouse.
    """
    now = dt.datetime.combine(run_date or dt.date.today(), dt.time(23, 59, 59))
    declared = {q: cs for q in project.docs if (cs := project.checks(q, now=now))}
    if select:
        wanted = {_qualify(s, declared) for s in select}
        if missing := sorted(wanted - declared.keys()):
            short = sorted({q.partition(".")[2] for q in declared})
            raise UserError(unknown_name("--select", "table with checks", missing[0], sorted(declared), aliases=short))
        declared = {q: cs for q, cs in declared.items() if q in wanted}
    cfg = project.config
    con = engine.connect(cfg.warehouse, read_only=True, cfg=cfg)
    try:
        frames = [
            _run_schema(con, schema, declared, str(cfg.warehouse))
            for schema in sorted({q.split(".")[0] for q in declared})
        ]
        if not select and (manifest := ops.read(con, "ingest_manifest")) is not None:
            result = evaluate.run_checks([ingest_reconciliation()], {"ingest_manifest": manifest})
            frames.append(result.to_polars().with_columns(schema_name=pl.lit(ops.SCHEMA)))
    finally:
        con.disconnect()
    return pl.concat(frames).sort("schema_name", "table_name", "check_name") if frames else pl.DataFrame()


def _qualify(name: str, declared: dict[str, list[Check]]) -> str:
    return name if "." in name else next((q for q in declared if q.split(".", 1)[1] == name), name)


def _run_schema(con: engine.DuckDBBackend, schema: str, declared: dict[str, list[Check]], where: str) -> pl.DataFrame:
    checks = [c for q, cs in declared.items() if q.split(".")[0] == schema for c in cs]
    if schema not in con.list_databases():
        raise LookupError(f"schema {schema} is not in {where}: {RUN_FIRST}")
    tables: dict[str, ir.Table] = {n: con.table(n, database=schema) for n in con.list_tables(database=schema)}
    if (history := ops.read(con, HISTORY)) is not None:
        tables[HISTORY] = history
    for reference in {r for c in checks for r in c.references if "." in r}:
        ref_schema, _, ref_table = reference.partition(".")
        if ref_schema in con.list_databases() and ref_table in con.list_tables(database=ref_schema):
            tables[reference] = con.table(ref_table, database=ref_schema)
    absent = sorted({c.table for c in checks} - tables.keys())
    if absent:
        raise LookupError(f"tables {', '.join(schema + '.' + a for a in absent)} are not in {where}")
    return evaluate.run_checks(checks, tables).to_polars().with_columns(schema_name=pl.lit(schema))
