"""The malformed-file corpus (tests/fixtures/bad_csv): for each file the ingest either loads the
good rows and quarantines the rest with a reason, or stops with an error naming the file and the
problem. Nothing is silently dropped: rows read = rows landed + rows quarantined."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from duckbook.build.context import start_stage
from duckbook.build.ingest import ingest
from duckbook.ingest.contracts import Column, Contract, ContractError

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "bad_csv"
CONTRACTS = {
    "people": Contract(
        "people",
        "people.csv",
        (Column("id", "string"), Column("age", "int64", nullable=False), Column("born_at", "timestamp")),
        ("id",),
    )
}

# file -> (rows landed, [(line, reason_code), ...] quarantined)
LOADS = {
    "unterminated_quote.csv": (2, [(3, "unterminated_quote")]),
    "wrong_column_count.csv": (2, [(3, "wrong_column_count"), (4, "wrong_column_count")]),
    "latin1_line.csv": (2, [(3, "invalid_encoding")]),
    "utf8_bom.csv": (2, []),
    "header_only.csv": (0, []),
    "nul_byte.csv": (2, [(3, "nul_byte")]),
    "mixed_dates.csv": (3, [(4, "invalid_timestamp")]),
    "thousands_separator.csv": (1, [(3, "invalid_int64"), (4, "invalid_int64")]),
    "crlf.csv": (2, []),
    "blank_lines.csv": (2, []),
    "duplicate_and_missing_key.csv": (1, [(3, "duplicate_key"), (4, "missing_key")]),
    "quoted_newline.csv": (2, []),
}
STOPS = {
    "empty.csv": "empty file",
    "missing_column.csv": "column 'born_at' is missing",
    "duplicate_header.csv": "duplicate column name(s) in the header: age",
    "header_not_utf8.csv": "is not UTF-8",
}


def test_the_corpus_is_complete():
    assert sorted(p.name for p in CORPUS.glob("*.csv")) == sorted([*LOADS, *STOPS])


@pytest.fixture
def ingest_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKBOOK_LAKE_DIR", str(tmp_path / "lake"))
    ctx = start_stage(
        "test",
        run_id="r1",
        run_started_at="2024-01-02T03:04:05",
        run_date="2024-01-02",
        warehouse=str(tmp_path / "w.duckdb"),
    )

    def run(name: str):
        src = tmp_path / name.removesuffix(".csv")
        src.mkdir()
        shutil.copyfile(CORPUS / name, src / "people.csv")
        ingested = ingest(ctx, CONTRACTS, src)
        return ctx, (ingested.build, ingested.manifest)

    yield run
    ctx.con.disconnect()


@pytest.mark.parametrize("name", sorted(LOADS))
def test_loads_good_rows_and_quarantines_the_rest(ingest_file, name):
    ctx, (build, manifest) = ingest_file(name)
    landed, quarantined = LOADS[name]
    row = manifest.to_dicts()[0]
    assert row["rows_read"] == row["rows_landed"] + row["rows_quarantined"], "counts must reconcile"
    assert (row["rows_landed"], row["rows_quarantined"]) == (landed, len(quarantined))
    q = ctx.con.table("quarantine", database="ops").order_by("line").to_polars()
    assert list(zip(q["line"], q["reason_code"], strict=True)) == quarantined
    assert all(q["source_file"].str.ends_with("people.csv")) and all(q["raw_row"].str.len_chars() > 0)


@pytest.mark.parametrize("name", sorted(STOPS))
def test_stops_with_an_error_naming_file_and_problem(ingest_file, name):
    with pytest.raises(ContractError) as info:
        ingest_file(name)
    assert "people.csv" in str(info.value) and STOPS[name] in str(info.value)
