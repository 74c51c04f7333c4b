"""CDC landing throughput: rows landed per second for N changes (``python -m benchmarks.cdc``).

Starts a private PostgreSQL 15 with wal2json (scripts/postgres.sh) in a temp directory, snapshots
an empty table, writes N changes (inserts in transactions of 1,000 rows, then updates of a tenth
of them), and times the consumer landing them all (peek, parse, Parquet, advance), then stops the
server. The floor, measured on the same changes in the same run: the server alone decoding them
for a second slot with the consumer's wal2json options, read and discarded (``peek_changes``).
Prints one JSON line. The issue's target is at least 40,000 rows/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
from tests.postgres import start_server, stop_server

from duckbook.ingest.cdc import CdcSource, Consumer, _plugin_options

FLOOR_SLOT = "bench_floor"


def measure(changes: int, batch_changes: int) -> dict[str, float | int]:
    """Land ``changes`` changes and return the rows, seconds and rows per second."""
    base = Path(tempfile.mkdtemp(prefix="dbpg-", dir="/tmp"))
    try:
        dsn = start_server(base)
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("DROP TABLE IF EXISTS bench_orders")
            con.execute(
                "CREATE TABLE bench_orders (id int PRIMARY KEY, customer text, amount numeric(12,2), at timestamptz)"
            )
        src = CdcSource("bench", dsn, ("public.bench_orders",), base / "raw", batch_changes=batch_changes)
        with Consumer(src) as consumer:
            consumer.start()
            with psycopg.connect(dsn, autocommit=True) as con:  # the floor's slot sees the same changes
                con.execute("SELECT pg_create_logical_replication_slot(%s, 'wal2json')", (FLOOR_SLOT,))
            inserts = changes - changes // 10
            with psycopg.connect(dsn, autocommit=True) as con:
                for lo in range(0, inserts, 1000):
                    con.execute(
                        "INSERT INTO bench_orders SELECT g, 'customer ' || g, g / 100.0, now() "
                        "FROM generate_series(%s::int, %s::int) g",
                        (lo, min(lo + 1000, inserts) - 1),
                    )
                con.execute(
                    "UPDATE bench_orders SET amount = amount + 1 WHERE id %% 9 = 0 AND id < %s", (changes // 10 * 9,)
                )
            started = time.perf_counter()
            batches = consumer.run_until_idle()
            seconds = time.perf_counter() - started
        floor = _floor_seconds(dsn, src.tables)
        rows = sum(b.events for b in batches)
        return {
            "changes": rows,
            "batches": len(batches),
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds),
            "floor_decode_s": round(floor, 3),
            "ratio_landing_over_decode": round(seconds / floor, 2),
        }
    finally:
        stop_server(base)
        shutil.rmtree(base, ignore_errors=True)


def _floor_seconds(dsn: str, tables: tuple[str, ...]) -> float:
    """Seconds the server takes to decode the floor slot's changes for a client that keeps none."""
    options = _plugin_options(tables)
    peek = "SELECT count(*) FROM pg_logical_slot_peek_changes(%s, NULL, NULL, " + ", ".join(["%s"] * len(options))
    with psycopg.connect(dsn, autocommit=True) as con:
        started = time.perf_counter()
        con.execute(peek + ")", (FLOOR_SLOT, *options)).fetchone()
        seconds = time.perf_counter() - started
        con.execute("SELECT pg_drop_replication_slot(%s)", (FLOOR_SLOT,))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--batch-changes", type=int, default=50_000)
    args = parser.parse_args()
    print(json.dumps(measure(args.changes, args.batch_changes)))


if __name__ == "__main__":
    main()
