"""sources_cdc.yml, the Jaffle Shop read by CDC from its operational database, against its file twin
sources.yml: same contracts, checks and PII; and jaffle_shop.operational's tables match them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from duckbook import config, project
from duckbook.ingest.cdc_spec import consumers
from duckbook.ingest.contracts import parse_contracts
from jaffle_shop.operational import TABLES

ROOT = Path(__file__).resolve().parents[3]
HERE = ROOT / "lib" / "jaffle_shop"
FILES = ["lib/jaffle_shop/sources_cdc.yml", "lib/jaffle_shop/models.yml", "lib/jaffle_shop/semantic_models.yml"]
#: the contract type each PostgreSQL column type of the operational schema reads as
PG_TYPES = {
    "text": "string",
    "bigint": "int64",
    "timestamp": "timestamp",
    "double precision": "float64",
    "boolean": "boolean",
}


def _sources(name: str) -> dict:
    return yaml.safe_load((HERE / name).read_text())["sources"]


@pytest.fixture(scope="module")
def twins():
    files = parse_contracts(_sources("sources.yml"), origin="sources.yml")
    cdc = parse_contracts(_sources("sources_cdc.yml"), origin="sources_cdc.yml")
    return files, cdc


def test_every_file_source_has_a_cdc_twin_with_the_same_contract(twins):
    files, cdc = twins
    assert sorted(cdc) == sorted(files)
    for name, c in cdc.items():
        f = files[name]
        assert c.kind == "changes" and c.file == "" and c.cdc is not None, name
        assert c.columns == f.columns, name  # names, types, nullable, no_future, descriptions
        assert (c.primary_key, c.description) == (f.primary_key, f.description), name
        assert c.cdc.table == f"public.{name.removeprefix('raw_')}"


def test_checks_and_pii_marks_are_the_file_twins(twins):
    raw_files, raw_cdc = _sources("sources.yml"), _sources("sources_cdc.yml")
    for name, spec in raw_cdc.items():
        # the volume check compares deliveries' sizes: a micro-batch's size follows the trigger
        in_files = [c for c in raw_files[name].get("checks", []) if c["type"] != "volume"]
        assert spec.get("checks", []) == in_files, name
        pii = {c for c, col in spec["columns"].items() if col.get("pii")}
        assert pii == {c for c, col in raw_files[name]["columns"].items() if col.get("pii")}, name
    assert {c for c, col in raw_cdc["raw_customers"]["columns"].items() if col.get("pii")} == {"name"}


def test_all_six_share_one_slot_and_the_dsn_comes_from_the_environment(twins, tmp_path, monkeypatch):
    _, cdc = twins
    monkeypatch.setenv("JAFFLE_PG_DSN", "host=/tmp/x dbname=shop")
    [(source, members)] = consumers(cdc.values(), tmp_path)
    assert source.slot == "duckbook_jaffle" and source.dsn == "host=/tmp/x dbname=shop"
    assert sorted(source.tables) == sorted(f"public.{t}" for t in TABLES)
    assert source.directory == tmp_path / "cdc" / "duckbook_jaffle" and len(members) == 6
    monkeypatch.delenv("JAFFLE_PG_DSN")
    assert consumers(cdc.values(), tmp_path)[0][0].dsn == "dbname=jaffle"


def test_the_operational_tables_have_the_contracts_columns_types_and_keys(twins):
    _, cdc = twins
    for name, c in cdc.items():
        columns, key = TABLES[name.removeprefix("raw_")]
        assert [n for n, _ in columns] == c.column_names, name
        assert [PG_TYPES[t.removesuffix(" NOT NULL")] for _, t in columns] == [col.type for col in c.columns], name
        assert [n for n, t in columns if t.endswith("NOT NULL")] == [x.name for x in c.columns if not x.nullable]
        assert key == c.primary_key, name


def test_the_project_loads_with_the_cdc_sources_in_place_of_the_files(monkeypatch):
    monkeypatch.setenv("DUCKBOOK_PROJECT_FILES", ",".join(FILES))
    loaded = project.load(config.load(ROOT))
    assert {s.name for s in loaded.sources.values() if s.cdc is not None} == set(_sources("sources.yml"))
    assert "marts.orders" in loaded.models
