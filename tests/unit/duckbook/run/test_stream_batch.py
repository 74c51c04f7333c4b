"""A micro-batch on a real warehouse, in process: nothing new publishes nothing, SOURCE limits what
is ingested, a failing batch is rolled back and recorded as a failed run, a run holding the lock
makes the trigger wait, and bad arguments are refused before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from duckbook import config, ops
from duckbook.engine import lock
from duckbook.errors import UserError
from duckbook.run.stream_batch import WarehouseBatcher
from tests.pipeline import read

pytestmark = pytest.mark.slow

DROPS = Path(__file__).resolve().parents[4] / "data" / "sample-drops"


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path):
    cfg = config.load(warehouse=str(tmp_path / "warehouse"))
    with pytest.raises(UserError, match="SOURCE: unknown source 'raw_order'; did you mean raw_orders"):
        WarehouseBatcher(cfg, sources=["raw_order"], source_dir=tmp_path)
    with pytest.raises(UserError, match=r"source_dir .*missing is not a directory: create it"):
        WarehouseBatcher(cfg, source_dir=tmp_path / "missing")
    assert not (tmp_path / "warehouse").exists()


def test_the_first_line_names_where_the_sources_come_from(tmp_path, monkeypatch):
    cfg = config.load(warehouse=str(tmp_path / "warehouse"))
    assert WarehouseBatcher(cfg, source_dir=tmp_path).origins() == f"files in {tmp_path}"
    monkeypatch.setenv(
        "DUCKBOOK_PROJECT_FILES",
        "lib/jaffle_shop/sources_cdc.yml,lib/jaffle_shop/models.yml,lib/jaffle_shop/semantic_models.yml",
    )
    cdc = config.load(warehouse=str(tmp_path / "warehouse"))
    assert WarehouseBatcher(cdc, source_dir=tmp_path).origins() == "CDC slot(s) duckbook_jaffle"


def test_batches_on_a_warehouse(tmp_path):
    source_dir, warehouse = tmp_path / "drops", tmp_path / "warehouse"
    source_dir.mkdir()
    cfg = config.load(warehouse=str(warehouse), reports_dir=str(tmp_path / "reports"))
    with WarehouseBatcher(cfg, source_dir=source_dir) as batch:
        assert batch(1) is None  # an empty source_dir is no delivery: nothing published
        shutil.copytree(DROPS / "2019-07-22", source_dir / "2019-07-22")
        first = batch(1)
        assert first is not None and first.status == "published", first
        assert first.sources["raw_customers"] == (1, 937) and first.snapshot is not None
        assert list(first.stages) == ["10_ingest", "20_staging", "30_marts", "40_metrics"]
        assert "marts.orders" in first.models
        assert batch(2) is None  # nothing new since
    orders = read(warehouse, lambda con: con.table("raw_orders", database="raw").count().execute())
    shutil.copytree(DROPS / "2019-07-23", source_dir / "2019-07-23")  # products, orders and items
    with WarehouseBatcher(cfg, sources=["raw_products"], source_dir=source_dir) as batch:
        second = batch(1)
    assert second is not None and second.sources == {"raw_products": (1, 10)}  # only the source asked for
    with WarehouseBatcher(cfg, source_dir=source_dir) as batch:
        with lock.run_lock(cfg.lock_file, "run 1"), pytest.raises(lock.RunLocked, match=r"\(run 1, pid"):
            batch(1)  # a run holds the warehouse: the trigger waits
        broken = source_dir / "2019-07-24"
        broken.mkdir()
        (broken / "raw_customers.csv").write_text("id\nc-1\n", encoding="utf-8")  # the name column is missing
        failed = batch(1)
    assert failed is not None and failed.status == "failed"
    assert "ContractError" in failed.error and "raw_customers.csv" in failed.error
    runs = {r.run_id: r for r in read(warehouse, ops.runs)}
    assert [runs[b.run_id].status for b in (first, second, failed)] == ["success", "success", "failed"]
    assert len(runs) == 3  # the idle triggers left no run
    assert runs[failed.run_id].snapshot_id is None
    # rolled back: the orders delivered on 2019-07-23 wait for the next batch
    assert read(warehouse, lambda con: con.table("raw_orders", database="raw").count().execute()) == orders
    assert failed.run_id in (tmp_path / "reports" / "runs.html").read_text(encoding="utf-8")
