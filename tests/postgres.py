"""A private PostgreSQL 15 server for the tests, and a DuckLake-on-PostgreSQL smoke check.

``scripts/postgres.sh`` installs Debian's ``postgresql-15`` when it is missing (as root) and
starts a throw-away cluster that listens on a unix socket only. The session fixture
:func:`postgres_dsn` starts one under a short ``/tmp/dbpg-*`` directory (unix socket paths are
limited to 107 bytes), yields its libpq connection string and stops it at the end of the session.
When the server cannot be installed or started the fixture fails with the script's message,
unless ``DUCKBOOK_SKIP_POSTGRES=1`` is set: then it skips with that message.

Tests that use it are marked ``postgres`` (and ``slow``); the marker is registered by
``pytest_configure`` below when this module is a plugin (``-p tests.postgres``), or in
pyproject.toml.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "postgres.sh"
PGBIN = Path("/usr/lib/postgresql/15/bin")
SKIP_ENV = "DUCKBOOK_SKIP_POSTGRES"
MARKER = "postgres: needs a local PostgreSQL 15 server, started by scripts/postgres.sh (DUCKBOOK_SKIP_POSTGRES=1 skips)"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL 15 could not be installed or started; the message is the script's."""


def _script(*args: str, timeout: float) -> str:
    try:
        proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresUnavailable(f"scripts/postgres.sh {' '.join(args)}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr + proc.stdout).strip()
        raise PostgresUnavailable(f"scripts/postgres.sh {' '.join(args)} exited {proc.returncode}: {detail}")
    return proc.stdout


def start_server(base: Path) -> str:
    """Install PostgreSQL 15 if needed, start a cluster in ``base`` and return its DSN.

    ``base`` must be empty or a cluster made by an earlier call; as root it is handed to the
    ``postgres`` user (initdb refuses root). Idempotent: a running server is reused.
    """
    _script("install", timeout=1800)
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    lines = _script("start", str(base), timeout=180).strip().splitlines()
    if not lines or not lines[-1].startswith("host="):
        raise PostgresUnavailable(f"scripts/postgres.sh start {base} printed no connection string: {lines}")
    return lines[-1]


def stop_server(base: Path) -> None:
    """Stop the server of ``base`` (fast shutdown); nothing happens when it is not running."""
    _script("stop", str(base), timeout=120)


def parse_dsn(dsn: str) -> dict[str, str]:
    """The ``key=value`` pairs of a libpq connection string without quoting.

    >>> parse_dsn("host=/tmp/dbpg-x port=5433 dbname=duckbook user=postgres")["port"]
    '5433'
    """
    return dict(part.split("=", 1) for part in dsn.split())


def psql(dsn: str, sql: str) -> str:
    """Run ``sql`` with PostgreSQL 15's psql over the unix socket; return unaligned tuples-only output."""
    p = parse_dsn(dsn)
    cmd = [str(PGBIN / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-tA"]
    cmd += ["-h", p["host"], "-p", p["port"], "-d", p["dbname"], "-U", p["user"], "-c", sql]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def sql(dsn: str, *statements: str) -> None:
    """Run each statement in its own transaction (psycopg, autocommit)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        for statement in statements:
            con.execute(statement)  # type: ignore[arg-type]


def drop_schema_and_slots(dsn: str, schema: str) -> None:
    """Drop the replication slots whose names end in ``schema`` (a test names them so), then the schema."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        for (slot,) in con.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s", (f"%{schema}",)
        ):
            con.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL 15 server private to this test session (database ``duckbook``)."""
    base = Path(tempfile.mkdtemp(prefix="dbpg-", dir="/tmp"))  # short: the socket lives in it
    try:
        dsn = start_server(base)
    except PostgresUnavailable as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        with contextlib.suppress(PostgresUnavailable):
            stop_server(base)
        shutil.rmtree(base, ignore_errors=True)
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"PostgreSQL unavailable ({SKIP_ENV}=1): {problem}")
        pytest.fail(f"{problem}\n(set {SKIP_ENV}=1 to skip the PostgreSQL tests instead)", pytrace=False)
    try:
        yield dsn
    finally:
        try:
            stop_server(base)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


# -- DuckLake with its catalog on PostgreSQL ----------------------------------------------------


def duckdb_connect(**config: Any) -> Any:
    """A DuckDB connection with the ducklake and postgres extensions loaded.

    The extensions come from the offline ``duckdb-ext-*`` wheels (``duckdb_ext``) when installed,
    which exist for DuckDB 1.4.4 only; nothing is downloaded.
    """
    import duckdb

    try:
        import duckdb_ext  # type: ignore[import-not-found]
    except ImportError:
        duckdb_ext = None
    if duckdb_ext is not None:
        config = {
            "extension_directory": duckdb_ext.get_extension_dir(),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_unsigned_extensions": True,
            **config,
        }
    con = duckdb.connect(config=config)
    try:
        con.execute("LOAD ducklake; LOAD postgres")
    except duckdb.Error as exc:
        con.close()
        raise RuntimeError(
            f"DuckDB {duckdb.__version__} cannot load the ducklake/postgres extensions ({exc}); "
            "they exist offline only for DuckDB 1.4.4 (duckdb-ext, duckdb-ext-ducklake, duckdb-ext-postgres)"
        ) from exc
    return con


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def attach_lake_sql(dsn: str, alias: str, *, data_dir: Path | None = None, schema: str, read_only: bool = False) -> str:
    """``ATTACH 'ducklake:postgres:<dsn>' AS alias (...)`` with the catalog in PostgreSQL schema ``schema``."""
    options = [f"METADATA_SCHEMA {_sql_str(schema)}"]
    if data_dir is not None:
        options.append(f"DATA_PATH {_sql_str(str(data_dir).rstrip('/') + '/')}")
    if read_only:
        options.append("READ_ONLY")
    return f"ATTACH {_sql_str('ducklake:postgres:' + dsn)} AS {alias} ({', '.join(options)})"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def ducklake_postgres_smoke(dsn: str, data_dir: Path, *, schema: str | None = None) -> dict[str, Any]:
    """Exercise a DuckLake whose catalog lives in PostgreSQL, in the imported DuckDB.

    Creates a lake (catalog in PostgreSQL schema ``schema``, a fresh one by default; data files
    under ``data_dir``), a schema and two tables; checks that a two-table transaction is exactly
    one snapshot, that a rolled-back one leaves none, that a read-only attach from a second
    connection works (and sees only committed data) while the first holds an open write
    transaction, and time travel; detaches. Raises AssertionError on any mismatch; returns what
    it saw.
    """
    schema = schema or f"lake_{uuid.uuid4().hex[:12]}"
    data_dir.mkdir(parents=True, exist_ok=True)
    writer = duckdb_connect()
    reader = None
    try:
        writer.execute(attach_lake_sql(dsn, "lake", data_dir=data_dir, schema=schema))
        writer.execute("CREATE SCHEMA lake.shop")
        writer.execute("CREATE TABLE lake.shop.customers (id INTEGER, name VARCHAR)")
        writer.execute("CREATE TABLE lake.shop.orders (id INTEGER, customer_id INTEGER, amount DECIMAL(10, 2))")
        writer.execute("INSERT INTO lake.shop.customers VALUES (1, 'ann')")

        def last_snapshot() -> int:
            return writer.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]

        before = last_snapshot()
        writer.execute("BEGIN")
        writer.execute("INSERT INTO lake.shop.customers VALUES (2, 'bob')")
        writer.execute("INSERT INTO lake.shop.orders VALUES (10, 1, 9.50), (11, 2, 20.25)")
        writer.execute("COMMIT")
        published = last_snapshot()
        _check(published == before + 1, f"a two-table transaction made snapshots {before}..{published}, not one")
        changes = writer.execute(
            "SELECT changes FROM ducklake_snapshots('lake') WHERE snapshot_id = ?", [published]
        ).fetchone()[0]
        _check(len(changes.get("tables_inserted_into", [])) == 2, f"snapshot {published} changed {changes}")

        writer.execute("BEGIN")
        writer.execute("INSERT INTO lake.shop.customers VALUES (3, 'cy')")
        writer.execute("INSERT INTO lake.shop.orders VALUES (12, 3, 1.00)")
        writer.execute("ROLLBACK")
        _check(last_snapshot() == published, "a rolled-back transaction made a snapshot")

        totals = writer.execute(
            "SELECT c.name, sum(o.amount) FROM lake.shop.customers c JOIN lake.shop.orders o "
            "ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name"
        ).fetchall()
        _check([(n, float(a)) for n, a in totals] == [("ann", 9.5), ("bob", 20.25)], f"read back {totals}")

        # a reader attaches read-only while the writer holds an open transaction with a pending insert
        writer.execute("BEGIN")
        writer.execute("INSERT INTO lake.shop.orders VALUES (13, 1, 5.00)")
        reader = duckdb_connect()
        reader.execute(attach_lake_sql(dsn, "lake_ro", schema=schema, read_only=True))
        seen_during = reader.execute("SELECT count(*) FROM lake_ro.shop.orders").fetchone()[0]
        _check(seen_during == 2, f"the reader saw {seen_during} orders during the open transaction, not 2")
        writer.execute("COMMIT")
        seen_after = reader.execute("SELECT count(*) FROM lake_ro.shop.orders").fetchone()[0]
        _check(seen_after == 3, f"the reader saw {seen_after} orders after the commit, not 3")
        at_publish = f"SELECT count(*) FROM lake_ro.shop.orders AT (VERSION => {published})"
        travelled = reader.execute(at_publish).fetchone()[0]
        _check(travelled == 2, f"time travel to snapshot {published} saw {travelled} orders, not 2")

        # the catalog really is in PostgreSQL
        writer.execute(f"ATTACH {_sql_str(dsn)} AS pg (TYPE postgres, READ_ONLY)")
        in_postgres = writer.execute(f"SELECT count(*) FROM pg.{schema}.ducklake_snapshot").fetchone()[0]
        snapshots = writer.execute("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0]
        _check(in_postgres == snapshots, f"PostgreSQL holds {in_postgres} snapshots, DuckLake lists {snapshots}")
        writer.execute("DETACH pg")

        reader.execute("DETACH lake_ro")
        writer.execute("DETACH lake")
        files = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*.parquet"))
        _check(bool(files), f"no Parquet files under {data_dir}")
        return {
            "schema": schema,
            "snapshot": published,
            "snapshots": snapshots,
            "totals": totals,
            "reader_saw": (seen_during, seen_after),
            "files": files,
        }
    finally:
        if reader is not None:
            reader.close()
        writer.close()
