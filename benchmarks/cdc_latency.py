"""End-to-end CDC latency: from an order's PostgreSQL commit to a reader seeing it in marts.orders
(``python -m benchmarks.cdc_latency``).

Starts a private PostgreSQL 15 (scripts/postgres.sh), creates and seeds the operational Jaffle Shop
database from data/sample (:mod:`jaffle_shop.operational`), and points the project at it with
lib/jaffle_shop/sources_cdc.yml. ``duckbook stream --until-idle`` takes the initial snapshot and
builds every model; then ``duckbook stream --trigger 1s`` runs while a writer commits orders at a
steady rate and a reader polls marts.orders, each poll a new read-only ``duckbook.connect`` (a
reader is pinned to the snapshot it opened). An order's latency is the time from its ``COMMIT``
returning to the end of the first poll that shows it: what a reader waits. The target is a median
under 3 triggers. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.postgres import start_server, stop_server

import duckbook
from benchmarks.common import DUCKBOOK, ROOT
from jaffle_shop.operational import Change, Writer, create_schema, seed

PROJECT_FILES = "lib/jaffle_shop/sources_cdc.yml,lib/jaffle_shop/models.yml,lib/jaffle_shop/semantic_models.yml"
#: how long after the last commit the reader waits for the last orders
DRAIN_SECONDS = 60
#: the least time between two polls: a reader attaching back to back would take a core from the stream
POLL_GAP_S = 0.2


def _epoch(at: dt.datetime) -> float:
    return at.replace(tzinfo=dt.UTC).timestamp()


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] if len(values) > 1 else values[0]


def _poll(warehouse: Path, seen: dict[str, float]) -> None:
    """One reader: note the time each order id of marts.orders is first seen."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        ids = con.raw_sql("SELECT order_id FROM marts.orders").fetchall()
    finally:
        con.disconnect()
    now = time.time()
    for (order_id,) in ids:
        seen.setdefault(order_id, now)


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").strip().splitlines()[-20:])


def measure(work: Path, *, seconds: float, rate: float, trigger: float) -> dict[str, float | int]:
    """Stream for ``seconds`` while ``rate`` orders a second commit; return the latency summary."""
    base = Path(tempfile.mkdtemp(prefix="dbpg-", dir="/tmp"))  # short: the socket lives in it
    warehouse, log_file = work / f"cdc-wh-{time.monotonic_ns()}", work / "stream.log"
    stream = None
    log = log_file.open("w")
    try:
        dsn = start_server(base)
        create_schema(dsn)
        seed(dsn, ROOT / "data" / "sample")
        env = {
            **os.environ,
            "DUCKBOOK_PROJECT_FILES": PROJECT_FILES,
            "JAFFLE_PG_DSN": dsn,
            "DUCKBOOK_WAREHOUSE": str(warehouse),
            "DUCKBOOK_REPORTS_DIR": str(work / "cdc-reports"),
        }
        warm = subprocess.run([DUCKBOOK, "stream", "--until-idle"], cwd=ROOT, env=env, stdout=log, stderr=log)
        if warm.returncode != 0:
            raise SystemExit(f"`duckbook stream --until-idle` failed ({warm.returncode}):\n{_tail(log_file)}")
        stream = subprocess.Popen(
            [DUCKBOOK, "stream", "--trigger", f"{trigger:g}s"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        seen: dict[str, float] = {}
        _poll(warehouse, seen)  # the snapshot's orders: not measured
        time.sleep(max(5.0, 3 * trigger))  # the stream process is up and idle
        changes: list[Change] = []
        with Writer(dsn, seed=0, mix={"order": 1}) as writer:
            thread = threading.Thread(target=lambda: changes.extend(writer.run(rate, seconds)))
            thread.start()
            polls = []
            deadline = None
            while deadline is None or time.monotonic() < deadline:
                started = time.monotonic()
                if stream.poll() is not None:
                    raise SystemExit(f"`duckbook stream` exited ({stream.returncode}):\n{_tail(log_file)}")
                _poll(warehouse, seen)
                polls.append(time.monotonic() - started)
                time.sleep(max(0.0, POLL_GAP_S - polls[-1]))
                if deadline is None and not thread.is_alive():
                    deadline = time.monotonic() + DRAIN_SECONDS
                if deadline is not None and all(c.key in seen for c in changes):
                    break
            thread.join()
        latencies = sorted(seen[c.key] - _epoch(c.committed_at) for c in changes if c.key in seen)
        if not latencies:
            raise SystemExit(
                f"no order reached marts.orders within {DRAIN_SECONDS}s; the stream said:\n{_tail(log_file)}"
            )
        median = statistics.median(latencies)
        return {
            "orders": len(changes),
            "seen": len(latencies),
            "rate_per_s": rate,
            "trigger_s": trigger,
            "latency_median_s": round(median, 3),
            "latency_p90_s": round(_quantile(latencies, 0.9), 3),
            "latency_max_s": round(latencies[-1], 3),
            "latency_median_triggers": round(median / trigger, 2),
            "poll_median_s": round(statistics.median(polls), 3),
        }
    finally:
        if stream is not None:
            stream.send_signal(signal.SIGINT)  # a clean stop after the batch in progress
            try:
                stream.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stream.kill()
        log.close()
        stop_server(base)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(warehouse, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="how long the writer commits orders")
    parser.add_argument("--rate", type=float, default=2, help="orders committed per second")
    parser.add_argument("--trigger", type=float, default=1, help="the stream's trigger in seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duckbook-bench-") as tmp:
        print(json.dumps(measure(Path(tmp), seconds=args.seconds, rate=args.rate, trigger=args.trigger)))


if __name__ == "__main__":
    main()
