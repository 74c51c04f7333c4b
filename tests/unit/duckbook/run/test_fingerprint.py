"""Stage fingerprints: a table's version moves only when its data or columns change; the code,
notebook, parameters, inputs and delivered files each change the fingerprint."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from duckbook import config, engine
from duckbook.run import fingerprint

pytestmark = pytest.mark.slow  # a real lake


@pytest.fixture
def lake(tmp_path):
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "wh")
    with engine.connect_plain(cfg) as con:
        for statement in [
            "CREATE SCHEMA raw", "CREATE SCHEMA staging", "CREATE SCHEMA ops",
            "CREATE TABLE raw.a (x INT)", "CREATE TABLE staging.b (x INT)", "CREATE TABLE ops.run_log (x INT)",
            "INSERT INTO raw.a VALUES (1)", "INSERT INTO staging.b VALUES (1)",
        ]:  # fmt: skip
            con.execute(statement)
        yield con


def test_a_table_version_moves_only_when_the_table_changes(lake):
    before = fingerprint.table_versions(lake)
    assert set(before) == {"raw.a", "staging.b"}, "ops tables are no input"
    lake.execute("INSERT INTO ops.run_log VALUES (1)")
    assert fingerprint.table_versions(lake) == before
    lake.execute("INSERT INTO raw.a VALUES (2)")
    after = fingerprint.table_versions(lake)
    assert after["raw.a"] > before["raw.a"] and after["staging.b"] == before["staging.b"]
    lake.execute("DELETE FROM staging.b")
    assert fingerprint.table_versions(lake)["staging.b"] > after["staging.b"]
    lake.execute("ALTER TABLE raw.a ADD COLUMN y INT")
    assert fingerprint.table_versions(lake)["raw.a"] > after["raw.a"]


def test_each_part_changes_the_stage_fingerprint(tmp_path):
    notebook = tmp_path / "20_staging.ipynb"
    notebook.write_text("{}")
    base = {"code": "c1", "notebook": notebook, "parameters": {"run_date": "2024-01-01", "run_id": "r1"},
            "inputs": {"raw.a": 3}, "sources": "s1"}  # fmt: skip
    mark = fingerprint.stage_fingerprint(**base)
    assert fingerprint.stage_fingerprint(**{**base, "parameters": {"run_date": "2024-01-01", "run_id": "r2"}}) == mark
    for change in [{"code": "c2"}, {"inputs": {"raw.a": 4}}, {"sources": "s2"},
                   {"parameters": {"run_date": "2024-01-02", "run_id": "r1"}}]:  # fmt: skip
        assert fingerprint.stage_fingerprint(**{**base, **change}) != mark, change
    notebook.write_text('{"cells": []}')
    assert fingerprint.stage_fingerprint(**base) != mark


def test_a_new_or_touched_delivery_changes_the_source_listing(tmp_path):
    source = tmp_path / "src"
    (source / "2024-01-01").mkdir(parents=True)
    (source / "2024-01-01" / "raw_orders.csv").write_text("id\n1\n")
    first = fingerprint.source_listing(source)
    assert fingerprint.source_listing(source) == first
    (source / "2024-01-02").mkdir()
    (source / "2024-01-02" / "raw_orders.csv").write_text("id\n2\n")
    second = fingerprint.source_listing(source)
    assert second != first
    stat = (source / "2024-01-02" / "raw_orders.csv").stat()
    os.utime(source / "2024-01-02" / "raw_orders.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert fingerprint.source_listing(source) != second
    assert fingerprint.source_listing(tmp_path / "nope") == "missing"


def test_the_code_digest_covers_the_domain_package_and_project_files(tmp_path, monkeypatch):
    root = Path(config.load().root)
    cfg = config.load()
    digest = fingerprint.code_digest(cfg)
    assert digest == fingerprint.code_digest(cfg)
    copy = tmp_path / "sources.yml"
    copy.write_text((root / "lib" / "jaffle_shop" / "sources.yml").read_text() + "\n# changed\n")
    changed = dataclasses.replace(cfg, project_files=(copy, *cfg.project_files[1:]))
    assert fingerprint.code_digest(changed) != digest


def test_stage_inputs_leave_out_later_stages_schemas():
    versions = {"raw.a": 1, "staging.b": 2, "marts.c": 3}
    assert fingerprint.stage_inputs(versions, ["marts"]) == {"raw.a": 1, "staging.b": 2}
    assert fingerprint.stage_inputs(versions, []) == versions


@pytest.mark.parametrize(
    "polled", ["api: {base_url: 'http://x'}", "cdc: {dsn: 'dbname=x', table: public.a}"], ids=["api", "cdc"]
)
def test_a_project_with_an_api_or_cdc_source_polls_every_run(tmp_path, polled):
    files = tmp_path / "sources.yml", tmp_path / "models.yml"
    files[0].write_text("sources:\n  raw_a: {file: a.csv, columns: {id: {type: string}}}\n")
    assert not fingerprint.polls_sources([*files])
    files[1].write_text(f"sources:\n  polled_a: {{{polled}, columns: {{id: {{type: string}}}}}}\n")
    assert fingerprint.polls_sources([*files])
