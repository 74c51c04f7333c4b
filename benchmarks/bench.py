"""Benchmark harness (``make bench``): the full duckbook run against a hand-written SQL floor, and
a daily run against a full refresh.

Every run is a child process of this one, in the same invocation. Sections (``--section``,
repeatable; default: all):

* ``full``: on a jafgen dataset (``--source``),

  - floor: ``floor.sql`` (load the six CSVs, build the same staging and mart tables) executed by
    DuckDB into a fresh database file; timed around the SQL only (the best case a pipeline could
    reach), and as a whole process;
  - full run: ``duckbook run`` (all stages, contracts, checks, metrics, the report) into a fresh
    warehouse, timed as wall clock of the command, with per-stage seconds from its run log.

  It prints a table and the ratio full_run / floor.
* ``rerun`` and ``report_change``: on the same dataset as ``full``, a second run with identical
  arguments after a full one, with nothing changed or with a comment appended to a copy of one
  report notebook; the ratio to the floor (:mod:`benchmarks.rerun`).
* ``daily``: on a jafgen dataset split into daily deliveries (``--daily-source``), one daily run
  against a full refresh of a warehouse holding all but the last month, and a full load from
  scratch, with the floor on the same dataset (:mod:`benchmarks.daily`).
* ``cdc``: on a private PostgreSQL 15 (scripts/postgres.sh), CDC landing throughput for
  ``--cdc-changes`` changes against the server's own decoding of them (:mod:`benchmarks.cdc`;
  target >= 40,000 rows/s), and end-to-end latency from an order's commit in the operational
  Jaffle Shop database to a reader seeing it in marts.orders under ``duckbook stream --trigger 1s``
  (:mod:`benchmarks.cdc_latency`; target: a median under 3 triggers).

Results go to benchmarks/results/<time>.json (one key per section).
Timings on shared 2-core machines are noisy: compare ratios from the same invocation only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import cdc, cdc_latency, daily, rerun
from benchmarks.common import HERE, ROOT, disk_bytes, run_floor, timed_run

SECTIONS = ("full", "rerun", "report_change", "daily", "cdc")


def run_full(source: Path, work: Path) -> tuple[float, dict[str, float], int]:
    """Return (wall seconds, {stage: seconds}, warehouse bytes) of one full ``duckbook run``."""
    tag = time.monotonic_ns()
    warehouse, reports = work / f"wh-{tag}.duckdb", work / f"reports-{tag}"
    wall, stages, _ = timed_run(["-p", f"source_dir={source}"], warehouse, reports)
    return wall, stages, disk_bytes(warehouse)


def bench_full(source: Path, work: Path, repeat: int) -> dict[str, object]:
    """The ``full`` section: print its table and return its result."""
    floors, fulls = [], []
    for _ in range(repeat):  # interleaved, so machine noise hits both sides alike
        floors.append(run_floor(source, work))
        fulls.append(run_full(source, work))

    floor_sql = statistics.median(f[0] for f in floors)
    floor_proc = statistics.median(f[1] for f in floors)
    full_wall = statistics.median(f[0] for f in fulls)
    stages = {name: statistics.median(f[1][name] for f in fulls) for name in fulls[0][1]}
    disk = statistics.median(f[2] for f in fulls)
    result = {
        "source": str(source),
        "repeat": repeat,
        "floor_sql_s": round(floor_sql, 3),
        "floor_process_s": round(floor_proc, 3),
        "full_run_s": round(full_wall, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "warehouse_mb": round(disk / 1e6, 1),
        "ratio_full_run_over_floor_sql": round(full_wall / floor_sql, 2),
        "ratio_full_run_over_floor_process": round(full_wall / floor_proc, 2),
    }
    print(f"source: {source}  (median of {repeat})")
    for name, seconds in stages.items():
        print(f"  stage {name:<24} {seconds:7.2f} s")
    print(f"  full run (wall)                {full_wall:7.2f} s")
    print(f"  floor SQL                      {floor_sql:7.2f} s   (process {floor_proc:.2f} s)")
    print(f"  warehouse on disk              {disk / 1e6:7.1f} MB")
    print(
        f"ratio full_run / floor_sql     = {result['ratio_full_run_over_floor_sql']:.2f}   (target <= 6, 3 on 3 years)"
    )
    print(f"ratio full_run / floor_process = {result['ratio_full_run_over_floor_process']:.2f}")
    return result


def bench_cdc(work: Path, changes: int, latency_seconds: float) -> dict[str, object]:
    """The ``cdc`` section: print its lines and return its result."""
    landing = cdc.measure(changes, 50_000)
    latency = cdc_latency.measure(work, seconds=latency_seconds, rate=2, trigger=1)
    print(f"CDC landing: {landing['changes']} changes in {landing['seconds']:.2f} s")
    print(f"  rows/s landed                  {landing['rows_per_s']:7d}   (target >= 40000)")
    print(f"  server decoding alone          {landing['floor_decode_s']:7.2f} s")
    print(f"ratio landing / decoding       = {landing['ratio_landing_over_decode']:.2f}")
    print(f"CDC end to end (stream --trigger 1s, {latency['orders']} orders, {latency['seen']} seen)")
    print(
        f"  commit -> marts.orders median  {latency['latency_median_s']:7.2f} s   p90 {latency['latency_p90_s']:.2f} s"
    )
    print(f"  median in triggers             {latency['latency_median_triggers']:7.2f}     (target < 3)")
    return {"landing": landing, "latency": latency}


def _jafgen(path: Path, years: int) -> Path:
    path = path.resolve()
    if not (path / "raw_orders.csv").is_file():
        sys.exit(f"{path} has no raw_orders.csv: run `make data YEARS={years}` first")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=ROOT / "data" / "jaffle-1y", help="raw-data directory (jafgen output)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median is reported")
    parser.add_argument(
        "--section", action="append", choices=SECTIONS, help="run only this section (repeatable; default: all)"
    )
    parser.add_argument(
        "--daily-source", type=Path, default=ROOT / "data" / "jaffle-3y", help="the daily section's jafgen dataset"
    )
    parser.add_argument("--daily-repeat", type=int, default=3, help="daily runs and full refreshes; the median")
    parser.add_argument("--seed", type=int, default=0, help="`duckbook drops --seed` of the daily section")
    parser.add_argument("--cdc-changes", type=int, default=100_000, help="changes the cdc section lands")
    parser.add_argument("--latency-seconds", type=float, default=30, help="how long the cdc section's writer writes")
    parser.add_argument("--late-fraction", type=float, default=0.02, help="`duckbook drops --late-fraction`")
    parser.add_argument(
        "--catch-up-days",
        type=int,
        default=daily.CATCH_UP_DAYS,
        help="deliveries per catch-up run loading the daily section's start state (0: one run)",
    )
    args = parser.parse_args()
    sections = args.section or SECTIONS
    needs_source = {"full", "rerun", "report_change"} & set(sections)
    sources = {
        "full": _jafgen(args.source, 1) if needs_source else None,
        "daily": _jafgen(args.daily_source, 3) if "daily" in sections else None,
    }

    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="duckbook-bench-") as tmp:
        work = Path(tmp)
        if sources["full"] and "full" in sections:
            result["full"] = bench_full(sources["full"], work, args.repeat)
        for section in ("rerun", "report_change"):
            if sources["full"] and section in sections:
                result[section] = rerun.bench(section, sources["full"], work, args.repeat)
        if sources["daily"]:
            measured = daily.bench(
                sources["daily"],
                work,
                repeat=args.daily_repeat,
                seed=args.seed,
                late_fraction=args.late_fraction,
                catch_up_days=args.catch_up_days,
            )
            print("\n".join(daily.report(measured)))
            result["daily"] = measured.as_json()
        if "cdc" in sections:
            result["cdc"] = bench_cdc(work, args.cdc_changes, args.latency_seconds)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
