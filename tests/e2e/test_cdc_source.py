"""PostgreSQL CDC sources end to end: the toy bakery project gains ``pg_customers`` captured from a
real PostgreSQL 15 (wal2json); each ingest consumes the slot, lands the versions in the raw zone
with contract, quarantine and manifest, and leaves ``raw.pg_customers`` equal to the table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml

from duckbook import config, engine
from duckbook.build.context import start_stage
from duckbook.build.ingest import ingest
from duckbook.ingest.cdc import TableNotCapturable
from tests.postgres import drop_schema_and_slots, sql

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_project"
ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["id", "name", "doc", "amount", "qty"]


def source(schema: str, table: str, slot: str) -> dict[str, object]:
    return {
        "cdc": {"dsn": "${TOY_PG_DSN}", "table": f"{schema}.{table}", "slot": slot},
        "primary_key": ["id"],
        "columns": {
            "id": {"type": "int64", "nullable": False},
            "name": {"type": "string", "nullable": False},
            "doc": {"type": "string"},
            "amount": {"type": "decimal(38,10)"},
            "qty": {"type": "int64"},
        },
    }


@pytest.fixture
def pg(postgres_dsn):
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(
            f"CREATE TABLE {schema}.customers (id int PRIMARY KEY, name text, doc text, amount numeric(38,10), qty int)"
        )
    yield postgres_dsn, schema
    drop_schema_and_slots(postgres_dsn, schema)


@pytest.fixture
def toy(tmp_path, monkeypatch, pg):
    dsn, schema = pg
    for name in [n for n in os.environ if n.startswith("DUCKBOOK_")]:
        monkeypatch.delenv(name)
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    project = root / "toy_bakery" / "project.yml"
    doc = yaml.safe_load(project.read_text())
    doc["sources"]["pg_customers"] = source(schema, "customers", f"toy_{schema}")
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(root))
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(tmp_path / "toy-warehouse"))
    monkeypatch.setenv("TOY_PG_DSN", dsn)
    yield root
    for mod in [m for m in sys.modules if m.split(".")[0] == "toy_bakery"]:
        del sys.modules[mod]


def run_ingest(run_id: str):
    ctx = start_stage("10_ingest", run_id=run_id, run_started_at="2024-03-04T06:00:00", run_date="2024-03-03")
    ingested = ingest(ctx, ctx.project.sources, "data")
    audit = ingested.build.audit()
    assert audit.filter(audit["status"] == "fail").height == 0, audit
    ingested.build.publish()
    ctx.close()
    return ingested


def pg_rows(dsn: str, schema: str, columns: list[str]) -> list[tuple]:
    with psycopg.connect(dsn) as con:
        return con.execute(f"SELECT {', '.join(columns)} FROM {schema}.customers ORDER BY id").fetchall()


def raw_rows(columns: list[str], where: str = "") -> list[tuple]:
    with engine.connect_plain(config.load(), read_only=True) as con:
        return con.execute(f"SELECT {', '.join(columns)} FROM raw.pg_customers {where} ORDER BY id").fetchall()


def query(statement: str) -> list[tuple]:
    with engine.connect_plain(config.load(), read_only=True) as con:
        return con.execute(statement).fetchall()


BIG_DOC = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300))"  # ~9.6 kB, TOASTed


def test_a_cdc_source_keeps_raw_equal_to_the_postgres_table(toy, pg):
    dsn, s = pg
    t = f"{s}.customers"
    sql(
        dsn,
        f"INSERT INTO {t} VALUES (1, 'ann', {BIG_DOC}, 12345678901234567890.1234567891, 1), (2, 'bob', 'short', 0.5, 2), "
        f"(3, 'cy', {BIG_DOC}, -1, 3)",
    )
    first = run_ingest("cdc-1")
    assert raw_rows(COLUMNS) == pg_rows(dsn, s, COLUMNS)
    assert raw_rows(["amount"], "WHERE id = 1") == [(Decimal("12345678901234567890.1234567891"),)]
    [stream] = first.cdc
    assert stream.slot == f"toy_{s}" and stream.health.wal_status in ("reserved", "extended")

    with psycopg.connect(dsn) as con:  # a rolled-back transaction never lands
        con.execute(f"INSERT INTO {t} VALUES (99, 'never', null, 0, 0)")
        con.rollback()
    sql(
        dsn,
        f"INSERT INTO {t} VALUES (4, 'dee', null, 4.25, 4)",
        f"UPDATE {t} SET name = 'anna' WHERE id = 1",  # doc is an unchanged TOAST value: left out
        f"DELETE FROM {t} WHERE id = 2",
        f"INSERT INTO {t} SELECT g, 'bulk' || g, null, g / 7.0, g FROM generate_series(1000, 10999) g",
        f"UPDATE {t} SET id = 30 WHERE id = 3",  # a key change, doc left out again
        f"ALTER TABLE {t} ADD COLUMN tier text DEFAULT 'basic'",
        f"INSERT INTO {t} VALUES (5, 'eve', null, 5, 5, 'gold')",
        f"INSERT INTO {t} VALUES (6, null, null, 6, 6)",  # breaks the contract: name is required
    )
    second = run_ingest("cdc-2")
    columns = [*COLUMNS, "tier"]
    assert raw_rows(columns) == [r for r in pg_rows(dsn, s, columns) if r[0] != 6]
    assert raw_rows(["tier"], "WHERE id IN (1, 5)") == [("basic",), ("gold",)]
    [stream] = second.cdc
    # the ALTER TABLE has no row change: 7 transactions
    assert stream.transactions == 7 and stream.events == 10_006 and len(stream.commit_times) == 7
    [(reason, source_file, raw_row)] = query(
        "SELECT reason, source_file, raw_row FROM ops.quarantine WHERE source_table = 'pg_customers'"
    )
    assert reason.startswith("missing_value:name at LSN ") and source_file.endswith(".parquet")
    assert f"/cdc/toy_{s}/" in source_file and raw_row.startswith("lsn=") and " upsert: 6," in raw_row
    assert ("pg_customers", "tier", "added") in query("SELECT table_name, column_name, change FROM ops.schema_history")
    manifest = query(
        "SELECT sum(rows_read), sum(rows_landed), sum(rows_quarantined) FROM ops.ingest_manifest "
        "WHERE \"table\" = 'pg_customers'"
    )
    assert manifest[0][0] == manifest[0][1] + manifest[0][2] and manifest[0][2] == 1
    versions = query(
        "SELECT _cdc_op, count(*) FROM read_parquet('"
        + str(config.load().raw_zone)
        + "/pg_customers/*/data.parquet') GROUP BY 1 ORDER BY 1"
    )
    assert dict(versions)["delete"] == 2  # id 2, and the old key 3

    third = run_ingest("cdc-3")  # nothing new
    assert third.manifest.height == 0 and third.cdc[0].transactions == 0
    assert len(query("SELECT * FROM ops.cdc_health")) == 3

    sql(dsn, f"TRUNCATE {t}", f"INSERT INTO {t} VALUES (7, 'gus', null, 7, 7, 'x')")
    run_ingest("cdc-4")
    assert raw_rows(columns) == pg_rows(dsn, s, columns) == [(7, "gus", None, Decimal(7), 7, "x")]

    # full refresh rebuilds raw from the raw zone's versions
    ctx = start_stage("10_ingest", run_id="cdc-5", run_started_at="2024-03-04T07:00:00", run_date="2024-03-03")
    refreshed = ingest(ctx, ctx.project.sources, "data", full_refresh=True)
    refreshed.build.audit()
    refreshed.build.publish()
    ctx.close()
    assert raw_rows(columns) == pg_rows(dsn, s, columns)


KILLED = """
import os, sys
from duckbook.build.context import start_stage
from duckbook.build.ingest import ingest
ctx = start_stage("10_ingest", run_id="cdc-killed", run_started_at="2024-03-04T06:30:00", run_date="2024-03-03")
ingested = ingest(ctx, ctx.project.sources, "data")
ingested.build.audit()
ingested.build.publish()
os._exit(9)  # killed before the stage's commit
"""


def test_a_run_killed_after_landing_loses_and_duplicates_nothing(toy, pg):
    dsn, s = pg
    t = f"{s}.customers"
    sql(dsn, f"INSERT INTO {t} VALUES (1, 'ann', {BIG_DOC}, 1, 1)")
    run_ingest("cdc-k1")
    sql(dsn, f"UPDATE {t} SET qty = 2 WHERE id = 1", f"INSERT INTO {t} VALUES (2, 'bob', null, 2, 2)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy), str(ROOT / "lib")])}
    killed = subprocess.run([sys.executable, "-c", KILLED], env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr
    assert raw_rows(["id", "qty"]) == [(1, 1)]  # nothing of the killed run was committed
    again = run_ingest("cdc-k2")
    assert again.cdc[0].transactions == 2  # landed by the killed run, ingested now
    assert raw_rows(COLUMNS) == pg_rows(dsn, s, COLUMNS)
    counted = query(
        "SELECT count(*), count(DISTINCT file_path) FROM ops.ingest_manifest WHERE \"table\" = 'pg_customers'"
    )
    assert counted[0][0] == counted[0][1] == 2  # the snapshot and one batch, once each


def test_a_table_without_a_primary_key_is_refused_unless_replica_identity_full(toy, pg):
    dsn, s = pg
    sql(
        dsn,
        f"ALTER TABLE {s}.customers DROP CONSTRAINT customers_pkey",
        f"INSERT INTO {s}.customers VALUES (1, 'a', null, 1, 1)",
    )
    with pytest.raises(
        TableNotCapturable, match=rf"CDC table '{s}.customers' has no primary key.*REPLICA IDENTITY FULL"
    ):
        run_ingest("cdc-nopk")
    sql(dsn, f"ALTER TABLE {s}.customers REPLICA IDENTITY FULL")
    run_ingest("cdc-full")
    sql(
        dsn,
        f"UPDATE {s}.customers SET name = 'b'",
        f"DELETE FROM {s}.customers WHERE id = 1",
        f"INSERT INTO {s}.customers VALUES (2, 'c', null, 2, 2)",
    )
    run_ingest("cdc-full-2")
    assert raw_rows(COLUMNS) == pg_rows(dsn, s, COLUMNS) == [(2, "c", None, Decimal(2), 2)]


def test_a_lost_slot_names_the_resnapshot_command_and_a_resnapshot_deletes_what_is_gone(toy, pg):
    from duckbook import project
    from duckbook.ingest import cdc_spec
    from duckbook.ingest.cdc import SlotLost, resnapshot

    dsn, s = pg
    t = f"{s}.customers"
    sql(dsn, f"INSERT INTO {t} VALUES (1, 'ann', null, 1, 1), (2, 'bob', null, 2, 2)")
    run_ingest("cdc-r1")
    sql(dsn, f"SELECT pg_drop_replication_slot('toy_{s}')", f"DELETE FROM {t} WHERE id = 2")
    sql(dsn, f"INSERT INTO {t} VALUES (3, 'cy', null, 3, 3)")
    with pytest.raises(SlotLost, match=rf"run `duckbook cdc resnapshot toy_{s}`"):
        run_ingest("cdc-r2")
    [(cdc_source, _)] = cdc_spec.consumers(project.load().sources.values(), config.load().warehouse)
    resnapshot(cdc_source)
    run_ingest("cdc-r3")
    assert raw_rows(COLUMNS) == pg_rows(dsn, s, COLUMNS)
    assert [r[0] for r in raw_rows(["id"])] == [1, 3]
