"""The warehouse with its DuckLake catalog on PostgreSQL (the ``catalog`` setting): the same
engine API and the same pipeline as with the default SQLite catalog, against a real local
PostgreSQL 15 that tests/postgres.py starts."""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from duckbook import config, engine
from duckbook.engine import connection
from tests.postgres import parse_dsn, psql

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def catalog(postgres_dsn) -> str:
    """A fresh PostgreSQL database for one warehouse's catalog, as the ``catalog`` setting."""
    name = f"wh_{secrets.token_hex(4)}"
    psql(postgres_dsn, f"CREATE DATABASE {name}")
    fields = {**parse_dsn(postgres_dsn), "dbname": name}
    return "postgres:" + " ".join(f"{k}={v}" for k, v in fields.items())


def test_publish_read_and_time_travel_on_a_postgres_catalog(catalog, tmp_path):
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "wh", catalog=catalog)
    writer = connection.connect(cfg=cfg)
    try:
        connection.begin(writer)
        writer.raw_sql(
            "CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 AS x; CREATE TABLE marts.u AS SELECT 2 AS y"
        )
        first = connection.publish(writer, message="one", extra={"run_id": "r1", "status": "success"})
        reader = connection.connect(cfg.warehouse, read_only=True, cfg=cfg)
        connection.begin(writer)
        writer.raw_sql("INSERT INTO marts.t VALUES (5); DELETE FROM marts.u")
        assert reader.table("t", database="marts").count().execute() == 1  # never sees uncommitted work
        connection.publish(writer, message="two", extra={"run_id": "r2", "status": "success"})
        assert reader.table("u", database="marts").count().execute() == 1  # pinned
        old = connection.connect(cfg.warehouse, read_only=True, as_of="r1", cfg=cfg)
        assert old.table("t", database="marts").to_pyarrow().to_pylist() == [{"x": 1}]
        new = connection.connect(cfg.warehouse, read_only=True, cfg=cfg)
        assert sorted(new.table("t", database="marts").to_pyarrow().column("x").to_pylist()) == [1, 5]
        assert new.table("u", database="marts").count().execute() == 0
        assert first is not None
    finally:
        connection.close_writer(cfg)
    # the catalog is in PostgreSQL, the data files under the warehouse root; no SQLite file
    assert not cfg.catalog_file.exists() and any(cfg.data_dir.rglob("*.parquet"))


def test_the_pipeline_runs_on_a_postgres_catalog(catalog, tmp_path):
    env = {**os.environ, "DUCKBOOK_CATALOG": catalog}
    duckbook = str(Path(sys.executable).with_name("duckbook"))
    wh, reports = tmp_path / "wh", tmp_path / "reports"
    args = ["--warehouse", str(wh)]
    run = subprocess.run(
        [
            duckbook,
            "run",
            *args,
            "--reports-dir",
            str(reports),
            "-p",
            "run_date=2019-08-11",
            "--stage",
            "ingest",
            "--stage",
            "staging",
            "--stage",
            "marts",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    runs = subprocess.run([duckbook, "runs", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0 and " success " in runs.stdout, runs.stdout + runs.stderr
    cfg = dataclasses.replace(config.load(ROOT), warehouse=wh, catalog=catalog)
    reader = engine.connect(wh, read_only=True, cfg=cfg)  # the catalog comes from the setting, not a file
    assert reader.table("orders", database="marts").count().execute() == 6771
