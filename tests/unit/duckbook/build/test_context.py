"""The stage context records what a stage reads: a report stage's reads are its exposures."""

from __future__ import annotations

import ibis
import pytest

from duckbook import engine, ops
from duckbook.build.context import start_stage


@pytest.mark.slow
def test_a_stage_records_the_tables_it_reads_when_it_closes(tmp_path):
    wh = str(tmp_path / "wh")
    ctx = start_stage("20_staging", run_id="r1", run_date="2024-01-02", warehouse=wh)
    engine.ensure_schema(ctx.con, "raw")
    for name in ("orders", "customers", "stores"):
        ctx.con.create_table(name, ibis.memtable({"id": [1]}), database="raw")
    ctx.close()  # read nothing: records nothing

    report = start_stage("50_report_sales", run_id="r2", run_date="2024-01-02", warehouse=wh)
    raw = report.tables("raw")
    assert sorted(raw) == ["customers", "orders", "stores"] and len(raw) == 3 and report.reads == set()  # names only
    assert raw["orders"].count().execute() == 1 and report.table("raw.stores") is not None
    assert report.reads == {"raw.orders", "raw.stores"}
    with pytest.raises(KeyError):
        raw["nope"]
    report.close()
    reader = engine.connect(wh, read_only=True)
    try:
        rows = ops.table(reader, "stage_reads").order_by("table_name").to_pyarrow().to_pylist()
    finally:
        reader.disconnect()
    assert rows == [
        {"stage": "50_report_sales", "table_name": "raw.orders", "run_id": "r2"},
        {"stage": "50_report_sales", "table_name": "raw.stores", "run_id": "r2"},
    ]
