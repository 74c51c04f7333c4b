"""The two streaming promises of issue 12 on PostgreSQL CDC (tests/e2e/test_stream.py proves them
on file deliveries): micro-batches of ``duckbook stream`` publish the same warehouse as one batch
run over the same changes, read through another slot (raw, staging, marts with their SCD2 versions,
metrics); and a ``kill -9`` of the stream at its commit, with CDC changes landed but not
committed, loses and doubles nothing while readers keep the previous snapshot."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

import duckbook
from duckbook import config, ops, project
from duckbook.engine import lock
from duckbook.ingest import cdc_spec
from duckbook.ingest.cdc import Consumer
from duckbook.run.session import PAUSE_BEFORE_COMMIT
from jaffle_shop.operational import TABLES, Writer
from tests.e2e.conftest import DUCKBOOK, ROOT
from tests.replay_support import assert_same

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CDC_FILE = ROOT / "lib" / "jaffle_shop" / "sources_cdc.yml"
OTHER_FILES = ("lib/jaffle_shop/models.yml", "lib/jaffle_shop/semantic_models.yml")
SCHEMAS = ("raw", "staging", "marts", "metrics")
#: the writer's orders are placed after the sample's last order, never after any run's run_date (today)
T0 = dt.datetime(2019, 8, 11, 21, 0)
CHUNKS, CHUNK = 4, 12  # writer transactions between two micro-batches


class Warehouse:
    """A warehouse reading the shop through its own slot: the CDC project file with the slot
    renamed, and the environment the CLI runs with."""

    def __init__(self, base: Path, slot: str, dsn: str) -> None:
        self.slot, self.path, self.reports = slot, base / f"warehouse-{slot}", base / f"reports-{slot}"
        sources = base / f"sources_{slot}.yml"
        text = CDC_FILE.read_text(encoding="utf-8")
        assert "slot: duckbook_jaffle" in text
        sources.write_text(text.replace("slot: duckbook_jaffle", f"slot: {slot}"), encoding="utf-8")
        self.files = ",".join((str(sources), *OTHER_FILES))
        self.env = {**os.environ, "DUCKBOOK_PROJECT_FILES": self.files, "JAFFLE_PG_DSN": dsn}

    def cli(self, *args: str) -> str:
        """``duckbook <args> --warehouse --reports-dir`` on this warehouse; its output (it must succeed)."""
        command = [DUCKBOOK, *args, "--warehouse", str(self.path), "--reports-dir", str(self.reports)]
        proc = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"duckbook {' '.join(args)} on {self.slot}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def stream_until_idle(self) -> str:
        return self.cli("stream", "--until-idle", "--trigger", "0.2s")

    def run_once(self) -> str:
        return self.cli("run", "--stage", "+metrics")

    def start_slot(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Create the slot and land its snapshot, ingesting nothing: the consumer's start, as the
        first ingest would do it, so that the one later run ingests the snapshot and every change."""
        monkeypatch.setenv("JAFFLE_PG_DSN", self.env["JAFFLE_PG_DSN"])
        cfg = config.load(project_files=self.files, warehouse=str(self.path))
        [(source, members)] = cdc_spec.consumers(project.load(cfg).sources.values(), cfg.warehouse)
        assert source.slot_name == self.slot and len(members) == len(TABLES)
        with Consumer(source) as consumer:
            consumer.start()

    def read(self, what):
        """``what(con)`` on a reader of the newest snapshot."""
        con = duckbook.connect(self.path, read_only=True)
        try:
            return what(con)
        finally:
            con.disconnect()

    def tables(self) -> dict[str, list[tuple]]:
        """Every raw, staging, marts and metrics table as its ordered rows, without the columns
        that say when, by which run or from which slot's batch (leading underscore)."""

        def dump(con) -> dict[str, list[tuple]]:
            out = {}
            for schema in SCHEMAS:
                for name in con.list_tables(database=schema):
                    if name.startswith("_"):
                        continue
                    cols = [c for c in con.table(name, database=schema).columns if not c.startswith("_")]
                    select = ", ".join(f'"{c}"' for c in cols)
                    rows = con.raw_sql(f'SELECT {select} FROM {schema}."{name}" ORDER BY ALL').fetchall()
                    out[f"{schema}.{name}"] = [tuple(zip(cols, r, strict=True)) for r in rows]
            return out

        return self.read(dump)

    def runs(self) -> list[ops.Run]:
        return self.read(ops.runs)


def writer_for(dsn: str, seed_: int) -> Writer:
    """A deterministic writer whose orders are placed at T0, T0 + 1 s, ..."""
    ticks = itertools.count()
    return Writer(dsn, seed=seed_, clock=lambda: T0 + dt.timedelta(seconds=next(ticks)))


def test_micro_batches_equal_one_batch_run_over_the_same_changes(shop, tmp_path, monkeypatch):
    # A streams; B's slot is created at the same point (no write between them), its snapshot landed
    # but not ingested: B's one run then reads the snapshot and every change in a single batch,
    # the furthest from A's batching.
    a, b = Warehouse(tmp_path, "stream_a", shop), Warehouse(tmp_path, "batch_b", shop)
    first = a.stream_until_idle()
    assert "stream stopped (idle): 1 batch(es) published" in first, first
    b.start_slot(monkeypatch)

    changed: dict[str, set[str]] = {"rename_customer": set(), "change_price": set()}
    with writer_for(shop, 12) as writer:
        for chunk in range(CHUNKS):
            # each chunk starts with a rename, a price change and an order, then the default mix
            changes = [writer.step(action) for action in ("rename_customer", "change_price", "order")]
            changes += [writer.step() for _ in range(CHUNK - 3)]
            for c in changes:
                changed.get(c.action, set()).add(c.key)
            out = a.stream_until_idle()
            assert "stream stopped (idle): 1 batch(es) published" in out, f"chunk {chunk}: {out}"
    b.run_once()

    streamed, batched = a.tables(), b.tables()
    assert {t.split(".")[0] for t in streamed} == set(SCHEMAS)
    assert {"marts.dim_customer", "marts.dim_product", "marts.orders"} <= set(streamed)
    assert_same(streamed, batched, f"{CHUNKS + 1} micro-batches (slot stream_a) vs one duckbook run (slot batch_b)")

    runs = a.runs()
    assert len(runs) == CHUNKS + 1 and all(r.status == "success" and r.snapshot_id for r in runs)
    assert all(r.run_id.startswith("stream-") for r in runs)
    assert [r.status for r in b.runs()] == ["success"]

    for dim, key, action in (
        ("dim_customer", "customer_id", "rename_customer"),
        ("dim_product", "product_id", "change_price"),
    ):
        versions: dict[str, list[dict]] = {}
        for row in streamed[f"marts.{dim}"]:
            versions.setdefault(dict(row)[key], []).append(dict(row))
        assert changed[action], action
        for member in changed[action]:
            found = sorted(versions[member], key=lambda v: v["valid_from"])
            assert len(found) >= 2, found  # the seeded version, then one per change
            assert found[0]["valid_from"] == dt.datetime(1900, 1, 1), found
            assert [v["is_current"] for v in found] == [False] * (len(found) - 1) + [True], found
            assert all(v["valid_to"] == w["valid_from"] for v, w in itertools.pairwise(found)), found


def pg_rows(dsn: str, table: str) -> list[tuple]:
    columns, key = TABLES[table]
    names = ", ".join(f'"{c}"' for c, _ in columns)
    with psycopg.connect(dsn) as con:
        return con.execute(f"SELECT {names} FROM public.{table} ORDER BY {', '.join(key)}").fetchall()


def raw_rows(warehouse: Warehouse, table: str) -> list[tuple]:
    columns, key = TABLES[table]
    names = ", ".join(f'"{c}"' for c, _ in columns)
    query = f"SELECT {names} FROM raw.raw_{table} ORDER BY {', '.join(key)}"
    return warehouse.read(lambda con: con.raw_sql(query).fetchall())


def manifest_files(warehouse: Warehouse) -> set[str]:
    """The names of the landed CDC files the published warehouse ingested."""
    found = warehouse.read(lambda con: con.raw_sql("SELECT DISTINCT file_path FROM ops.ingest_manifest").fetchall())
    return {Path(r[0]).name for r in found}


def test_kill_9_mid_batch_with_cdc_changes_pending_loses_and_doubles_nothing(shop, tmp_path, monkeypatch):
    a, clean = Warehouse(tmp_path, "killed_a", shop), Warehouse(tmp_path, "clean_c", shop)
    a.stream_until_idle()
    clean.start_slot(monkeypatch)
    count_orders = "SELECT count(*) FROM marts.orders"
    orders_before = a.read(lambda con: con.raw_sql(count_orders).fetchone()[0])

    with writer_for(shop, 7) as writer:
        for _ in range(15):
            writer.step()
        events = tmp_path / "events.jsonl"
        env = {**a.env, PAUSE_BEFORE_COMMIT: "120", "DUCKBOOK_EVENTS": str(events)}
        command = [DUCKBOOK, "stream", "--trigger", "0.2s", "--warehouse", str(a.path), "--reports-dir", str(a.reports)]
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            # the metrics stage published into the batch's transaction: it sleeps before the commit
            while not (events.is_file() and '"schema": "metrics"' in events.read_text(encoding="utf-8")):
                assert proc.poll() is None, f"stream exited ({proc.returncode}):\n{proc.communicate()}"
                assert time.monotonic() < deadline, "the batch never reached its commit"
                time.sleep(0.1)
            # more changes arrive while the batch is held, pending for the restart: among them a cancel
            # and a deleted line of orders the held batch landed
            for action in ("cancel", "delete_item", *[None] * 8):
                writer.step(action)
            t0 = time.monotonic()
            assert a.read(lambda con: con.raw_sql(count_orders).fetchone()[0]) == orders_before  # the last snapshot
            assert time.monotonic() - t0 < 20
            with pytest.raises(lock.RunLocked, match="stream stream-"):
                lock.acquire(config.load(warehouse=str(a.path)).lock_file, "test")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    # the killed batch landed the changes and advanced the slot, but committed nothing: pending
    landed = {p.name for p in (a.path / "cdc" / "killed_a").glob("*.parquet") if not p.name.startswith("snapshot-")}
    assert landed, "the killed batch landed no CDC batch file"
    assert not landed & manifest_files(a)

    again = a.stream_until_idle()
    assert "stream stopped (idle): 1 batch(es) published" in again, again
    assert [r.status for r in a.runs()] == ["success", "success"]  # the killed batch: no trace
    for table in TABLES:
        assert raw_rows(a, table) == pg_rows(shop, table), table
    assert landed <= manifest_files(a)
    manifest = a.read(
        lambda con: con.raw_sql(
            'SELECT "table", count(*), count(DISTINCT file_path) FROM ops.ingest_manifest GROUP BY 1'
        ).fetchall()
    )
    assert all(n == distinct for _, n, distinct in manifest), manifest  # no landed file ingested twice
    with psycopg.connect(shop) as con:
        operational = {r[0] for r in con.execute("SELECT id FROM orders").fetchall()}
    marts_orders = a.read(lambda con: {r[0] for r in con.raw_sql("SELECT order_id FROM marts.orders").fetchall()})
    assert marts_orders == operational

    clean.run_once()
    assert_same(a.tables(), clean.tables(), "a stream killed mid-batch and restarted vs one clean duckbook run")
