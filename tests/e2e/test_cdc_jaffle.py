"""The Jaffle Shop fed by CDC from its operational PostgreSQL database, end to end: seeded from
data/sample, `duckbook run` on the CDC project files builds marts equal to the file pipeline's on
the same sample; after the writer's transactions, a second run gives renamed customers new SCD2
versions in dim_customer and the new orders in marts.orders (cancelled ones gone)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

import duckbook
from jaffle_shop.operational import Writer
from tests.e2e.conftest import DUCKBOOK, ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROJECT_FILES = "lib/jaffle_shop/sources_cdc.yml,lib/jaffle_shop/models.yml,lib/jaffle_shop/semantic_models.yml"
RUN_DATE = "2019-08-11"
#: the writer's orders are placed on the run date, after the sample's last order
T0 = dt.datetime(2019, 8, 11, 21, 0)


def cdc_run(dsn: str, warehouse: Path, reports: Path) -> str:
    """`duckbook run` with the CDC sources in place of the files; its output."""
    env = {**os.environ, "DUCKBOOK_PROJECT_FILES": PROJECT_FILES, "JAFFLE_PG_DSN": dsn}
    args = ["run", "--warehouse", str(warehouse), "--reports-dir", str(reports), "-p", f"run_date={RUN_DATE}"]
    proc = subprocess.run([DUCKBOOK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def marts(warehouse: Path) -> dict[str, list[tuple]]:
    """Every marts table as its ordered rows, without the columns that say when or by which run
    (leading underscore)."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        out = {}
        for name in con.list_tables(database="marts"):
            if name.startswith("_"):
                continue
            cols = [c for c in con.table(name, database="marts").columns if not c.startswith("_")]
            select = ", ".join(f'"{c}"' for c in cols)
            out[name] = con.raw_sql(f'SELECT {select} FROM marts."{name}" ORDER BY ALL').fetchall()
        return out
    finally:
        con.disconnect()


def test_cdc_fed_marts_equal_the_file_pipeline_then_follow_the_writer(shop, run, tmp_path):
    warehouse, reports = tmp_path / "warehouse", tmp_path / "reports"
    cdc_run(shop, warehouse, reports)
    from_files, from_cdc = marts(run["warehouse"]), marts(warehouse)
    assert sorted(from_cdc) == sorted(from_files)
    for table, rows in from_files.items():
        assert len(from_cdc[table]) == len(rows), table
        assert from_cdc[table] == rows, table

    ticks = iter(range(10_000))
    with Writer(shop, seed=12, clock=lambda: T0 + dt.timedelta(seconds=next(ticks))) as writer:
        changes = [writer.step(a) for a in ("order",) * 5 + ("rename_customer",) * 3]
        changes += [writer.step() for _ in range(30)]
    placed = {c.key for c in changes if c.action == "order"}
    cancelled = {c.key for c in changes if c.action == "cancel"}
    renamed = {c.key for c in changes if c.action == "rename_customer"}
    assert len(renamed) >= 2 and placed - cancelled

    cdc_run(shop, warehouse, reports)
    with psycopg.connect(shop) as con:
        names = dict(con.execute("SELECT id, name FROM customers WHERE id = ANY(%s)", (sorted(renamed),)).fetchall())
        operational_orders = {r[0] for r in con.execute("SELECT id FROM orders").fetchall()}
    con = duckbook.connect(warehouse, read_only=True)
    try:
        dim = con.raw_sql(
            "SELECT customer_id, customer_name, is_current, valid_from FROM marts.dim_customer "
            "WHERE customer_id IN (SELECT unnest(?)) ORDER BY customer_id, valid_from",
            parameters=[sorted(renamed)],
        ).fetchall()
        orders = {r[0] for r in con.raw_sql("SELECT order_id FROM marts.orders").fetchall()}
    finally:
        con.disconnect()
    for customer in renamed:
        versions = [v for v in dim if v[0] == customer]
        assert len(versions) >= 2, versions  # the seeded name, then one version per rename
        assert [v[1] for v in versions if v[2]] == [names[customer]], versions
        assert versions[0][3] == dt.datetime(1900, 1, 1)  # the first version from the beginning of time
    assert (placed - cancelled) <= orders and not (cancelled & orders)
    assert orders == operational_orders
