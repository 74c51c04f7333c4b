"""CDC lag and health against a real PostgreSQL 15: an idle consumer never pins WAL, a slot that
falls behind reports its growing lag, and a slot invalidated by max_slot_wal_keep_size is lost."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from duckbook.ingest.cdc import CdcSource, Consumer, SlotLost
from tests.postgres import drop_schema_and_slots, sql

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: the background writer logs the running transactions every 15 s when WAL was written: only at
#: such a record can a logical slot's restart_lsn move, so retained WAL is bounded by about that
BGWRITER_SNAPSHOT_S = 15


@pytest.fixture
def db(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    """A fresh schema with captured table ``t`` and uncaptured table ``busy``; yields (dsn, schema)."""
    schema = f"h_{uuid.uuid4().hex[:10]}"
    sql(
        postgres_dsn,
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.t (id int PRIMARY KEY, pad text)",
        f"CREATE TABLE {schema}.busy (id int, pad text)",
    )
    yield postgres_dsn, schema
    drop_schema_and_slots(postgres_dsn, schema)


def source(db: tuple[str, str], tmp_path: Path, slot: str) -> CdcSource:
    dsn, schema = db
    return CdcSource(schema, dsn, (f"{schema}.t",), tmp_path / slot, slot=f"{slot}_{schema}")


@pytest.fixture
def other_database(postgres_dsn: str) -> Iterator[str]:
    """The DSN of another database on the same server (its WAL is the server's WAL)."""
    name = f"other_{uuid.uuid4().hex[:8]}"
    sql(postgres_dsn, f"CREATE DATABASE {name}")
    yield postgres_dsn.replace("dbname=duckbook", f"dbname={name}")
    sql(postgres_dsn, f"DROP DATABASE {name} WITH (FORCE)")


def test_an_idle_consumer_never_pins_wal_while_others_write(db, tmp_path, other_database):
    dsn, s = db
    sql(other_database, "CREATE TABLE w (id int, pad text)")
    with Consumer(source(db, tmp_path, "idle")) as idle, Consumer(source(db, tmp_path, "stopped")) as stopped:
        idle.start()
        stopped.start()  # never polled: it pins every byte written since
        deadline, rounds = time.monotonic() + 4 * BGWRITER_SNAPSHOT_S, 0
        while True:
            rounds += 1
            sql(other_database, "INSERT INTO w SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g")
            sql(dsn, f"INSERT INTO {s}.busy SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g")
            assert idle.poll().transactions == 0  # nothing of the captured table
            assert idle.poll().transactions == 0  # a second advance lets restart_lsn follow
            polled, pinned = idle.health(), stopped.health()
            assert polled.lag_bytes < 10_000, f"round {rounds}: an idle poll left lag {polled.lag_bytes}"
            assert pinned.lag_bytes > rounds * 1_500_000
            if rounds >= 3 and polled.retained_wal_bytes * 3 < pinned.retained_wal_bytes:
                break
            assert time.monotonic() < deadline, (
                f"after {rounds} rounds the idle slot still retains {polled.retained_wal_bytes} bytes of WAL "
                f"(the stopped one {pinned.retained_wal_bytes})"
            )
            time.sleep(1)
    assert polled.wal_status == "reserved"
    assert not list(idle.source.directory.glob("[0-9A-F]*.parquet"))  # nothing landed since the snapshot


def test_a_slot_falling_behind_reports_growing_lag_then_catches_up(db, tmp_path):
    dsn, s = db
    with Consumer(source(db, tmp_path, "behind")) as consumer:
        start = consumer.start()
        lags = []
        for i in range(3):
            sql(
                dsn,
                f"INSERT INTO {s}.t SELECT g, repeat('x', 200) FROM generate_series({i * 1000 + 1}, {i * 1000 + 1000}) g",
            )
            lags.append(consumer.health().lag_bytes)
        assert 0 < lags[0] < lags[1] < lags[2], lags
        behind = consumer.health()
        assert behind.retained_wal_bytes >= behind.lag_bytes and behind.landed_commit_time == start.commit_time
        batches = consumer.run_until_idle()
        assert sum(b.events for b in batches) == 3000
        caught_up = consumer.health()
    assert caught_up.lag_bytes < 10_000 and caught_up.landed_lsn != behind.landed_lsn
    assert caught_up.landed_commit_time is not None and caught_up.landed_commit_time > (start.commit_time or "")


def test_a_slot_invalidated_by_max_slot_wal_keep_size_is_lost_with_the_command(db, tmp_path):
    dsn, s = db
    src = source(db, tmp_path, "lost")
    with Consumer(src) as consumer:
        consumer.start()
        sql(dsn, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()")
        try:
            sql(
                dsn,
                f"INSERT INTO {s}.t SELECT g, repeat('x', 500) FROM generate_series(1, 40000) g",
                "SELECT pg_switch_wal()",
                "CHECKPOINT",
            )
        finally:
            sql(dsn, "ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()")
        fix = rf"`duckbook cdc resnapshot {src.slot_name}`"
        with pytest.raises(
            SlotLost, match=rf"slot '{src.slot_name}' was invalidated .*; run {fix} to take a new snapshot"
        ):
            consumer.health()
        with pytest.raises(SlotLost, match="was invalidated"):
            consumer.poll()
