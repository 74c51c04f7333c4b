"""PostgreSQL CDC against a real PostgreSQL 15 with wal2json (scripts/postgres.sh starts it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckbook.ingest import cdc_store
from duckbook.ingest.cdc import STEPS, CdcError, CdcSource, Consumer, SlotLost, TableNotCapturable, resnapshot
from duckbook.ingest.cdc_events import EVENT_SCHEMA
from tests.postgres import drop_schema_and_slots, sql

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[4]


class Crash(BaseException):
    """Stands for a kill: nothing after the step runs (not even except-Exception handlers)."""


@pytest.fixture
def db(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema per test (tables, slot names unique); yields (dsn, schema)."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    sql(postgres_dsn, f"CREATE SCHEMA {schema}")
    yield postgres_dsn, schema
    drop_schema_and_slots(postgres_dsn, schema)


def source(db: tuple[str, str], tmp_path: Path, *tables: str, **kw: Any) -> CdcSource:
    dsn, schema = db
    return CdcSource(schema, dsn, tuple(f"{schema}.{t}" for t in tables), tmp_path / "raw" / schema, **kw)


def landed(src: CdcSource) -> list[dict[str, Any]]:
    """Every event landed (snapshot first, then batches in commit order), values as dicts."""
    files = sorted(src.directory.glob("snapshot-*.parquet")) + sorted(src.directory.glob("[0-9A-F]*.parquet"))
    table = pa.concat_tables([pq.read_table(f) for f in files]) if files else EVENT_SCHEMA.empty_table()
    rows = table.to_pylist()
    for row in rows:
        for col in ("values", "identity"):
            row[col] = None if row[col] is None else dict(row[col])
    return rows


def ids(events: list[dict[str, Any]], op: str) -> list[int]:
    return [int(e["values"]["id"]) for e in events if e["op"] == op]


def test_snapshot_then_inserts_updates_deletes_truncate_and_a_rollback(db: tuple[str, str], tmp_path: Path) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.c (id int PRIMARY KEY, name text)", f"INSERT INTO {s}.c VALUES (1, 'ann'), (2, 'bob')")
    src = source(db, tmp_path, "c")
    with Consumer(src) as consumer:
        position = consumer.start()
        assert position.snapshot_lsn == position.end_lsn
        sql(
            dsn,
            f"INSERT INTO {s}.c VALUES (3, 'cy')",
            f"UPDATE {s}.c SET name = 'ann b' WHERE id = 1",
            f"DELETE FROM {s}.c WHERE id = 2",
        )
        with psycopg.connect(dsn) as con:  # rolled back: never lands
            con.execute(f"INSERT INTO {s}.c VALUES (99, 'ghost')")  # type: ignore[arg-type]
            con.rollback()
        sql(dsn, f"TRUNCATE {s}.c")
        batch = consumer.poll()
        assert (batch.transactions, batch.events) == (4, 4)
        assert consumer.poll().transactions == 0
    events = landed(src)
    assert [(e["op"], e["values"]) for e in events[:2]] == [
        ("S", {"id": "1", "name": "ann"}),
        ("S", {"id": "2", "name": "bob"}),
    ]
    stream = events[2:]
    assert [e["op"] for e in stream] == ["I", "U", "D", "T"]
    assert stream[1]["values"] == {"id": "1", "name": "ann b"} and stream[1]["identity"] == {"id": "1"}
    assert stream[2]["identity"] == {"id": "2"}
    assert stream[3]["table_name"] == f"{s}.c"
    assert all(e["commit_lsn"] > position.snapshot_lsn for e in stream)
    assert not any(e["values"] and e["values"].get("id") == "99" for e in events)
    assert [e["commit_time"] for e in stream] == sorted(e["commit_time"] for e in stream)


def test_a_big_transaction_lands_whole_and_a_restart_does_not_repeat_it(db: tuple[str, str], tmp_path: Path) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.o (id int PRIMARY KEY, amount numeric(12,2))")
    src = source(db, tmp_path, "o", batch_changes=1000)
    with Consumer(src) as consumer:
        consumer.start()
        sql(dsn, f"INSERT INTO {s}.o SELECT g, g / 100.0 FROM generate_series(1, 10000) g")
        batch = consumer.poll()  # the limit is checked only at commits: the transaction is not split
        assert (batch.transactions, batch.events) == (1, 10000)
        with psycopg.connect(dsn) as con, con.cursor().copy(f"COPY {s}.o FROM STDIN") as copy:  # type: ignore[arg-type]
            for i in range(10001, 10101):
                copy.write_row((i, "0.5"))
        copied = consumer.poll()
        assert (copied.transactions, copied.events) == (1, 100)
        with pytest.raises(CdcError, match="another consumer is running on .*holds .lock"):
            Consumer(src).start()
    with Consumer(src) as again:
        again.start()
        assert again.poll().transactions == 0
    events = landed(src)
    assert sorted(ids(events, "I")) == list(range(1, 10101))
    assert len({(e["commit_lsn"], e["seq"]) for e in events}) == 10100
    # COPY writes many rows per WAL record: its events share an lsn, (commit_lsn, seq) stays unique
    assert len({e["lsn"] for e in events[10000:]}) < 100
    assert {e["values"]["amount"] for e in events if e["values"]["id"] == "1234"} == {"12.34"}


def test_key_change_toast_numeric_and_an_added_column(db: tuple[str, str], tmp_path: Path) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.p (id int PRIMARY KEY, price numeric(38,10), doc text)")
    src = source(db, tmp_path, "p")
    big = "string_agg(md5(g::text), '') FROM generate_series(1, 3000) g"  # ~96 kB, stored out of line
    with Consumer(src) as consumer:
        consumer.start()
        sql(
            dsn,
            f"INSERT INTO {s}.p SELECT 1, 1234567890123456789012345678.1234567890, {big}",
            f"UPDATE {s}.p SET price = 0.0000000001 WHERE id = 1",  # doc unchanged: left out
            f"UPDATE {s}.p SET id = 2 WHERE id = 1",
            f"ALTER TABLE {s}.p ADD COLUMN tier smallint",
            f"INSERT INTO {s}.p (id, price, tier) VALUES (3, -5.5, 7)",
        )
        batch = consumer.poll()
        assert [(c.column, c.type, c.change) for c in batch.schema_changes] == [("tier", "smallint", "added")]
        assert consumer.position is not None
        assert consumer.position.history[-1]["column"] == "tier"
        assert "tier" in consumer.position.table_schemas()[f"{s}.p"].columns
    insert, reprice, rekey, added = landed(src)
    assert Decimal(insert["values"]["price"]) == Decimal("1234567890123456789012345678.1234567890")
    assert len(insert["values"]["doc"]) == 96000
    assert reprice["values"]["price"] == "0.0000000001" and "doc" not in reprice["values"]
    assert reprice["unchanged"] == ["doc"]
    assert (rekey["identity"], rekey["values"]["id"]) == ({"id": "1"}, "2")
    assert added["values"]["tier"] == "7" and added["values"]["price"] == "-5.5000000000"


def test_a_table_without_a_primary_key_is_refused_unless_replica_identity_full(
    db: tuple[str, str], tmp_path: Path
) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.k (a int, b text)")
    src = source(db, tmp_path, "k")
    with pytest.raises(TableNotCapturable, match=rf"{s}.k' has no primary key.*REPLICA IDENTITY FULL"):
        Consumer(src).start()
    with pytest.raises(TableNotCapturable, match="does not exist"):
        Consumer(source(db, tmp_path, "nope")).start()
    sql(dsn, f"ALTER TABLE {s}.k REPLICA IDENTITY FULL", f"INSERT INTO {s}.k VALUES (1, 'x')")
    with Consumer(src) as consumer:
        consumer.start()
        sql(dsn, f"UPDATE {s}.k SET b = 'y'", f"DELETE FROM {s}.k")
        consumer.poll()
    update, delete = landed(src)[1:]
    assert update["identity"] == {"a": "1", "b": "x"} and update["values"] == {"a": "1", "b": "y"}
    assert delete["identity"] == {"a": "1", "b": "y"}


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_loses_nothing_and_repeats_nothing(db: tuple[str, str], tmp_path: Path, step: str) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.e (id int PRIMARY KEY)")
    src = source(db, tmp_path, "e")
    with Consumer(src) as consumer:
        consumer.start()
    expected = []
    for round_ in range(3):
        new = list(range(round_ * 10, round_ * 10 + 10))
        sql(dsn, *(f"INSERT INTO {s}.e VALUES ({i})" for i in new))
        expected += new

        def crash(at: str) -> None:
            if at == step:
                raise Crash(at)

        with Consumer(src, on_step=crash) as doomed, pytest.raises(Crash):
            doomed.poll()
        with Consumer(src) as resumed:
            resumed.start()
            resumed.run_until_idle()
    assert ids(landed(src), "I") == expected


def test_kill_9_during_load_loses_nothing_and_repeats_nothing(db: tuple[str, str], tmp_path: Path) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.w (id int PRIMARY KEY)")
    src = source(db, tmp_path, "w", batch_changes=50)
    with Consumer(src) as consumer:
        consumer.start()
    loop = (
        "import sys; from pathlib import Path; from duckbook.ingest.cdc import CdcSource, Consumer\n"
        f"c = Consumer(CdcSource({src.name!r}, {dsn!r}, {src.tables!r}, Path({str(src.directory)!r}), batch_changes=50))\n"
        "c.start(); print('ready', flush=True)\nwhile True: c.poll()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    written = 0
    landed_between = []
    with psycopg.connect(dsn, autocommit=True) as writer:
        for kill in range(8):
            child = subprocess.Popen([sys.executable, "-c", loop], env=env, stdout=subprocess.PIPE, text=True)
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            deadline = time.monotonic() + 0.2 + 0.05 * kill  # killed mid-stream, at a different point each time
            while time.monotonic() < deadline:
                writer.execute(f"INSERT INTO {s}.w SELECT g FROM generate_series({written}, {written + 24}) g")  # type: ignore[arg-type]
                written += 25
                time.sleep(0.002)
            child.send_signal(signal.SIGKILL)
            child.wait()
            landed_between.append(len(list(src.directory.glob("[0-9A-F]*.parquet"))))
    assert len(set(landed_between)) > 2  # the children were killed while landing, each at another point
    with Consumer(src) as last:
        last.start()
        last.run_until_idle()
    got = ids(landed(src), "I")
    assert len(got) == len(set(got)) == written
    assert sorted(got) == list(range(written))


def test_lag_retained_wal_idle_advance_and_a_lost_slot(db: tuple[str, str], tmp_path: Path) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.h (id int PRIMARY KEY, pad text)", f"CREATE TABLE {s}.other (id int)")
    src = source(db, tmp_path, "h")
    with Consumer(src) as consumer:
        consumer.start()
        sql(dsn, f"INSERT INTO {s}.h SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g")
        behind = consumer.health()
        assert behind.lag_bytes > 400_000 and behind.retained_wal_bytes >= behind.lag_bytes
        assert behind.wal_status in ("reserved", "extended")
        consumer.poll()
        caught_up = consumer.health()
        assert caught_up.lag_bytes < 1000 and caught_up.landed_lsn != behind.landed_lsn
        # WAL of tables we do not capture: an idle poll moves the slot, so it pins nothing
        sql(dsn, f"INSERT INTO {s}.other SELECT g FROM generate_series(1, 5000) g")
        assert consumer.health().lag_bytes > 100_000
        assert consumer.poll().transactions == 0
        assert consumer.health().lag_bytes < 1000
        sql(dsn, f"SELECT pg_drop_replication_slot('{src.slot_name}')")
        with pytest.raises(
            SlotLost, match=rf"slot '{src.slot_name}' is gone; run `duckbook cdc resnapshot {src.slot_name}`"
        ):
            consumer.poll()
        with pytest.raises(SlotLost, match="is gone"):
            consumer.health()
    sql(dsn, f"UPDATE {s}.h SET pad = 'y' WHERE id = 1")
    position = resnapshot(src)
    snapshot = [e for e in landed(src) if e["op"] == "S"]
    assert len(snapshot) == 2000 and {e["commit_lsn"] for e in snapshot} == {position.snapshot_lsn}
    assert sorted(p.name.split("-")[0] for p in src.directory.glob("superseded-*")) != []


def test_a_snapshot_cut_short_is_taken_again_whole(
    db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, s = db
    sql(dsn, f"CREATE TABLE {s}.big (id int PRIMARY KEY)", f"INSERT INTO {s}.big SELECT generate_series(1, 25)")
    src = source(db, tmp_path, "big")
    monkeypatch.setattr("duckbook.ingest.cdc.SNAPSHOT_CHUNK", 10)
    real_land = cdc_store.land
    calls = []

    def land_twice(*args: Any, **kw: Any) -> Path:
        calls.append(args[1])
        if len(calls) == 2:
            raise Crash("mid-snapshot")
        return real_land(*args, **kw)

    monkeypatch.setattr(cdc_store, "land", land_twice)
    with Consumer(src) as doomed, pytest.raises(Crash):
        doomed.start()
    monkeypatch.setattr(cdc_store, "land", real_land)
    assert cdc_store.read_position(src.directory) is None  # the snapshot never completed
    with Consumer(src) as consumer:
        consumer.start()
        sql(dsn, f"INSERT INTO {s}.big VALUES (26)")
        consumer.poll()
    events = landed(src)
    assert sorted(ids(events, "S")) == list(range(1, 26)) and ids(events, "I") == [26]
    assert len(list(src.directory.glob("snapshot-*.parquet"))) == 3
