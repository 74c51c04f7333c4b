"""One pipeline run on the committed sample, shared by the end-to-end and browser tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DUCKBOOK = str(Path(sys.executable).with_name("duckbook"))
SAMPLE_ROWS = {
    "raw_customers": 937,
    "raw_orders": 6771,
    "raw_items": 10161,
    "raw_products": 10,
    "raw_stores": 6,
    "raw_supplies": 65,
}


def duckbook(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DUCKBOOK, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """`duckbook run` then `duckbook docs` into a temporary warehouse and reports directory."""
    base = tmp_path_factory.mktemp("e2e")
    warehouse, reports = base / "warehouse", base / "reports"
    proc = duckbook("run", "--warehouse", str(warehouse), "--reports-dir", str(reports), "-p", "run_date=2019-08-11")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = duckbook("docs", "--warehouse", str(warehouse), "--reports-dir", str(reports))
    assert docs.returncode == 0, docs.stdout + docs.stderr
    return {"warehouse": warehouse, "reports": reports, "stdout": proc.stdout, "base": base}
