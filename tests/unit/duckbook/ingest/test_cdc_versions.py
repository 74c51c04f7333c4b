"""Versions of a CDC table from hand-made landed events (no server)."""

from __future__ import annotations

import datetime as dt
import time

import pyarrow as pa
import pytest

from duckbook.ingest.cdc_events import Event, Transaction, events_table, snapshot_table
from duckbook.ingest.cdc_versions import VERSION_COLUMNS, Fold, touched_keys, versions

T = "public.c"
COLS = ["id", "name", "doc"]
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def tx(lsn: int, *events: Event, xid: int = 1) -> Transaction:
    return Transaction(xid, lsn, lsn + 8, T0 + dt.timedelta(seconds=lsn), list(events))


def ins(id_: str, name: str | None = "n", doc: str | None = "d", table: str = T) -> Event:
    return Event("I", table, 0, {"id": id_, "name": name, "doc": doc})


def upd(id_: str, old: str | None = None, unchanged: tuple[str, ...] = (), **values: str | None) -> Event:
    return Event("U", T, 0, {"id": id_, **values}, None if old is None else {"id": old}, unchanged)


def rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [(r["id"], r["name"], r["doc"], r["_cdc_lsn"], r["_cdc_seq"], r["_cdc_op"]) for r in table.to_pylist()]


def test_inserts_updates_and_deletes_give_one_version_per_key_and_transaction() -> None:
    events = events_table(
        [
            tx(100, ins("1", "ann"), ins("2", "bob"), upd("1", name="anna", doc="d")),
            tx(200, upd("2", name="bo", doc="x"), Event("D", T, 0, None, {"id": "1"})),
            tx(300, ins("3", table="public.other")),  # another table of the slot
        ]
    )
    out = versions(events, T, key=["id"], columns=COLS)
    assert out.column_names == [*COLS, *VERSION_COLUMNS]
    assert rows(out) == [
        ("2", "bob", "d", 100, 1, "upsert"),
        ("1", "anna", "d", 100, 2, "upsert"),  # the row after the transaction, at its last event
        ("2", "bo", "x", 200, 0, "upsert"),
        ("1", None, None, 200, 1, "delete"),
    ]
    assert out["_cdc_committed_at"].type == pa.timestamp("us")
    assert out["_cdc_committed_at"].to_pylist()[0] == dt.datetime(2026, 1, 2, 3, 5, 45)  # naive UTC


def test_unchanged_toast_columns_come_from_the_row_before_never_null() -> None:
    seed = {("1",): {"id": "1", "name": "ann", "doc": "very long"}}
    events = events_table(
        [tx(100, upd("1", name="anna", unchanged=("doc",))), tx(200, upd("1", name="a", unchanged=("doc",)))]
    )
    assert [(r[1], r[2]) for r in rows(versions(events, T, key=["id"], columns=COLS, seed=seed))] == [
        ("anna", "very long"),
        ("a", "very long"),
    ]


def test_a_key_change_is_a_delete_of_the_old_key_then_an_upsert_of_the_new() -> None:
    seed = {("1",): {"id": "1", "name": "ann", "doc": "long"}}
    events = events_table([tx(100, upd("10", old="1", name="ann", unchanged=("doc",)))])
    assert rows(versions(events, T, key=["id"], columns=COLS, seed=seed)) == [
        ("1", None, None, 100, 0, "delete"),
        ("10", "ann", "long", 100, 0, "upsert"),
    ]


def test_truncate_removes_every_row_before_it_and_the_seed_is_not_read_after() -> None:
    asked: list[list[tuple[str | None, ...]]] = []

    def seed(keys: list[tuple[str | None, ...]]) -> dict[tuple[str | None, ...], dict[str, str | None]]:
        asked.append(keys)
        return {k: {"id": k[0], "name": "old", "doc": "old"} for k in keys}

    fold = Fold(T, ["id"], seed=seed)
    first = fold.versions(events_table([tx(100, ins("1"), Event("T", T, 0), ins("2", "b"))]), COLS)
    assert rows(first) == [(None, None, None, 100, 1, "truncate"), ("2", "b", "d", 100, 2, "upsert")]
    # a later file's update of a key the truncate removed has no row before it
    second = fold.versions(events_table([tx(200, upd("1", name="x", unchanged=("doc",)))]), COLS)
    assert rows(second) == [("1", "x", None, 200, 0, "upsert")]
    assert asked == [[("1",), ("2",)]]


def test_state_carries_from_file_to_file_and_the_seed_is_read_once_per_key() -> None:
    asked = []

    def seed(keys):
        asked.extend(keys)
        return {("1",): {"id": "1", "name": "ann", "doc": "raw doc"}}

    fold = Fold(T, ["id"], seed=seed)
    fold.versions(events_table([tx(100, upd("1", name="b", unchanged=("doc",)))]), COLS)
    out = fold.versions(events_table([tx(200, upd("1", name="c", unchanged=("doc",)))]), COLS)
    assert rows(out) == [("1", "c", "raw doc", 200, 0, "upsert")] and asked == [("1",)]


def test_an_added_column_takes_its_fill_where_no_event_carried_it() -> None:
    seed = {("1",): {"id": "1", "name": "ann", "doc": "d"}}  # the raw table has no tier yet
    events = events_table(
        [
            tx(100, upd("1", name="anna", unchanged=())),
            tx(200, Event("I", T, 0, {"id": "2", "name": "b", "doc": "d", "tier": "gold"})),
        ]
    )
    out = versions(events, T, key=["id"], columns=[*COLS, "tier"], seed=seed, fills={"tier": "basic"})
    assert out["tier"].to_pylist() == ["basic", "gold"]


def test_snapshot_rows_are_upserts_and_a_resnapshot_deletes_the_keys_it_lost() -> None:
    snap = snapshot_table(T, COLS, [("1", "a", "x"), ("3", "c", None)], 500, T0)
    out = versions(snap, T, key=["id"], columns=COLS, gone=[("2",)], gone_at=(500, T0))
    assert rows(out) == [
        ("2", None, None, 500, 0, "delete"),
        ("1", "a", "x", 500, 0, "upsert"),
        ("3", "c", None, 500, 1, "upsert"),
    ]
    assert touched_keys(snap, T, ["id"]) == [("1",), ("3",)]
    assert out["_cdc_committed_at"].to_pylist() == [T0.replace(tzinfo=None)] * 3
    # a new snapshot of an emptied table: only deletes
    empty = snapshot_table(T, COLS, [], 600, T0)
    assert rows(versions(empty, T, key=["id"], columns=COLS, gone=[("1",)], gone_at=(600, T0))) == [
        ("1", None, None, 600, 0, "delete")
    ]


def test_a_composite_key_and_several_commits() -> None:
    cols = ["a", "b", "v"]
    events = events_table(
        [
            tx(1, Event("I", T, 0, {"a": "1", "b": "x", "v": "1"}), Event("I", T, 0, {"a": "1", "b": "y", "v": "2"})),
            tx(2, Event("D", T, 0, None, {"a": "1", "b": "x"})),
        ]
    )
    out = versions(events, T, key=["a", "b"], columns=cols)
    assert [(r["a"], r["b"], r["v"], r["_cdc_op"]) for r in out.to_pylist()] == [
        ("1", "x", "1", "upsert"),
        ("1", "y", "2", "upsert"),
        ("1", "x", None, "delete"),
    ]


def test_empty_events_give_an_empty_typed_table() -> None:
    out = versions(events_table([]), T, key=["id"], columns=COLS)
    assert out.num_rows == 0 and out.schema.field("_cdc_lsn").type == pa.int64()


@pytest.mark.slow
def test_throughput_of_100k_changes() -> None:
    """Reported in the task: rows per second the fold makes versions of 100k updates."""
    txs = [tx(i + 1, *(upd(str(j), name=f"n{i}", doc="d") for j in range(i * 10, i * 10 + 10))) for i in range(10_000)]
    events = events_table(txs)
    started = time.perf_counter()
    out = versions(events, T, key=["id"], columns=COLS)
    rate = out.num_rows / (time.perf_counter() - started)
    print(f"cdc_versions: {out.num_rows} versions at {rate:,.0f} rows/s")
    assert out.num_rows == 100_000 and rate > 20_000
