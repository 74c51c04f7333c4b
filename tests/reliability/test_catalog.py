"""A missing, empty or corrupt catalog beside the lake's data files.

Every command (and ``duckbook.connect(read_only=True)``) stops with one ``error:`` line about the
catalog and exit code 1 (also for a *missing* catalog: with data files present the warehouse
exists, so "does not exist yet, exit 2" would be wrong), and nothing touches the data files: a
writer must never start a new, empty lake there, whose first run would delete every data file
of the old one as orphans.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import duckbook
from duckbook import config
from duckbook.engine import connection, lake
from tests.reliability.harness import RUN_DATE, cli, copy_warehouse, run_args, traceback_free

pytestmark = pytest.mark.slow


def break_catalog(warehouse: Path, how: str) -> None:
    catalog = warehouse / "catalog.sqlite"
    size = catalog.stat().st_size
    for side in ("catalog.sqlite-wal", "catalog.sqlite-shm"):  # else SQLite might mend it from the WAL
        (warehouse / side).unlink(missing_ok=True)
    if how == "missing":
        catalog.unlink()
    elif how == "empty":
        catalog.write_bytes(b"")
    elif how == "garbage":
        catalog.write_bytes(os.urandom(size))
    elif how == "truncated":
        with catalog.open("r+b") as f:
            f.truncate(size // 2)


def data_files(warehouse: Path) -> dict[str, int]:
    return {str(p.relative_to(warehouse)): p.stat().st_size for p in warehouse.rglob("*") if p.is_file()}


COMMANDS = {
    "run": lambda wh, reports: run_args(wh, reports),
    "runs": lambda wh, reports: ["runs", "--warehouse", str(wh)],
    "check": lambda wh, reports: ["check", "--run-date", RUN_DATE, "--warehouse", str(wh)],
    "docs": lambda wh, reports: ["docs", "--warehouse", str(wh), "--reports-dir", str(reports)],
    "metrics query": lambda wh, reports: ["metrics", "query", "revenue", "--warehouse", str(wh)],
}


@pytest.mark.parametrize("how", ["missing", "empty", "garbage", "truncated"])
def test_every_command_refuses_a_broken_catalog_in_one_line_and_keeps_the_data(base, tmp_path, how):
    warehouse = copy_warehouse(base.warehouse, tmp_path / "warehouse")
    break_catalog(warehouse, how)
    before = {k: v for k, v in data_files(warehouse).items() if k.startswith(("data/", "raw/"))}

    with ThreadPoolExecutor(2) as pool:
        procs = pool.map(lambda args: cli(*args(warehouse, tmp_path / "reports")), COMMANDS.values())
        results = dict(zip(COMMANDS, procs, strict=True))
    for name, proc in results.items():
        context = f"duckbook {name} on a {how} catalog:\n{proc.stdout}\n{proc.stderr}"
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1, context
        assert traceback_free(proc.stderr), context
        assert len(lines) == 1 and lines[0].startswith(f"error: warehouse {warehouse}: "), context
        assert "catalog" in lines[0], context
    with pytest.raises(lake.CatalogError, match=f"^warehouse {warehouse}: .*catalog") as raised:
        duckbook.connect(warehouse, read_only=True)
    assert raised.value.exit_code == 1 and "\n" not in str(raised.value)

    after = {k: v for k, v in data_files(warehouse).items() if k.startswith(("data/", "raw/"))}
    assert after == before, "a command changed the data files beside a broken catalog"
    assert (warehouse / "catalog.sqlite").exists() == (how != "missing"), "a command made a new catalog"
    assert not (tmp_path / "reports" / "runs").exists(), "the run started before checking its catalog"


def test_a_warehouse_root_moves_with_its_files(tmp_path):
    """DuckLake stores the data path a lake was created with; a copied or moved root must still
    read, and write, its own files (the fault tests copy warehouses)."""
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "first", threads=1)
    writer = connection.connect(cfg=cfg)
    try:
        connection.begin(writer)
        writer.raw_sql("CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 AS x")
        connection.publish(writer, message="one", extra={"run_id": "r1"})
    finally:
        connection.close_writer(cfg)
    moved = tmp_path / "moved"
    shutil.move(cfg.warehouse, moved)
    assert duckbook.connect(moved, read_only=True).table("t", database="marts").count().execute() == 1
    moved_cfg = dataclasses.replace(cfg, warehouse=moved)
    writer = connection.connect(cfg=moved_cfg)
    try:
        connection.begin(writer)
        writer.raw_sql("INSERT INTO marts.t VALUES (2)")
        connection.publish(writer, message="two", extra={"run_id": "r2"})
    finally:
        connection.close_writer(moved_cfg)
    assert duckbook.connect(moved, read_only=True).table("t", database="marts").count().execute() == 2
    assert not cfg.warehouse.exists() and any((moved / "data" / "marts").rglob("*.parquet"))
