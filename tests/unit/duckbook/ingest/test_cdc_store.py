"""Landed CDC batches and the position on our side (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from duckbook.ingest import cdc_store
from duckbook.ingest.cdc_events import Event, Transaction, events_table


def _batch(directory: Path, commit: int, end: int) -> Path:
    tx = Transaction(
        1, commit, end, datetime(2026, 1, 1, tzinfo=UTC), [Event("I", "public.c", commit - 1, {"id": "1"})]
    )
    meta = {
        "end_lsn": end,
        "last_commit_lsn": commit,
        "last_commit_time": "2026-01-01T00:00:00+00:00",
        "schemas": {"public.c": {"columns": [["id", "integer"]], "key": ["id"]}},
        "history": [{"table": "public.c", "column": "id", "type": "integer", "change": "added", "commit_lsn": commit}],
    }
    return cdc_store.land(directory, cdc_store.batch_name(commit, commit), events_table([tx]), meta)


def test_no_position_before_the_snapshot_landed(tmp_path: Path) -> None:
    assert cdc_store.read_position(tmp_path) is None
    _batch(tmp_path, 0x20, 0x28)  # batches without a recorded snapshot do not make a position
    assert cdc_store.read_position(tmp_path) is None


def test_position_is_the_later_of_the_file_and_the_newest_batch(tmp_path: Path) -> None:
    cdc_store.write_position(tmp_path, cdc_store.Position(snapshot_lsn=0x10, end_lsn=0x10, commit_lsn=0x10))
    _batch(tmp_path, 0x20, 0x28)
    path = _batch(tmp_path, 0x100, 0x108)  # landed, then a crash before position.json
    assert path.name == "0000000000000100-0000000000000100.parquet"
    position = cdc_store.read_position(tmp_path)
    assert position is not None
    assert (position.end_lsn, position.commit_lsn, position.snapshot_lsn) == (0x108, 0x100, 0x10)
    assert position.table_schemas()["public.c"].key == ("id",)
    assert position.history[-1]["commit_lsn"] == 0x100
    # a position file ahead of the files (batches moved away by the apply step) wins
    cdc_store.write_position(tmp_path, cdc_store.Position(snapshot_lsn=0x10, end_lsn=0x500, commit_lsn=0x4F0))
    position = cdc_store.read_position(tmp_path)
    assert position is not None and position.end_lsn == 0x500


def test_landing_is_atomic_and_partial_writes_are_removed(tmp_path: Path) -> None:
    path = _batch(tmp_path, 0x20, 0x28)
    assert pq.read_table(path).num_rows == 1
    assert cdc_store.batch_meta(path)["end_lsn"] == 0x28
    (tmp_path / ".0000000000000030-0000000000000030.parquet.abcd.tmp").write_bytes(b"cut")
    assert cdc_store.remove_partial(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert cdc_store.remove_partial(tmp_path / "missing") == 0
