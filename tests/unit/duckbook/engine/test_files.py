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


def test_remove_partial_deletes_only_unfinished_writes(tmp_path):
    (tmp_path / "raw" / "t" / "batch_id=a").mkdir(parents=True)
    done = tmp_path / "raw" / "t" / "batch_id=a" / "data.parquet"
    done.write_bytes(b"x")
    partial = done.with_name(".data.parquet.1234abcd.tmp")
    partial.write_bytes(b"half")
    assert files.remove_partial(tmp_path / "raw") == 1
    assert done.exists() and not partial.exists()
    assert files.remove_partial(tmp_path / "missing") == 0
