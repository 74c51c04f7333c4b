"""Write-audit-publish and contract ingestion against a real DuckDB file in tmp_path."""

from __future__ import annotations

import dataclasses

import ibis
import pytest

from duckbook import engine
from duckbook.build.context import start_stage
from duckbook.build.ingest import ingest
from duckbook.ingest.contracts import Column, Contract, ContractError, SchemaPolicy
from duckbook.quality import row_checks as checks
from duckbook.quality.evaluate import CheckFailed

pytestmark = pytest.mark.slow

CONTRACTS = {
    "people": Contract(
        "people",
        "people.csv",
        (
            Column("id", "string"),
            Column("age", "int64", nullable=False),
            Column("born_at", "timestamp", no_future=True),
        ),
        ("id",),
    )
}


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    context = start_stage(
        "test",
        run_id="r1",
        run_started_at="2024-01-02T03:04:05",
        run_date="2024-01-02",
        warehouse=str(tmp_path / "w.duckdb"),
    )
    yield context
    context.con.disconnect()


def test_publish_swaps_in_all_tables_after_a_passing_audit(ctx):
    build = ctx.build("marts")
    build.add("a", ibis.memtable({"id": [1, 2]}))
    build.add("b", ibis.memtable({"id": [3]}))
    results = build.audit([checks.unique("a", "id"), checks.not_null("b", "id")])
    assert results["status"].to_list() == ["pass", "pass"]
    counts = build.publish()
    assert counts.to_dicts() == [{"table": "marts.a", "rows": 2}, {"table": "marts.b", "rows": 1}]
    assert sorted(ctx.con.list_tables(database="marts")) == ["a", "b"]
    log = ctx.con.table("publish_log", database="ops").to_polars()
    assert log["rows"].sum() == 3 and set(log["run_id"]) == {"r1"}


def test_failing_error_check_blocks_publication_and_keeps_previous_tables(ctx):
    first = ctx.build("marts")
    first.add("a", ibis.memtable({"id": [1, 2]}))
    first.audit([checks.unique("a", "id")])
    first.publish()
    # commit, as a run or a stage does: DuckLake 1.4 loses a table renamed and re-staged under
    # its old hidden name within one transaction (a build never stages a table twice per run)
    engine.publish(ctx.con, message="first", extra={})
    engine.begin(ctx.con)

    second = ctx.build("marts")
    second.add("a", ibis.memtable({"id": [7, 7, 8]}))
    results = second.audit([checks.unique("a", "id"), checks.not_null("a", "id", severity="warn")])
    assert results.filter(results["check_name"] == "unique__a__id")["status"].item() == "fail"
    with pytest.raises(CheckFailed, match="unique__a__id: 2 failing row"):
        second.publish()
    assert sorted(ctx.con.table("a", database="marts").to_polars()["id"].to_list()) == [1, 2]
    assert ctx.con.list_tables(database="marts") == ["a"], "staged table left behind"
    stored = ctx.con.table("check_results", database="ops").to_polars()
    assert stored.filter(stored["status"] == "fail")["failing_sample"].item() == "7"


def test_warn_check_does_not_block(ctx):
    build = ctx.build("marts")
    build.add("a", ibis.memtable({"id": [1, None]}))
    results = build.audit([checks.not_null("a", "id", severity="warn")])
    assert results["status"].to_list() == ["warn"]
    build.publish()
    assert ctx.con.table("a", database="marts").count().to_pyarrow().as_py() == 2


def test_publish_without_audit_is_refused(ctx):
    build = ctx.build("marts")
    build.add("a", ibis.memtable({"id": [1]}))
    with pytest.raises(RuntimeError, match="not audited"):
        build.publish()


def test_ingest_quarantines_bad_rows_with_reason_file_and_line(ctx, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "people.csv").write_text(
        "id,age,born_at,extra\n"
        "a,30,2000-01-01T00:00:00,x\n"  # line 2: good
        "b,thirty,2000-01-01T00:00:00,x\n"  # line 3: bad int
        ",40,2000-01-01T00:00:00,x\n"  # line 4: missing key
        "a,31,2000-01-01T00:00:00,x\n"  # line 5: duplicate key
        "c,50,2030-01-01T00:00:00,x\n"  # line 6: future (run_date 2024-01-02)
        "d,,2000-01-01T00:00:00,x\n"  # line 7: missing required value
        "e,60,not a date,x\n"  # line 8: bad timestamp
    )
    ingested = ingest(ctx, CONTRACTS, src)
    build, manifest = ingested.build, ingested.manifest
    row = manifest.to_dicts()[0]
    assert (row["rows_read"], row["rows_landed"], row["rows_quarantined"]) == (7, 1, 6)
    q = ctx.con.table("quarantine", database="ops").order_by("line").to_polars()
    assert q.select("line", "reason").rows() == [
        (3, "invalid_int64:age"),
        (4, "missing_key:id"),
        (5, "duplicate_key:id"),
        (6, "future_value:born_at"),
        (7, "missing_value:age"),
        (8, "invalid_timestamp:born_at"),
    ]
    assert set(q["source_file"]) == {str((src / "people.csv").resolve())}
    assert q.filter(q["line"] == 3)["raw_row"].item() == "b,thirty,2000-01-01T00:00:00,x"  # the line as in the file
    results = build.audit(
        [checks.ingest_reconciliation()], context={"ingest_manifest": ctx.con.table("ingest_manifest", database="ops")}
    )
    assert results["status"].to_list() == ["pass"]
    build.publish()
    landed = ctx.con.table("people", database="raw").to_polars()
    assert landed["id"].to_list() == ["a"] and landed["_batch_id"].item().startswith("people-")
    assert len(list((ctx.cfg.raw_zone / "people").glob("batch_id=*/data.parquet"))) == 1

    # same file again: same batch id, nothing duplicated
    build = ingest(ctx, CONTRACTS, src).build
    build.audit([], context={})
    build.publish()
    assert ctx.con.table("quarantine", database="ops").count().to_pyarrow().as_py() == 6
    assert ctx.con.table("ingest_manifest", database="ops").count().to_pyarrow().as_py() == 1


def test_missing_file_and_missing_column_are_named_before_anything_is_written(ctx, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with pytest.raises(ContractError, match=r"people.csv: file is missing"):
        ingest(ctx, CONTRACTS, src)
    (src / "people.csv").write_text("id,age\na,1\n")
    with pytest.raises(ContractError, match=r"people.csv: .*column 'born_at' is missing"):
        ingest(ctx, CONTRACTS, src)
    assert "raw" not in ctx.con.list_databases()


def test_failing_rows_of_error_checks_are_stored(ctx):
    build = ctx.build("marts")
    build.add("a", ibis.memtable({"id": [7, 7, 8], "v": ["x", "y", "z"]}))
    build.audit([checks.unique("a", "id"), checks.not_null("a", "v", severity="warn")])
    with pytest.raises(CheckFailed):
        build.publish()
    stored = ctx.con.table("check_failures", database="ops").order_by("row_number").to_polars()
    assert stored["check_name"].to_list() == ["unique__a__id", "unique__a__id"]
    assert sorted(stored["row_json"].to_list()) == ['{"id": 7, "v": "x"}', '{"id": 7, "v": "y"}']
    assert set(stored["run_id"]) == {"r1"}


def test_duplicate_deliveries_keep_the_latest_by_a_column_and_are_counted(ctx, tmp_path):
    contracts = {
        "people": Contract(
            "people",
            "people.csv",
            (Column("id", "string"), Column("age", "int64"), Column("born_at", "timestamp")),
            ("id",),
            keep="latest",
            latest_by="born_at",
            schema_evolution=SchemaPolicy(new_columns="ignore"),  # the note column is listed, not loaded
        )
    }
    src = tmp_path / "src"
    src.mkdir()
    (src / "people.csv").write_text(
        "id,age,born_at,note\n"
        "a,30,2000-01-01T00:00:00,x\n"  # line 2: older copy of a
        "a,31,2000-06-01T00:00:00,x\n"  # line 3: latest copy of a: kept
        "a,32,2000-03-01T00:00:00,x\n"  # line 4: middle copy of a
        "b,40,2000-01-01T00:00:00,x\n"
    )
    ingested = ingest(ctx, contracts, src)
    build, manifest = ingested.build, ingested.manifest
    row = manifest.to_dicts()[0]
    assert (row["rows_read"], row["rows_landed"], row["rows_quarantined"], row["rows_duplicate"]) == (4, 2, 2, 2)
    assert row["extra_columns"] == "note"
    build.audit([], context={})
    build.publish()
    kept = ctx.con.table("people", database="raw").order_by("id").to_polars()
    assert kept.select("id", "age").rows() == [("a", 31), ("b", 40)]
    q = ctx.con.table("quarantine", database="ops").order_by("line").to_polars()
    assert q.select("line", "reason_code").rows() == [(2, "duplicate_key"), (4, "duplicate_key")]


def test_extra_columns_error_policy_stops_before_writing(ctx, tmp_path):
    strict = {"people": dataclasses.replace(CONTRACTS["people"], schema_evolution=SchemaPolicy(new_columns="error"))}
    src = tmp_path / "src"
    src.mkdir()
    (src / "people.csv").write_text("id,age,born_at,secret\na,1,2000-01-01T00:00:00,x\n")
    with pytest.raises(
        ContractError, match=r"people.csv: .*column 'secret' is not in the contract.*new_columns: error"
    ):
        ingest(ctx, strict, src)
    assert "raw" not in ctx.con.list_databases()
