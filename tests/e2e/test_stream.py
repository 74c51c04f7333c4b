"""``duckbook stream`` on the sample's dated deliveries (``data/sample-drops``): micro-batches pick
up delivery folders as they appear, publish marts identical to one ``duckbook run`` over the same
deliveries, show in the run log, stop on SIGTERM with code 0; a ``kill -9`` mid-batch (at the
commit, through the test hook) loses nothing, a reader reads the previous snapshot meanwhile, and
the run lock keeps every other writer out."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from duckbook import config, ops
from duckbook.engine import lock
from duckbook.run.session import PAUSE_BEFORE_COMMIT
from tests.e2e.conftest import DUCKBOOK, ROOT
from tests.e2e.conftest import duckbook as cli
from tests.pipeline import contents, read
from tests.replay_support import assert_same

pytestmark = pytest.mark.slow

DROPS = ROOT / "data" / "sample-drops"
DAYS = sorted(p for p in DROPS.iterdir() if p.is_dir())


def deliver(day: Path, source_dir: Path) -> None:
    """A delivery folder appears whole (copied aside, then renamed into place), with fresh mtimes."""
    aside = source_dir / f".incoming-{day.name}"
    aside.mkdir()
    for f in day.iterdir():
        shutil.copyfile(f, aside / f.name)
    aside.rename(source_dir / day.name)


def start(warehouse: Path, source_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [DUCKBOOK, "stream", "--warehouse", str(warehouse), "--source-dir", str(source_dir), *args]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )


def batches(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.is_file() else []


def wait_for(condition, what: str, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"stream exited ({proc.returncode}) while waiting for {what}:\n{proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}:\n{proc.communicate()}")
        time.sleep(0.1)


def order_count(con) -> int:
    return int(con.table("orders", database="marts").count().execute())


def tables(warehouse: Path) -> dict[str, list[tuple]]:
    """Every raw, staging, marts and metrics table, ordered, without run metadata: the stream and
    the run read the same deliveries from different folders, so ``_source_file`` differs too."""
    return {
        name: sorted((tuple(kv for kv in row if kv[0] != "_source_file") for row in rows), key=repr)
        for name, rows in contents(warehouse).items()
    }


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """Every delivery of the sample drops ingested by one `duckbook run`."""
    warehouse = tmp_path_factory.mktemp("one-run") / "warehouse"
    proc = cli("run", "--warehouse", str(warehouse), "-p", f"source_dir={DROPS}", "--stage", "+metrics")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tables(warehouse)


def test_stream_picks_up_folders_as_they_appear_and_equals_one_run(tmp_path, one_run):
    source_dir, warehouse, log = tmp_path / "drops", tmp_path / "warehouse", tmp_path / "stream.jsonl"
    source_dir.mkdir()
    reports = tmp_path / "reports"
    proc = start(warehouse, source_dir, "--trigger", "0.5s", "--log", str(log), "--reports-dir", str(reports))
    for n, day in enumerate(DAYS, start=1):
        deliver(day, source_dir)
        wait_for(lambda n=n: len(batches(log)) >= n, f"the micro-batch of {day.name}", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert f"stream stopped (signal): {len(DAYS)} batch(es) published" in out
    found = batches(log)
    assert [b["status"] for b in found] == ["published"] * len(DAYS)  # one micro-batch per folder
    assert found[0]["sources"]["raw_customers"] == [1, 937]
    assert all(b["models"] and 0 <= b["latency_max_s"] < 120 for b in found)
    assert_same(tables(warehouse), one_run, f"{len(DAYS)} micro-batches vs one duckbook run")
    runs = {r.run_id: r for r in read(warehouse, ops.runs)}
    assert sorted(runs) == sorted(b["run_id"] for b in found)
    assert all(r.status == "success" and r.snapshot_id is not None for r in runs.values())
    page = (reports / "runs.html").read_text(encoding="utf-8")  # written when the stream ended
    assert all(run_id in page for run_id in runs)


def test_kill_9_mid_batch_loses_nothing_and_never_blocks_readers(tmp_path, one_run):
    source_dir, warehouse = tmp_path / "drops", tmp_path / "warehouse"
    source_dir.mkdir()
    for day in DAYS[:2]:
        deliver(day, source_dir)
    first = cli("stream", "--warehouse", str(warehouse), "--source-dir", str(source_dir), "--until-idle")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "stream stopped (idle): 1 batch(es) published from 2 trigger(s)" in first.stdout
    orders_before = read(warehouse, order_count)
    for day in DAYS[2:]:
        deliver(day, source_dir)
    events = tmp_path / "events.jsonl"
    proc = start(warehouse, source_dir, env={PAUSE_BEFORE_COMMIT: "120", "DUCKBOOK_EVENTS": str(events)})

    def at_commit() -> bool:  # the metrics stage published into the batch's transaction: it sleeps before the commit
        return events.is_file() and '"schema": "metrics"' in events.read_text(encoding="utf-8")

    wait_for(at_commit, "the batch to reach its commit", proc)
    t0 = time.monotonic()
    assert read(warehouse, order_count) == orders_before  # a reader during the batch: the last snapshot
    assert time.monotonic() - t0 < 20
    with pytest.raises(lock.RunLocked, match="stream stream-"):
        lock.acquire(config.load(warehouse=str(warehouse)).lock_file, "test")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    again = cli("stream", "--warehouse", str(warehouse), "--source-dir", str(source_dir), "--until-idle")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 batch(es) published" in again.stdout
    assert_same(tables(warehouse), one_run, "a stream killed mid-batch and restarted vs one duckbook run")
    assert [r.status for r in read(warehouse, ops.runs)] == ["success", "success"]  # the killed batch: no trace
