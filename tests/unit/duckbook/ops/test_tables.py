"""Every ops table declared once, with the columns its writer produces."""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import pytest

from duckbook.ingest.contracts import Column, Contract, quarantine_rows
from duckbook.ingest.files import Batch
from duckbook.ops import tables
from duckbook.quality import evaluate as checks

STAMP = ["run_id", "stage", "schema_name"]


def test_the_ops_schema_and_its_tables():
    assert tables.SCHEMA == "ops"
    assert sorted(tables.COLUMNS) == [
        "cdc_health",
        "changes",
        "check_failures",
        "check_results",
        "ingest_manifest",
        "lineage",
        "model_runs",
        "model_state",
        "publish_log",
        "quarantine",
        "run_log",
        "schema_history",
        "stage_reads",
    ]


@pytest.mark.parametrize("name", sorted(tables.COLUMNS))
def test_each_declaration_is_an_ibis_schema(name):
    declared = tables.schema(name)
    assert isinstance(declared, ibis.Schema)
    assert list(declared.names) == list(tables.columns(name))


def test_unknown_table_is_named_with_the_valid_choices():
    with pytest.raises(
        tables.OpsTableError,
        match=r"ops\.runlog is not an ops table; ops tables: cdc_health, changes, check_failures, .*run_log",
    ):
        tables.columns("runlog")


def test_run_log_is_the_run_log_entry():
    assert tables.schema("run_log") == ibis.schema(
        {
            "run_id": "string",
            "stage": "string",
            "status": "string",
            "parameters": "string",
            "started_at": "timestamp",
            "ended_at": "timestamp",
            "duration_s": "float64",
            "rows_written": "int64",
            "error": "string",
            "fingerprint": "string",
        }
    )
    assert [f.name for f in dataclasses.fields(tables.RunLogEntry)] == list(tables.columns("run_log"))


def test_ingest_manifest_is_a_batch_with_its_run():
    assert list(tables.columns("ingest_manifest")) == [f.name for f in dataclasses.fields(Batch)] + [
        "run_id",
        "ingested_at",
    ]
    assert tables.columns("ingest_manifest")["ingested_at"] == "timestamp"


def test_check_results_are_what_run_checks_returns_stamped_with_the_run():
    results = checks.run_checks([], {}).schema()
    declared = tables.schema("check_results")
    assert list(declared.names) == [*results.names, *STAMP, "checked_at"]
    assert all(declared[c] == t for c, t in results.items())


def test_quarantine_is_what_the_contracts_quarantine():
    validated = ibis.memtable({"_reason": ["null:id"], "_line": [2], "_raw": ["a,b"]})
    contract = Contract("people", "people.csv", (Column("id", "string"),), ("id",))
    bad = quarantine_rows(
        validated,
        contract,
        batch_id="b",
        source_file="f",
        run_id="r",
        quarantined_at=ibis.literal(dt.datetime(2024, 1, 1)),
    )
    assert bad.schema() == tables.schema("quarantine")


def test_stamped_tables_carry_the_run_stage_and_build():
    for name in ("publish_log", "check_results", "check_failures"):
        assert set(STAMP) <= set(tables.columns(name)), name
