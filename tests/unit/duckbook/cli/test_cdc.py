"""`duckbook cdc status` and `duckbook cdc resnapshot` on the toy project with two CDC sources of
one slot, against a real PostgreSQL 15 (scripts/postgres.sh starts it)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from duckbook import cli, config, project
from duckbook.engine.lock import run_lock
from duckbook.ingest.cdc import CdcSource, Consumer
from duckbook.ingest.cdc_spec import consumers
from tests.postgres import drop_schema_and_slots, sql

TOY = Path(__file__).resolve().parents[3] / "fixtures" / "toy_project"


def toy_with_cdc(tmp_path: Path, schema: str) -> Path:
    """A copy of the toy project with sources pg_loaves and pg_ovens read from ``schema`` by slot ``schema``."""
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    path = root / "toy_bakery" / "project.yml"
    doc = yaml.safe_load(path.read_text())
    for name, table in (("pg_loaves", "loaves"), ("pg_ovens", "ovens")):
        doc["sources"][name] = {
            "cdc": {"dsn": "${TOY_PG_DSN:-dbname=nowhere}", "table": f"{schema}.{table}", "slot": schema},
            "primary_key": ["id"],
            "columns": {"id": {"type": "int64"}, "name": {"type": "string"}},
        }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The toy project with CDC sources of a fresh slot; yields (project root, slot)."""
    for name in [n for n in os.environ if n.startswith("DUCKBOOK_")]:
        monkeypatch.delenv(name)
    slot = f"t_{uuid.uuid4().hex[:10]}"
    root = toy_with_cdc(tmp_path, slot)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(root))
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(tmp_path / "warehouse"))
    yield root, slot
    for mod in [m for m in sys.modules if m.split(".")[0] == "toy_bakery"]:
        del sys.modules[mod]


@pytest.fixture
def pg(toy: tuple[Path, str], postgres_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """The slot's tables in PostgreSQL (two rows of loaves, one oven); yields (dsn, slot)."""
    _, slot = toy
    monkeypatch.setenv("TOY_PG_DSN", postgres_dsn)
    sql(
        postgres_dsn,
        f"CREATE SCHEMA {slot}",
        f"CREATE TABLE {slot}.loaves (id bigint PRIMARY KEY, name text)",
        f"CREATE TABLE {slot}.ovens (id bigint PRIMARY KEY, name text)",
        f"INSERT INTO {slot}.loaves VALUES (1, 'rye'), (2, 'spelt')",
        f"INSERT INTO {slot}.ovens VALUES (1, 'deck')",
    )
    yield postgres_dsn, slot
    drop_schema_and_slots(postgres_dsn, slot)


def the_source() -> CdcSource:
    cfg = config.load()
    ((source, _),) = consumers(project.load(cfg).sources.values(), cfg.warehouse)
    return source


def invoke(*args: str, answer: str | None = None):
    return CliRunner().invoke(cli.app, ["cdc", *args], input=answer)


def test_an_unknown_slot_is_named_with_the_closest_one(toy):
    _, slot = toy
    result = invoke("resnapshot", slot[:-1] + "x")
    assert result.exit_code == 2, result.output
    assert f"error: SLOT: unknown CDC slot '{slot[:-1]}x'; did you mean {slot}? choose from: {slot}" in result.output


@pytest.mark.postgres
@pytest.mark.slow
def test_status_before_and_after_the_first_snapshot_with_lag_and_files_waiting(pg):
    dsn, slot = pg
    before = invoke("status")
    assert before.exit_code == 0, before.output
    assert before.output.splitlines() == [
        f"slot {slot}",
        f"  tables: {slot}.loaves (pg_loaves), {slot}.ovens (pg_ovens)",
        "  not started: the next `duckbook run` creates the slot and lands a first snapshot",
    ]
    with Consumer(the_source()) as consumer:
        position = consumer.start()
    sql(dsn, f"INSERT INTO {slot}.loaves SELECT g, repeat('x', 100) FROM generate_series(3, 2000) g")
    result = invoke("status", slot)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    lag = re.fullmatch(r"  lag: ([\d.]+) (kB|MB), retained WAL: [\d.]+ (kB|MB), WAL status: reserved", lines[2])
    assert lag is not None, lines
    assert position.commit_time is not None
    taken = dt.datetime.fromisoformat(position.commit_time)
    assert re.fullmatch(rf"  landed: [0-9A-F]+/[0-9A-F]+ committed {taken:%Y-%m-%d %H:%M:%S} UTC", lines[3]), lines
    source = the_source()
    assert lines[4] == f"  landed, not ingested yet: 2 file(s) in {source.directory}"  # one snapshot file per table
    with Consumer(source) as consumer:
        consumer.poll()
    assert "  landed, not ingested yet: 3 file(s)" in invoke("status").output


@pytest.mark.postgres
@pytest.mark.slow
def test_a_lost_slot_exits_1_with_the_command_and_resnapshot_restores_polling(pg, toy):
    dsn, slot = pg
    source = the_source()
    with Consumer(source) as consumer:
        consumer.start()
    sql(dsn, f"SELECT pg_drop_replication_slot('{slot}')", f"DELETE FROM {slot}.loaves WHERE id = 2")
    lost = invoke("status")
    assert lost.exit_code == 1, lost.output
    assert (
        f"  LOST: CDC source '{slot}': replication slot '{slot}' is gone; run `duckbook cdc resnapshot {slot}` "
        in lost.output
    )
    assert f"error: 1 CDC slot(s) lost or unreachable: {slot} (see above); `duckbook cdc resnapshot {slot}`" in (
        lost.output
    )

    declined = invoke("resnapshot", slot, answer="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert f"re-snapshot slot {slot} ({slot}.loaves, {slot}.ovens): drop the replication slot" in declined.output
    assert invoke("status").exit_code == 1  # nothing was done

    with run_lock(config.load().lock_file, "a test run"):
        locked = invoke("resnapshot", slot, "--yes")
    assert locked.exit_code == 1 and "another run holds" in locked.output and "a test run" in locked.output

    done = invoke("resnapshot", slot, "--yes")
    assert done.exit_code == 0, done.output
    assert re.search(
        rf"slot {slot}: new snapshot at LSN [0-9A-F]+/[0-9A-F]+ \(2 file\(s\)\); the next `duckbook run` ingests it "
        "in place of the current rows: rows deleted while the slot was lost become deletes",
        done.output,
    )
    assert sorted(p.name.split("-")[0] for p in source.directory.glob("superseded-*")) == ["superseded"] * 2
    assert invoke("status").exit_code == 0
    sql(dsn, f"INSERT INTO {slot}.ovens VALUES (2, 'rack')")
    with Consumer(source) as consumer:
        batch = consumer.poll()
    assert (batch.transactions, batch.events) == (1, 1)
