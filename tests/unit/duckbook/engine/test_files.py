"""Parquet and database files, replaced by renames."""

from __future__ import annotations

import ibis
import pytest

from duckbook.engine import files

pytestmark = pytest.mark.slow


def test_write_parquet_replaces_the_file_and_leaves_no_temporary(tmp_path):
    con = ibis.duckdb.connect()
    path = tmp_path / "lake" / "t" / "data.parquet"
    assert files.write_parquet(con, ibis.memtable({"x": [1]}), path) == path
    files.write_parquet(con, ibis.memtable({"x": [2, 3]}), path)
    assert con.read_parquet(path).x.to_pyarrow().to_pylist() == [2, 3]
    assert [p.name for p in path.parent.iterdir()] == ["data.parquet"]


def test_copy_replace_and_remove_a_database_with_its_wal(tmp_path):
    live, built = tmp_path / "w.duckdb", tmp_path / ".w.run.duckdb"
    live.write_bytes(b"live")
    (tmp_path / "w.duckdb.wal").write_bytes(b"wal")
    files.copy_database(live, built)
    assert built.read_bytes() == b"live"
    assert (tmp_path / ".w.run.duckdb.wal").read_bytes() == b"wal"

    built.write_bytes(b"new")
    (tmp_path / ".w.run.duckdb.wal").unlink()
    files.replace_database(built, live)
    assert live.read_bytes() == b"new"
    assert not built.exists()
    assert not (tmp_path / "w.duckdb.wal").exists()  # the old WAL belongs to the old file

    files.remove_database(live)
    files.remove_database(live)  # nothing left to remove is fine
    assert list(tmp_path.iterdir()) == []


def test_copying_a_missing_database_leaves_no_copy(tmp_path):
    (tmp_path / "stale.duckdb").write_bytes(b"old")
    files.copy_database(tmp_path / "missing.duckdb", tmp_path / "stale.duckdb")
    assert list(tmp_path.iterdir()) == []
