"""The quality report read from the ops tables of a small warehouse: newest results per check,
since when a check has not passed, the latest ingest's quarantine with PII sources' lines never
shown."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from duckbook import ops
from duckbook.quality import digest, summary

SECRET = "Jane Secretname"
T0 = dt.datetime(2019, 8, 1)


def record(con, table, rows, **where):
    declared = ops.columns(table)
    full = [{**dict.fromkeys(declared), **r} for r in rows]
    ops.record(con, table, ibis.memtable(full, schema=ops.schema(table)), replace_where=where)


def checked(con, run: int, statuses: dict[str, str]) -> None:
    """Run r<run> checked marts.orders with ``{check: status}``."""
    rows = [
        {
            "check_name": name,
            "table_name": "orders",
            "schema_name": "marts",
            "severity": "error" if name.startswith("e_") else "warn",
            "description": f"{name} holds",
            "status": status,
            "failing_rows": 0 if status == "pass" else 7,
            "threshold": "error if >0",
            "run_id": f"r{run}",
            "stage": "30_marts",
            "checked_at": T0 + dt.timedelta(days=run),
        }
        for name, status in statuses.items()
    ]
    record(con, "check_results", rows, run_id=f"r{run}")


def ingested(con, run: int, table: str, lines: list[tuple[int, str, str]]) -> None:
    """Run r<run> ingested ``table`` from one file, quarantining ``lines`` (line, reason code, raw)."""
    batch = f"{table}-{run}"
    at = T0 + dt.timedelta(days=run)
    record(
        con,
        "ingest_manifest",
        [
            {
                "table": table,
                "batch_id": batch,
                "source_file": f"/abs/{run}/{table}.csv",
                "file_path": f"2019-08-0{run}/{table}.csv",
                "rows_read": 1000 + len(lines),
                "rows_landed": 1000,
                "rows_quarantined": len(lines),
                "delivery_date": at.date(),
                "run_id": f"r{run}",
                "ingested_at": at,
            }
        ],
        batch_id=batch,
    )
    if lines:
        rows = [
            {
                "source_table": table,
                "batch_id": batch,
                "source_file": f"/abs/{run}/{table}.csv",
                "line": line,
                "reason_code": code,
                "reason": f"{code}: detail",
                "raw_row": raw,
                "run_id": f"r{run}",
                "quarantined_at": at,
            }
            for line, code, raw in lines
        ]
        record(con, "quarantine", rows, batch_id=batch)


@pytest.fixture
def con():
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE SCHEMA ops")
    checked(con, 1, {"e_total": "pass", "w_volume": "pass", "w_late": "warn", "e_keys": "pass"})
    checked(con, 2, {"e_total": "pass", "w_volume": "warn", "w_late": "warn", "e_keys": "pass"})
    checked(con, 3, {"e_total": "pass", "w_volume": "warn", "w_late": "pass", "e_keys": "pass"})
    checked(con, 4, {"e_total": "pass"})  # the other checks' tables did not change: not checked
    ingested(con, 1, "raw_customers", [(3, "wrong_column_count", "old,Old Secret,x")])
    ingested(con, 3, "raw_customers", [(9, "wrong_column_count", f"c9,{SECRET},x")])
    ingested(con, 3, "raw_orders", [(5, "invalid_int64", "o5,abc"), (2, "invalid_int64", "o2,xyz")])
    yield con
    con.disconnect()


def test_verdict_and_not_passing_from_the_newest_result_of_each_check(con):
    s = summary.run_summary(con, "r4", shown_sources=["raw_orders"])
    assert s.run_id == "r4" and s.verdict == "1 check needs attention: 1 warned" and s.worst == "warn"
    assert s.coverage.startswith("1 of the 4 checks ran in run r4")
    assert s.not_passing.select("Check", "Not passing for", "Since run").rows() == [
        ("w_volume", "2 runs in a row", "r2")
    ]
    assert s.checks.height == 4
    assert dict(s.checks.select("Check", "Checked in").rows())["e_total"] == "this run"
    assert dict(s.checks.select("Check", "Checked in").rows())["w_volume"] == "r3"


def test_history_collapses_the_checks_that_always_passed(con):
    s = summary.run_summary(con, "r4", trailing_runs=3)
    assert s.history_line == "2 checks passed every time they ran in the last 3 runs."
    assert s.history.select("Check", "Runs, oldest first").rows() == [("w_late", "W · –"), ("w_volume", "W W –")]
    assert s.trend.get_column("Run").unique(maintain_order=True).to_list() == ["r2", "r3", "r4"]


def test_an_earlier_run_is_reported_as_it_was(con):
    s = summary.run_summary(con, "r2")
    assert s.verdict == "2 checks need attention: 2 warned" and s.coverage == ""
    assert dict(s.not_passing.select("Check", "Not passing for").rows()) == {
        "w_late": "2 runs in a row (every run recorded)",
        "w_volume": "1 run (first time)",
    }
    assert s.trend.get_column("Run").unique().sort().to_list() == ["r1", "r2"]


def test_a_run_that_checked_nothing_reports_the_newest_results(con):
    s = summary.run_summary(con, "r5-skipped-everything")
    assert s.verdict == "1 check needs attention: 1 warned"
    assert s.coverage.startswith("0 of the 4 checks ran in run r5-skipped-everything")


def test_quarantine_of_the_latest_ingest_never_shows_a_pii_sources_line(con):
    s = summary.run_summary(con, "r4", shown_sources=["raw_orders"])
    assert s.quarantine.rows() == [
        ("raw_customers", "2019-08-03/raw_customers.csv", "wrong_column_count: detail", "1", digest.HIDDEN),
        ("raw_orders", "2019-08-03/raw_orders.csv", "invalid_int64: detail", "2", "line 2: o2,xyz"),
    ]
    everything = "".join(str(getattr(s, f)) for f in s.__dataclass_fields__)
    everything += "".join(str(getattr(s, f).rows()) for f in s.__dataclass_fields__ if hasattr(getattr(s, f), "rows"))
    assert SECRET not in everything and "Secret" not in everything
    hidden = summary.run_summary(con, "r4")  # no source declared PII-free: no line at all
    assert hidden.quarantine.get_column("Example (first line)").to_list() == [digest.HIDDEN] * 2


def test_sources_are_the_latest_ingest_with_readable_numbers(con):
    s = summary.run_summary(con, "r4")
    assert s.sources.columns == ["Source", "File", "Delivered", "Rows read", "Landed", "Quarantined", "Ingested at"]
    assert s.sources.rows()[0] == (
        "raw_customers",
        "2019-08-03/raw_customers.csv",
        "2019-08-04",
        "1,001",
        "1,000",
        "1",
        "2019-08-04 00:00",
    )


def test_without_ingest_tables_the_frames_are_empty(con):
    bare = ibis.duckdb.connect()
    bare.raw_sql("CREATE SCHEMA ops")
    checked(bare, 1, {"e_total": "pass"})
    s = summary.run_summary(bare, "r1")
    assert s.verdict == "The one check passes"
    assert s.quarantine.height == 0 and s.sources.height == 0 and s.not_passing.height == 0


def test_latest_checked_run_prefers_the_given_run(con):
    assert summary.latest_checked_run(con) == "r4"
    assert summary.latest_checked_run(con, prefer="r2") == "r2"
    assert summary.latest_checked_run(con, prefer="nope") == "r4"
    with pytest.raises(ops.OpsTableNotFound, match="check_results"):
        summary.latest_checked_run(ibis.duckdb.connect())
