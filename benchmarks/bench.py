"""Benchmark harness (``make bench``): the full duckbook run against a hand-written SQL floor.

Both run in child processes of this one, on the same raw files, in the same invocation:

* floor: ``floor.sql`` (load the six CSVs, build the same staging and mart tables) executed by
  DuckDB into a fresh database file; timed around the SQL only (the best case a pipeline could
  reach), and as a whole process;
* full run: ``duckbook run`` (all stages, contracts, checks, metrics, the report) into a fresh
  warehouse, timed as wall clock of the command, with per-stage seconds from its run log.

It prints a table and the ratio full_run / floor, and writes benchmarks/results/<time>.json.
Timings on shared 2-core machines are noisy: compare ratios from the same invocation only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_FLOOR_CHILD = """
import sys, time, duckdb
sql = open(sys.argv[1]).read().replace("{source}", sys.argv[2])
con = duckdb.connect(sys.argv[3])
con.execute("SET enable_progress_bar = false")  # long queries would print a bar on stdout
t = time.perf_counter()
con.execute(sql)
con.execute("CHECKPOINT")
print(time.perf_counter() - t)
"""


def run_floor(source: Path, work: Path) -> tuple[float, float]:
    """Return (SQL seconds, process seconds) of one floor run."""
    db = work / f"floor-{time.monotonic_ns()}.duckdb"
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _FLOOR_CHILD, str(HERE / "floor.sql"), str(source), str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t


def disk_bytes(path: Path) -> int:
    """Bytes under ``path`` (a warehouse root directory, or a database file)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_full(source: Path, work: Path) -> tuple[float, dict[str, float], int]:
    """Return (wall seconds, {stage: seconds}, warehouse bytes) of one full ``duckbook run``."""
    tag = time.monotonic_ns()
    warehouse, reports = work / f"wh-{tag}.duckdb", work / f"reports-{tag}"
    cmd = [
        str(Path(sys.executable).with_name("duckbook")),
        "run",
        "-p",
        f"source_dir={source}",
        "--warehouse",
        str(warehouse),
        "--reports-dir",
        str(reports),
    ]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    log = json.loads(next((reports / "runs").glob("*/run_log.json")).read_text())
    return wall, {row["stage"]: float(row["duration_s"]) for row in log}, disk_bytes(warehouse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=ROOT / "data" / "jaffle-1y", help="raw-data directory (jafgen output)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median is reported")
    args = parser.parse_args()
    source = args.source.resolve()
    if not (source / "raw_orders.csv").is_file():
        sys.exit(f"{source} has no raw_orders.csv: run `make data YEARS=1` first")

    with tempfile.TemporaryDirectory(prefix="duckbook-bench-") as tmp:
        work = Path(tmp)
        floors, fulls = [], []
        for _ in range(args.repeat):  # interleaved, so machine noise hits both sides alike
            floors.append(run_floor(source, work))
            fulls.append(run_full(source, work))

    floor_sql = statistics.median(f[0] for f in floors)
    floor_proc = statistics.median(f[1] for f in floors)
    full_wall = statistics.median(f[0] for f in fulls)
    stages = {name: statistics.median(f[1][name] for f in fulls) for name in fulls[0][1]}
    disk = statistics.median(f[2] for f in fulls)
    result = {
        "source": str(source),
        "repeat": args.repeat,
        "floor_sql_s": round(floor_sql, 3),
        "floor_process_s": round(floor_proc, 3),
        "full_run_s": round(full_wall, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "warehouse_mb": round(disk / 1e6, 1),
        "ratio_full_run_over_floor_sql": round(full_wall / floor_sql, 2),
        "ratio_full_run_over_floor_process": round(full_wall / floor_proc, 2),
    }
    print(f"source: {source}  (median of {args.repeat})")
    for name, seconds in stages.items():
        print(f"  stage {name:<24} {seconds:7.2f} s")
    print(f"  full run (wall)                {full_wall:7.2f} s")
    print(f"  floor SQL                      {floor_sql:7.2f} s   (process {floor_proc:.2f} s)")
    print(f"  warehouse on disk              {disk / 1e6:7.1f} MB")
    print(f"ratio full_run / floor_sql     = {result['ratio_full_run_over_floor_sql']:.2f}   (target <= 8)")
    print(f"ratio full_run / floor_process = {result['ratio_full_run_over_floor_process']:.2f}")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
