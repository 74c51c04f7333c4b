"""The private PostgreSQL 15 server of scripts/postgres.sh, and DuckLake with its catalog on it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.postgres import ducklake_postgres_smoke, parse_dsn, psql, start_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DUCKLAKE_DUCKDB = "1.4.4"  # the only DuckDB with offline ducklake/postgres extension wheels


def test_server_answers_on_its_unix_socket_only(postgres_dsn: str) -> None:
    dsn = parse_dsn(postgres_dsn)
    assert dsn["dbname"] == "duckbook" and dsn["user"] == "postgres"
    assert psql(postgres_dsn, "SELECT 1") == "1"
    assert psql(postgres_dsn, "SHOW server_version_num").startswith("15")
    assert psql(postgres_dsn, "SHOW listen_addresses") == ""
    assert psql(postgres_dsn, "SHOW unix_socket_directories") == dsn["host"]
    assert Path(dsn["host"], f".s.PGSQL.{dsn['port']}").is_socket()


def test_start_is_idempotent(postgres_dsn: str) -> None:
    assert start_server(Path(parse_dsn(postgres_dsn)["host"])) == postgres_dsn
    assert psql(postgres_dsn, "SELECT count(*) FROM pg_database WHERE datname = 'duckbook'") == "1"


@pytest.mark.skipif(
    duckdb.__version__ != DUCKLAKE_DUCKDB,
    reason=f"DuckLake on PostgreSQL needs DuckDB {DUCKLAKE_DUCKDB} (the only version with the offline "
    f"ducklake/postgres extension wheels); this is DuckDB {duckdb.__version__}",
)
def test_ducklake_with_postgres_catalog(postgres_dsn: str, tmp_path: Path) -> None:
    seen = ducklake_postgres_smoke(postgres_dsn, tmp_path / "lake")
    assert seen["reader_saw"] == (2, 3)
    assert {f.split("/")[1] for f in seen["files"]} == {"customers", "orders"}
    # the catalog tables are in their own PostgreSQL schema of database duckbook
    tables = psql(postgres_dsn, f"SELECT count(*) FROM pg_tables WHERE schemaname = '{seen['schema']}'")
    assert int(tables) >= 20
