"""The CDC health of each run (ops.cdc_health) in its record: per slot the run's last check, the
transactions and events of all its checks; nothing for a project without CDC."""

from __future__ import annotations

import datetime as dt

import duckdb
import ibis
import pytest

from duckbook import engine, ops
from duckbook.ops.history import CdcHealth

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)


@pytest.fixture
def con():
    with duckdb.connect() as c:
        engine.ensure_schema(c, "ops")
        ops.write_run_log(c, [ops.RunLogEntry(r, "10_ingest", "success", "{}", T0, T0, 1.0, 1) for r in ("r1", "r2")])
        yield c


def health(run_id: str, source: str, minute: int, **values: object) -> dict[str, object]:
    row = {
        "run_id": run_id,
        "source": source,
        "slot": source,
        "lag_bytes": 0,
        "retained_wal_bytes": 0,
        "wal_status": "reserved",
        "landed_lsn": "0/0",
        "landed_commit_time": T0,
        "transactions": 0,
        "events": 0,
        "checked_at": T0 + dt.timedelta(minutes=minute),
    }
    return {**row, **values}


def record(con, rows: list[dict[str, object]]) -> None:
    table = ibis.memtable(rows, schema=ops.schema("cdc_health"))
    ops.record(ibis.duckdb.from_connection(con), "cdc_health", table, replace_where={})


def test_a_project_without_cdc_has_no_cdc_health(con):
    assert ops.run_record(con, "r1").cdc == ()
    assert [r.cdc for r in ops.run_history(con)] == [(), ()]


def test_each_slot_shows_its_last_check_and_the_sum_of_what_it_landed(con):
    record(
        con,
        [
            health(
                "r1",
                "shop",
                1,
                lag_bytes=900,
                retained_wal_bytes=5000,
                landed_lsn="0/16B3748",
                transactions=2,
                events=7,
            ),
            health(
                "r1", "shop", 2, lag_bytes=40, retained_wal_bytes=4100, landed_lsn="0/16B9000", transactions=1, events=3
            ),
            health("r1", "crm", 1, wal_status="unreserved", lag_bytes=10),
            health("r2", "shop", 9, lag_bytes=1),
        ],
    )
    r1 = ops.run_record(con, "r1")
    assert [h.source for h in r1.cdc] == ["crm", "shop"]
    assert r1.cdc[1] == CdcHealth("shop", "shop", 40, 4100, "reserved", "0/16B9000", T0, 3, 10)
    assert r1.cdc[0].wal_status == "unreserved"
    assert [h.lag_bytes for h in ops.run_record(con, "r2").cdc] == [1]


def test_a_commit_time_recorded_as_text_reads_as_a_timestamp(con):
    # the declaration says timestamp; a table an older writer made with ISO text still reads
    engine.raw(con).execute(
        "CREATE TABLE ops.cdc_health (run_id VARCHAR, source VARCHAR, slot VARCHAR, lag_bytes BIGINT, "
        "retained_wal_bytes BIGINT, wal_status VARCHAR, landed_lsn VARCHAR, landed_commit_time VARCHAR, "
        "transactions BIGINT, events BIGINT, checked_at TIMESTAMP)"
    )
    engine.raw(con).execute(
        "INSERT INTO ops.cdc_health VALUES ('r1', 's', 's', 1, 2, 'reserved', '0/1', '2024-01-02T03:04:05', 0, 0, now())"
    )
    (h,) = ops.run_record(con, "r1").cdc
    assert h.landed_commit_time == T0 and h.landed_commit_time.tzinfo is None
