"""One pipeline run on the committed sample, shared by the end-to-end and browser tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
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


@pytest.fixture
def shop(postgres_dsn: str) -> Iterator[str]:
    """The Jaffle Shop's operational database, seeded from data/sample in a fresh database on the
    test server (dropped with its slots at the end); its DSN."""
    import uuid

    import psycopg

    from jaffle_shop.operational import create_schema, seed
    from tests.postgres import parse_dsn

    name = f"jaffle_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    dsn = " ".join(f"{k}={name if k == 'dbname' else v}" for k, v in parse_dsn(postgres_dsn).items())
    create_schema(dsn)
    seed(dsn, ROOT / "data" / "sample")
    yield dsn
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s", (name,))
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
