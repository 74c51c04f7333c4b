"""Run the pipeline's stages in-process (what the stage notebooks do, without kernels), for the
tests that replay many deliveries: each stage is one transaction, as when run by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckbook
from duckbook import engine
from duckbook.build.context import StageContext
from duckbook.build.ingest import ingest
from duckbook.build.wap import Build

GROUPS = (("20_staging", "staging"), ("30_marts", "marts"), ("40_metrics", "metrics"))
#: Tables compared between a replay and a full refresh: every model, every raw table.
SCHEMAS = ("raw", "staging", "marts", "metrics")
#: Columns that say when or by which run a row was written, not what it holds.
RUN_COLUMNS = ("_ingested_at",)


def run_pipeline(warehouse: Path, source_dir: Path, run_date: dt.date | str, *, full_refresh: bool = False) -> None:
    """Ingest ``source_dir`` as of ``run_date`` and bring every model up to date."""
    common = {"run_date": str(run_date), "warehouse": str(warehouse), "run_id": f"test-{run_date}"}
    ctx = duckbook.start_stage("10_ingest", **common)
    try:
        build = ingest(ctx, ctx.project.sources, source_dir, full_refresh=full_refresh).build
    except BaseException:
        engine.rollback(ctx.con)
        engine.close_writer(ctx.cfg)
        raise
    _publish(ctx, build)
    for stage, group in GROUPS:
        ctx = duckbook.start_stage(stage, **common)
        _publish(ctx, ctx.build_models(group, full_refresh=full_refresh))


def _publish(ctx: StageContext, build: Build) -> None:
    """Audit and publish ``build`` and end the stage, or roll it back and release the warehouse."""
    try:
        build.audit()
        build.publish()
    except BaseException:
        engine.rollback(ctx.con)
        engine.close_writer(ctx.cfg)
        raise
    ctx.close()


def contents(warehouse: Path) -> dict[str, list[tuple]]:
    """Every published table of :data:`SCHEMAS` as its sorted rows (run columns left out)."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        out = {}
        for schema in SCHEMAS:
            for name in con.list_tables(database=schema):
                if name.startswith("_"):
                    continue
                t = con.table(name, database=schema)
                t = t.drop(*[c for c in RUN_COLUMNS if c in t.columns])
                rows = t.to_pyarrow().to_pylist()
                out[f"{schema}.{name}"] = sorted((tuple(r.items()) for r in rows), key=repr)
        return out
    finally:
        con.disconnect()


T = TypeVar("T")


def read(warehouse: Path, what: Callable[[Any], T]) -> T:
    """``what(con)`` on a read-only connection to the newest snapshot of ``warehouse``."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        return what(con)
    finally:
        con.disconnect()
