"""Table lineage from Ibis expressions: warehouse tables by their published names; temporary and
in-memory inputs are left to the caller, who names the real inputs."""

from __future__ import annotations

import ibis

from duckbook.build.lineage import STAGED_PREFIX, upstream_tables


def test_upstream_tables_names_warehouse_tables_and_leaves_out_temporary_ones():
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE SCHEMA raw; CREATE SCHEMA staging")
    orders = con.create_table("orders", obj=ibis.memtable({"id": [1]}), database="raw")
    staged = con.create_table(f"{STAGED_PREFIX}stg_orders", obj=ibis.memtable({"id": [1]}), database="staging")
    step = con.create_table("_history_0a1b", obj=ibis.memtable({"id": [1]}), temp=True)  # an SCD2 step
    expr = orders.union(staged).union(step).union(ibis.memtable({"id": [2]}))
    assert upstream_tables(expr, "staging") == ["raw.orders", "staging.stg_orders"]
    assert upstream_tables(step, "staging") == []
