"""The current state folded from landed CDC events equals the source table (pure, then real PostgreSQL)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import psycopg
import pytest

from duckbook.ingest import cdc_store
from duckbook.ingest.cdc import CdcSource, Consumer
from duckbook.ingest.cdc_events import TableSchema
from tests.cdc_reference import current_state, fold

SCHEMA = TableSchema({"id": "integer", "doc": "text", "n": "integer"}, ("id",))


def _ev(op: str, values: dict[str, Any] | None = None, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "op": op,
        "values": None if values is None else list(values.items()),
        "identity": None if identity is None else list(identity.items()),
    }


def test_fold_chains_key_changes_and_keeps_unchanged_values() -> None:
    events = [
        _ev("S", {"id": "1", "doc": "big", "n": "0"}),
        _ev("U", {"id": "2", "n": "1"}, {"id": "1"}),
        _ev("U", {"id": "3", "n": "2"}, {"id": "2"}),
        _ev("U", {"id": "3", "doc": None, "n": "2"}, {"id": "3"}),  # a real null is written
        _ev("I", {"id": "4", "doc": "x", "n": "9"}),
    ]
    assert fold(events, SCHEMA) == [
        {"id": "3", "doc": None, "n": "2"},
        {"id": "4", "doc": "x", "n": "9"},
    ]
    assert fold([*events, _ev("T"), _ev("I", {"id": "5", "doc": "y", "n": "1"})], SCHEMA) == [
        {"id": "5", "doc": "y", "n": "1"}
    ]


def test_fold_keeps_equal_rows_of_a_keyless_table_apart() -> None:
    keyless = TableSchema({"a": "integer"}, ())
    two = [_ev("I", {"a": "1"}), _ev("I", {"a": "1"})]
    assert fold([*two, _ev("D", identity={"a": "1"})], keyless) == [{"a": "1"}]
    assert fold([*two, _ev("U", {"a": "2"}, {"a": "1"})], keyless) == [{"a": "1"}, {"a": "2"}]


def _text_rows(con: psycopg.Connection[Any], table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    select = ", ".join(f"{c}::text" for c in columns)
    return sorted(con.execute(f"SELECT {select} FROM {table}").fetchall(), key=repr)  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_changes_fold_to_the_source_table(postgres_dsn: str, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    table = f"public.fold_{seed}_{rng.randrange(10**9)}"
    src = CdcSource(table.split(".")[1], postgres_dsn, (table,), tmp_path / "raw")
    big = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300))"  # out of line
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, doc text, price numeric(20,8), n int)")  # type: ignore[arg-type]
        con.execute(f"INSERT INTO {table} SELECT g, {big}, g * 1.00000001, 0 FROM generate_series(1, 20) g")  # type: ignore[arg-type]
        consumer = Consumer(src)
        consumer.start()
        next_id, added = 100, False
        for step in range(160):
            with con.transaction(force_rollback=rng.random() < 0.1):  # a tenth never commits
                for _ in range(rng.randint(1, 4)):
                    kind = rng.choice(
                        ["insert", "insert", "insert", "update", "toast", "rekey", "delete", "truncate"][
                            : 7 + (step % 50 == 49)
                        ]
                    )
                    pick = f"(SELECT id FROM {table} ORDER BY random() LIMIT 1)"
                    if kind == "insert":
                        next_id += 1
                        con.execute(
                            f"INSERT INTO {table} (id, doc, price, n) VALUES ({next_id}, {big}, {rng.random():.8f}, 1)"
                        )  # type: ignore[arg-type]
                    elif kind == "update":
                        con.execute(f"UPDATE {table} SET doc = 'short {step}', n = n + 1 WHERE id = {pick}")  # type: ignore[arg-type]
                    elif kind == "toast":  # doc (out of line) unchanged: left out of the event
                        con.execute(f"UPDATE {table} SET price = price + 0.00000001, n = n + 1 WHERE id = {pick}")  # type: ignore[arg-type]
                    elif kind == "rekey":
                        next_id += 1
                        con.execute(f"UPDATE {table} SET id = {next_id} WHERE id = {pick}")  # type: ignore[arg-type]
                    elif kind == "delete":
                        con.execute(f"DELETE FROM {table} WHERE id = {pick}")  # type: ignore[arg-type]
                    else:
                        con.execute(f"TRUNCATE {table}")  # type: ignore[arg-type]
            if step == 70 and not added:
                con.execute(f"ALTER TABLE {table} ADD COLUMN tier smallint DEFAULT 3")  # type: ignore[arg-type]
                added = True
            if rng.random() < 0.2:
                consumer.poll()
            if rng.random() < 0.03:  # a restart mid-stream
                consumer.close()
                consumer = Consumer(src)
                consumer.start()
        consumer.run_until_idle()
        position = consumer.position
        consumer.close()
        assert position is not None
        schema = position.table_schemas()[table]
        assert list(schema.columns) == ["id", "doc", "price", "n", "tier"]
        assert position.history[-1]["fill"] == "3"  # ADD COLUMN ... DEFAULT 3 sent no change for old rows
        state = current_state(cdc_store.read_landed(src.directory), table, schema, position.history)
        folded = sorted((tuple(r.values()) for r in state.to_pylist()), key=repr)
        assert folded == _text_rows(con, table, list(schema.columns))
        con.execute(f"SELECT pg_drop_replication_slot('{src.slot_name}')")  # type: ignore[arg-type]
