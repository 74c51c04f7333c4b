"""What every section of ``make bench`` shares: the SQL floor, the ``duckbook`` command, bytes on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DUCKBOOK = str(Path(sys.executable).with_name("duckbook"))

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
    """Return (SQL seconds, process seconds) of one floor run on the jafgen files in ``source``."""
    db = work / f"floor-{time.monotonic_ns()}.duckdb"
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _FLOOR_CHILD, str(HERE / "floor.sql"), str(source), str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t
    db.unlink(missing_ok=True)  # a 3-year floor database is hundreds of MB
    return float(out.stdout.strip().splitlines()[-1]), seconds


def disk_bytes(path: Path) -> int:
    """Bytes under ``path`` (a warehouse root directory, or a database file); 0 if it does not exist."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def duckbook(args: Sequence[str]) -> str:
    """Run ``duckbook ARGS`` from the project root and return its output; exit naming the
    command and the tail of its output if it fails."""
    out = subprocess.run([DUCKBOOK, *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-20:])
        sys.exit(f"`duckbook {' '.join(args)}` failed with exit code {out.returncode}:\n{tail}")
    return out.stdout


def timed_run(args: Sequence[str], warehouse: Path, reports: Path) -> tuple[float, dict[str, float], Path]:
    """Return (wall seconds, {stage: seconds}, the run's directory) of one ``duckbook run ARGS``
    into ``warehouse``, with its reports in ``reports`` (a fresh directory: it then holds one run)."""
    t = time.perf_counter()
    duckbook(["run", *args, "--warehouse", str(warehouse), "--reports-dir", str(reports)])
    wall = time.perf_counter() - t
    log_file = next((reports / "runs").glob("*/run_log.json"))
    log = json.loads(log_file.read_text())
    return wall, {row["stage"]: float(row["duration_s"]) for row in log}, log_file.parent
