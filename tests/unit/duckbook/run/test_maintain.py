"""duckbook.run.maintain: retention of runs' snapshots, merging, deleting unused files, safety for readers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3

import duckdb
import pytest
from typer.testing import CliRunner

from duckbook import cli, config, engine
from duckbook.engine import lake, lock, maintenance
from duckbook.engine.lake import Snapshot, SnapshotNotFound
from duckbook.errors import WarehouseNotFound
from duckbook.run.maintain import disk_usage, maintain, plan_expiry

NOW = dt.datetime(2026, 3, 1, 12, 0)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


# -- which snapshots expire (no files) ----------------------------------------------------------


def test_the_last_successful_runs_and_the_newest_snapshot_are_kept_however_old():
    snaps = [
        Snapshot(0, ago(40), None),  # the catalog's creation
        Snapshot(1, ago(30), "r1"),
        Snapshot(2, ago(20), "r2"),
        Snapshot(3, ago(15), "r3", failed=True),  # a failed run's log: not a run to keep
        Snapshot(4, ago(12), "r4"),
        Snapshot(5, ago(10), None),  # a stage run by hand
    ]
    assert plan_expiry(snaps, now=NOW, retention_days=7, keep_runs=2) == ([2, 4, 5], [0, 1, 3])
    assert plan_expiry(snaps, now=NOW, retention_days=7, keep_runs=0) == ([5], [0, 1, 2, 3, 4])
    assert plan_expiry(snaps, now=NOW, retention_days=7, keep_runs=10) == ([1, 2, 4, 5], [0, 3])


def test_snapshots_younger_than_the_retention_are_kept():
    snaps = [Snapshot(0, ago(9), None), Snapshot(1, ago(8), "r1"), Snapshot(2, ago(3), None), Snapshot(3, ago(1), "r2")]
    assert plan_expiry(snaps, now=NOW, retention_days=7, keep_runs=0) == ([2, 3], [0, 1])
    assert plan_expiry(snaps, now=NOW, retention_days=0, keep_runs=0) == ([3], [0, 1, 2])
    assert plan_expiry([], now=NOW, retention_days=0, keep_runs=3) == ([], [])


def test_a_warehouse_not_created_yet_is_named(tmp_path):
    cfg = dataclasses.replace(config.load(), warehouse=tmp_path / "none")
    with pytest.raises(
        WarehouseNotFound, match=r"warehouse .*none does not exist yet: run `duckbook run` \(or `make run`\) first"
    ):
        maintain(cfg)
    assert not (tmp_path / "none").exists()


# -- on a real warehouse ------------------------------------------------------------------------


@pytest.fixture
def cfg(tmp_path):
    return dataclasses.replace(
        config.load(),
        warehouse=tmp_path / "wh",
        memory_limit="1GB",
        threads=1,
        retention_days=0,
        keep_runs=2,
        cleanup_grace_minutes=0,
    )


def publish_runs(cfg, runs, *, start=1, rows=2000):
    """Runs ``start..start+runs-1``: each replaces marts.orders (``rows`` rows per run number) and
    appends its number to ops.log, published as one snapshot of a successful run."""
    con = engine.connect(cfg=cfg)
    try:
        for i in range(start, start + runs):
            engine.begin(con)
            con.raw_sql(
                "CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS ops;"
                f"CREATE OR REPLACE TABLE marts.orders AS SELECT range AS id, {i} AS run, md5(range::VARCHAR) AS h "
                f"FROM range({rows * i}); CREATE TABLE IF NOT EXISTS ops.log (run INTEGER); INSERT INTO ops.log VALUES ({i})"
            )
            engine.publish(con, message=f"run r{i}", extra={"run_id": f"r{i}", "status": "success"})
    finally:
        engine.close_writer(cfg)


def read(cfg, as_of=None, con=None):
    con = con or engine.connect(cfg=cfg, read_only=True, as_of=as_of)
    return (
        con.raw_sql("SELECT count(*), min(run), max(run) FROM marts.orders").fetchone(),
        con.raw_sql("SELECT list(run ORDER BY run) FROM ops.log").fetchone()[0],
    )


def data_files(cfg):
    return {p.name for p in cfg.data_dir.rglob("*.parquet")}


@pytest.mark.slow
def test_maintain_keeps_the_last_runs_readable_and_expires_the_older_ones(cfg):
    publish_runs(cfg, 5)
    before = {s.run_id: s.snapshot_id for s in snapshots(cfg)}
    summary = maintain(cfg)
    assert summary.expired == (0, before["r1"], before["r2"], before["r3"])
    assert {before["r4"], before["r5"]} <= set(summary.kept)
    assert read(cfg, "r4") == ((8000, 4, 4), [1, 2, 3, 4])
    assert read(cfg, before["r5"]) == ((10000, 5, 5), [1, 2, 3, 4, 5])
    assert read(cfg) == read(cfg, "r5")
    with pytest.raises(SnapshotNotFound, match=f"snapshot {before['r3']} is not kept"):
        engine.connect(cfg=cfg, read_only=True, as_of=before["r3"])
    with pytest.raises(SnapshotNotFound, match=r"'r1' is not a run id.* `duckbook maintain` expired has snapshot -"):
        engine.connect(cfg=cfg, read_only=True, as_of="r1")
    assert not summary.dry_run and summary.pending == 0 and summary.grace_minutes == 0


def snapshots(cfg):
    with engine.connect_plain(cfg, read_only=True) as con:
        return lake.snapshots(con)


@pytest.mark.slow
def test_rewriting_a_table_many_times_grows_the_disk_and_maintain_shrinks_it(cfg):
    publish_runs(cfg, 8)
    grown = disk_usage(cfg.warehouse)
    summary = maintain(cfg)
    assert abs(summary.bytes_before - grown) < 100  # the lock file now names maintain
    assert summary.bytes_after == disk_usage(cfg.warehouse)
    # marts.orders of runs 1..6 (2000..12000 rows) are gone; runs 7 and 8 stay
    assert summary.bytes_after < summary.bytes_before * 0.6, summary
    assert len(summary.deleted) == 6 and all(p.startswith(str(cfg.data_dir)) for p in summary.deleted)
    assert not any((cfg.data_dir / p).exists() for p in summary.deleted)
    assert read(cfg, "r7") == ((14000, 7, 7), list(range(1, 8)))
    again = maintain(cfg)  # nothing left to do
    assert (again.expired, again.deleted, again.files_merged) == ((), (), 0)


@pytest.mark.slow
def test_orphaned_files_are_deleted(cfg):
    publish_runs(cfg, 1)
    stray = cfg.data_dir / "marts" / "orders" / "ducklake-left-by-a-killed-run.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{stray}' (FORMAT parquet)")
    summary = maintain(cfg)
    assert str(stray) in summary.deleted
    assert not stray.exists()
    assert read(cfg) == ((2000, 1, 1), [1])


@pytest.mark.slow
def test_a_dry_run_lists_what_would_go_and_changes_nothing(cfg):
    publish_runs(cfg, 4)
    stray = cfg.data_dir / "stray.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{stray}' (FORMAT parquet)")
    files, snaps = data_files(cfg), snapshots(cfg)
    dry = maintain(cfg, dry_run=True)
    assert (data_files(cfg), snapshots(cfg)) == (files, snaps)
    assert dry.dry_run and dry.bytes_after == dry.bytes_before and dry.files_merged == 0
    assert str(stray) in dry.deleted and "  would delete " + str(stray) in dry.lines()
    real = maintain(cfg)
    assert (dry.expired, dry.deleted) == (real.expired, tuple(sorted(real.deleted)))
    assert len(real.expired) == 3  # snapshot 0, r1, r2


@pytest.mark.slow
def test_readers_open_during_maintain_keep_their_answers(cfg):
    publish_runs(cfg, 4)
    pinned = engine.connect(cfg=cfg, read_only=True, as_of="r3")
    newest = engine.connect(cfg=cfg, read_only=True)
    expired = engine.connect(cfg=cfg, read_only=True, as_of="r1")
    answers = read(cfg, con=pinned), read(cfg, con=newest)
    summary = maintain(cfg)
    assert summary.deleted  # the files of r1 and r2 are gone from the disk
    assert (read(cfg, con=pinned), read(cfg, con=newest)) == answers
    with pytest.raises(duckdb.Error, match="No snapshot found"):
        read(cfg, con=expired)


@pytest.mark.slow
def test_merging_small_files_keeps_every_kept_snapshot_s_rows(cfg):
    """Runs that only append (no DDL between them) leave one small file each: merged into one, and
    a reader pinned to an older run still sees only that run's rows."""
    con = engine.connect(cfg=cfg)
    try:
        engine.begin(con)
        con.raw_sql("CREATE SCHEMA ops; CREATE TABLE ops.events (run INTEGER, seen TIMESTAMP)")
        engine.publish(con, message="setup", extra={})
        for i in range(1, 7):
            engine.begin(con)
            con.raw_sql(
                f"INSERT INTO ops.events SELECT {i}, TIMESTAMP '2026-01-01' + INTERVAL (range) MINUTE FROM range(3)"
            )
            engine.publish(con, message=f"run r{i}", extra={"run_id": f"r{i}", "status": "success"})
    finally:
        engine.close_writer(cfg)
    count = "SELECT count(*), sum(run) FROM ops.events"
    pinned = engine.connect(cfg=cfg, read_only=True, as_of="r5")
    assert pinned.raw_sql(count).fetchone() == (15, 45)
    summary = maintain(dataclasses.replace(cfg, keep_runs=3))
    assert summary.files_merged == 6
    assert len(list((cfg.data_dir / "ops" / "events").glob("*.parquet"))) == 1
    assert pinned.raw_sql(count).fetchone() == (15, 45)
    assert engine.connect(cfg=cfg, read_only=True, as_of="r4").raw_sql(count).fetchone() == (12, 30)
    assert engine.connect(cfg=cfg, read_only=True).raw_sql(count).fetchone() == (18, 63)
    assert snapshots(cfg)[-1].run_id is None  # the merge is a snapshot of its own


@pytest.mark.slow
def test_released_files_wait_for_the_grace_period(cfg):
    publish_runs(cfg, 4)
    patient = dataclasses.replace(cfg, cleanup_grace_minutes=60)
    first = maintain(patient)
    assert first.expired and first.deleted == () and first.pending == 2  # marts.orders of r1, r2
    queue = {f.name for f in scheduled(cfg)}
    assert len(queue) == 2 and queue <= data_files(cfg)
    # one of them was released two days ago, the other just now: only the old one goes
    old = sorted(queue)[0]
    with sqlite3.connect(cfg.catalog_file) as db:
        db.execute(
            "UPDATE ducklake_files_scheduled_for_deletion SET schedule_start = ? WHERE path LIKE ?",
            [f"{dt.datetime.now(dt.UTC) - dt.timedelta(days=2):%Y-%m-%d %H:%M:%S.%f}+00", f"%{old}"],
        )
    second = maintain(patient)
    assert [p.rsplit("/", 1)[1] for p in second.deleted] == [old]
    assert {f.name for f in scheduled(cfg)} == queue - {old} and second.pending == 1
    third = maintain(cfg)  # no grace: the rest goes
    assert len(third.deleted) == 1 and third.pending == 0
    assert not queue & data_files(cfg)


def scheduled(cfg):
    with engine.connect_plain(cfg) as con:
        return maintenance.scheduled(con)


@pytest.mark.slow
def test_maintain_refuses_while_a_run_holds_the_lock(cfg):
    publish_runs(cfg, 2)
    with lock.run_lock(cfg.lock_file, "run r3"):
        with pytest.raises(lock.RunLocked, match=r"another run holds .*run.lock \(run r3, pid \d+\)"):
            maintain(cfg)
        result = CliRunner().invoke(cli.app, ["maintain", "--warehouse", str(cfg.warehouse)])
    assert result.exit_code == 1
    assert "error: another run holds" in result.stderr
    assert len(snapshots(cfg)) == 3  # nothing expired


@pytest.mark.slow
def test_the_command_prints_the_summary_and_its_options_override_the_settings(cfg, monkeypatch):
    publish_runs(cfg, 3)
    monkeypatch.setenv("DUCKBOOK_KEEP_RUNS", "3")  # the options win
    args = ["maintain", "--warehouse", str(cfg.warehouse), "--retention-days", "0", "--grace-minutes", "0"]
    dry = CliRunner().invoke(cli.app, [*args, "--keep-runs", "1", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "snapshots: 1 kept (3), 3 would expire (0, 1, 2)" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout and dry.stdout.count("would delete /") == 2
    done = CliRunner().invoke(cli.app, [*args, "--keep-runs", "2"])
    assert done.exit_code == 0, done.output
    assert "snapshots: 2 kept (2, 3), 2 expired (0, 1)" in done.stdout
    assert "files: 0 merged, 1 deleted, 0 wait for the 0-minute grace period" in done.stdout
    assert "disk: " in done.stdout
