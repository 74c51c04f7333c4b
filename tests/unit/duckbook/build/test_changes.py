"""The change feed: which rows a change reaches, and the feed's read-once / write-once state."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from duckbook.build.changes import Change, Feed, changed_rows, full
from duckbook.build.context import start_stage

T = ibis.memtable(
    {
        "id": ["a", "b", "c", "d"],
        "day": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3), None],
    }
)


def ids(table):
    return sorted(table.id.to_pyarrow().to_pylist())


def test_keys_reach_their_rows():
    assert ids(changed_rows(T, [Change("x.t", key_column="id", keys=("a", "c"))])) == ["a", "c"]


def test_since_reaches_later_rows_and_rows_without_a_time():
    assert ids(changed_rows(T, [Change("x.t", time_column="day", since=dt.datetime(2024, 1, 2))])) == ["b", "c", "d"]


def test_several_changes_reach_the_union():
    found = changed_rows(
        T,
        [Change("x.t", key_column="id", keys=("a",)), Change("x.t", time_column="day", since=dt.datetime(2024, 1, 3))],
    )
    assert ids(found) == ["a", "c", "d"]


def test_a_full_change_or_a_column_the_table_lacks_cannot_be_told_apart():
    assert changed_rows(T, [full("x.t")]) is None
    assert changed_rows(T, [Change("x.t", key_column="order_id", keys=("a",))]) is None
    assert changed_rows(T, [Change("x.t", time_column="ordered_at", since=dt.datetime(2024, 1, 1))]) is None


def test_no_change_reaches_no_row():
    assert ids(changed_rows(T, [])) == []


@pytest.mark.slow
def test_feed_keeps_changes_and_state_in_memory_until_flushed(tmp_path):
    ctx = start_stage("test", run_id="r1", run_date="2024-01-02", warehouse=str(tmp_path / "wh"))
    try:
        feed = Feed(ctx.con, "r1")
        assert feed.last_seq == 0 and feed.consumed("s.m") is None
        feed.record(Change("raw.t", key_column="id", keys=("b", "a")))
        feed.record(Change("raw.u"))  # empty: not recorded
        feed.record(full("raw.u"))
        feed.mark_consumed("s.m", 1, applied=["batch-1"])
        assert feed.pending(["raw.t", "raw.u"], after=0) == [
            Change("raw.t", key_column="id", keys=("b", "a")),
            full("raw.u"),
        ]
        assert feed.pending(["raw.u"], after=1) == [full("raw.u")]
        feed.flush()
        again = Feed(ctx.con, "r2")  # read back from the warehouse
        assert again.last_seq == 2
        assert again.consumed("s.m") == (1, ["batch-1"])
        # only changes after the oldest a model consumed are read: nothing older is pending anywhere
        assert again.pending(["raw.t", "raw.u"], after=1) == [full("raw.u")]
    finally:
        ctx.con.disconnect()
