"""duckbook.build.history: SCD2 versions from full snapshots, worked examples and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import count

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duckbook.build.history import (
    BEGINNING_OF_TIME,
    END_OF_TIME,
    VALIDITY_COLUMNS,
    HistoryError,
    apply_snapshot,
    as_of,
    current,
)
from duckbook.errors import ProjectError
from tests.unit.helpers import rows

SCHEMA = ibis.schema({"id": "int64", "tier": "string", "note": "string"})
D1, D2, D3, D4 = (datetime(2024, 1, d) for d in (1, 2, 3, 4))
BEGIN, END = BEGINNING_OF_TIME, END_OF_TIME
_names = count()


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def snap(records, schema=SCHEMA):
    """A snapshot from (id, tier, note) tuples (or dicts with another schema)."""
    if records and isinstance(records[0], tuple):
        records = [dict(zip(schema.names, r, strict=True)) for r in records]
    return ibis.memtable(pa.Table.from_pylist(records, schema=schema.to_pyarrow()))


def step(con, history, snapshot, at, **options):
    """Apply one snapshot and materialize the result, as the snapshot materialization does."""
    options.setdefault("key", ["id"])
    return con.create_table(f"h{next(_names)}", apply_snapshot(history, snapshot, at=at, **options))


def versions(history):
    """(id, tier, note, valid_from, valid_to, is_current) in a stable order."""
    return [tuple(r.values()) for r in rows(history, "id", "valid_from")]


def replay(con, stream, **options):
    history = None
    for at, snapshot in stream:
        history = step(con, history, snapshot, at, **options)
    return history


# --- worked examples: check strategy ---------------------------------------------------------------


def test_first_snapshot_makes_first_versions_valid_since_the_beginning_of_time(con):
    history = step(con, None, snap([(1, "gold", "a"), (2, None, "b")]), D1)
    assert history.columns == ("id", "tier", "note", *VALIDITY_COLUMNS)
    assert versions(history) == [(1, "gold", "a", BEGIN, END, True), (2, None, "b", BEGIN, END, True)]
    # An empty history is the same as none.
    empty = step(con, None, snap([]), D1)
    assert versions(step(con, empty, snap([(1, "gold", "a"), (2, None, "b")]), D1)) == versions(history)


def test_output_schema_is_the_snapshots_then_the_validity_columns(con):
    history = step(con, None, snap([(1, "gold", "a")]), D1)
    out = apply_snapshot(history, snap([(1, "gold", "a")]), key=["id"], at=D2)
    assert dict(out.schema().items()) == {
        "id": ibis.dtype("int64"),
        "tier": ibis.dtype("string"),
        "note": ibis.dtype("string"),
        "valid_from": ibis.dtype("timestamp"),
        "valid_to": ibis.dtype("timestamp"),
        "is_current": ibis.dtype("boolean"),
    }


def test_a_tracked_change_closes_the_current_version_and_opens_one_at_the_snapshot_time(con):
    history = step(con, None, snap([(1, "gold", "a"), (2, "silver", "b")]), D1)
    history = step(con, history, snap([(1, "platinum", "a"), (2, "silver", "b")]), D2)
    assert versions(history) == [
        (1, "gold", "a", BEGIN, D2, False),
        (1, "platinum", "a", D2, END, True),
        (2, "silver", "b", BEGIN, END, True),
    ]


def test_a_change_only_in_untracked_columns_makes_no_version_and_keeps_the_current_row(con):
    history = step(con, None, snap([(1, "gold", "a")]), D1, tracked=["tier"])
    same = step(con, history, snap([(1, "gold", "CHANGED")]), D2, tracked=["tier"])
    assert versions(same) == [(1, "gold", "a", BEGIN, END, True)]
    # With a tracked change, the new version carries the untracked columns as delivered.
    both = step(con, same, snap([(1, "platinum", "new note")]), D3, tracked=["tier"])
    assert versions(both) == [(1, "gold", "a", BEGIN, D3, False), (1, "platinum", "new note", D3, END, True)]


def test_nulls_are_compared_null_safely(con):
    history = step(con, None, snap([(1, None, "a"), (2, None, "b"), (3, "gold", "c")]), D1)
    history = step(con, history, snap([(1, None, "a"), (2, "gold", "b"), (3, None, "c")]), D2)
    assert versions(history) == [
        (1, None, "a", BEGIN, END, True),  # null to null: no change
        (2, None, "b", BEGIN, D2, False),  # null to a value: a change
        (2, "gold", "b", D2, END, True),
        (3, "gold", "c", BEGIN, D2, False),  # a value to null: a change
        (3, None, "c", D2, END, True),
    ]


def test_hard_deletes_close_ends_an_absent_member_without_successor(con):
    history = step(con, None, snap([(1, "gold", "a"), (2, "silver", "b")]), D1)
    history = step(con, history, snap([(1, "gold", "a")]), D2)
    assert versions(history) == [(1, "gold", "a", BEGIN, END, True), (2, "silver", "b", BEGIN, D2, False)]
    assert rows(current(history)) == [{"id": 1, "tier": "gold", "note": "a"}]


def test_hard_deletes_ignore_keeps_an_absent_member_current(con):
    history = step(con, None, snap([(1, "gold", "a"), (2, "silver", "b")]), D1, hard_deletes="ignore")
    history = step(con, history, snap([(1, "gold", "a")]), D2, hard_deletes="ignore")
    assert versions(history) == [(1, "gold", "a", BEGIN, END, True), (2, "silver", "b", BEGIN, END, True)]


def test_a_member_reappearing_after_a_deletion_gets_a_new_version_from_the_snapshot_time(con):
    history = step(con, None, snap([(1, "gold", "a")]), D1)
    history = step(con, history, snap([]), D2)
    history = step(con, history, snap([(1, "gold", "a")]), D3)
    assert versions(history) == [(1, "gold", "a", BEGIN, D2, False), (1, "gold", "a", D3, END, True)]
    # A member never seen before is new even in a later snapshot: valid since the beginning of time.
    history = step(con, history, snap([(1, "gold", "a"), (2, "silver", "b")]), D4)
    assert versions(history)[-1] == (2, "silver", "b", BEGIN, END, True)


def test_applying_the_same_snapshot_again_changes_nothing(con):
    history = step(con, None, snap([(1, "gold", "a"), (2, None, "b"), (3, "x", "c")]), D1)
    history = step(con, history, snap([(1, "platinum", "a"), (2, None, "b")]), D2)
    again = step(con, history, snap([(1, "platinum", "a"), (2, None, "b")]), D2)
    later = step(con, again, snap([(1, "platinum", "a"), (2, None, "b")]), D4)
    assert versions(again) == versions(later) == versions(history)


def test_a_composite_key_identifies_a_member(con):
    schema = ibis.schema({"shop": "string", "sku": "int64", "price": "int64"})
    day1 = snap([{"shop": "a", "sku": 1, "price": 10}, {"shop": "b", "sku": 1, "price": 10}], schema)
    day2 = snap([{"shop": "a", "sku": 1, "price": 12}, {"shop": "b", "sku": 1, "price": 10}], schema)
    history = step(con, None, day1, D1, key=["shop", "sku"])
    history = step(con, history, day2, D2, key=["shop", "sku"])
    got = [(r["shop"], r["price"], r["valid_from"], r["is_current"]) for r in rows(history, "shop", "valid_from")]
    assert got == [("a", 10, BEGIN, False), ("a", 12, D2, True), ("b", 10, BEGIN, True)]


def test_a_timezone_aware_time_is_taken_as_naive_utc(con):
    history = step(con, None, snap([(1, "gold", "a")]), D1)
    at = datetime(2024, 1, 2, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert versions(step(con, history, snap([(1, "silver", "a")]), at))[-1][3] == D2
    assert rows(as_of(history, datetime(2024, 1, 2, tzinfo=UTC))) == [{"id": 1, "tier": "gold", "note": "a"}]


def test_a_column_added_to_the_source_is_null_in_older_versions_and_a_dropped_one_disappears(con):
    history = step(con, None, snap([(1, "gold", "a")]), D1)
    wider = ibis.schema({"id": "int64", "tier": "string", "region": "string"})
    history = step(con, history, snap([{"id": 1, "tier": "gold", "region": None}], wider), D2)
    assert history.columns == ("id", "tier", "region", *VALIDITY_COLUMNS)
    assert [tuple(r.values()) for r in rows(history)] == [(1, "gold", None, BEGIN, END, True)]


# --- worked examples: timestamp strategy -----------------------------------------------------------

TS_SCHEMA = ibis.schema({"id": "int64", "tier": "string", "updated_at": "timestamp"})


def ts_snap(*records):
    return snap([dict(zip(TS_SCHEMA.names, r, strict=True)) for r in records], TS_SCHEMA)


def ts_step(con, history, snapshot, at, **options):
    return step(con, history, snapshot, at, strategy="timestamp", updated_at="updated_at", **options)


def test_timestamp_strategy_versions_start_at_the_rows_updated_at(con):
    t1, t2 = datetime(2023, 12, 30), datetime(2024, 1, 1, 18)
    history = ts_step(con, None, ts_snap((1, "gold", t1), (2, "silver", t1)), D1)
    # 1: updated later -> new version from its updated_at; 2: other values, same updated_at -> no change.
    history = ts_step(con, history, ts_snap((1, "platinum", t2), (2, "bronze", t1)), D2)
    assert versions(history) == [
        (1, "gold", t1, BEGIN, t2, False),
        (1, "platinum", t2, t2, END, True),
        (2, "silver", t1, BEGIN, END, True),
    ]
    # An earlier updated_at than the current version's is not a change either.
    assert versions(ts_step(con, history, ts_snap((1, "old", t1), (2, "silver", t1)), D3)) == versions(history)


def test_timestamp_strategy_reappearance_and_nulls(con):
    t0, t3 = datetime(2023, 12, 1), datetime(2024, 1, 2, 12)
    history = ts_step(con, None, ts_snap((1, "gold", t0), (2, "gold", None), (3, "gold", t0)), D1)
    history = ts_step(con, history, ts_snap((2, "gold", None)), D2)
    # 1 reappears updated after its deletion: from updated_at; 3 reappears unchanged: from `at`;
    # 2: a null updated_at replaced by a value is a change.
    history = ts_step(con, history, ts_snap((1, "silver", t3), (2, "silver", t3), (3, "gold", t0)), D3)
    assert versions(history) == [
        (1, "gold", t0, BEGIN, D2, False),
        (1, "silver", t3, t3, END, True),
        (2, "gold", None, BEGIN, t3, False),
        (2, "silver", t3, t3, END, True),
        (3, "gold", t0, BEGIN, D2, False),
        (3, "gold", t0, D3, END, True),
    ]
    # A null updated_at is never later than a value.
    again = ts_step(con, history, ts_snap((1, "x", None), (2, "silver", t3), (3, "gold", t0)), D4)
    assert versions(again) == versions(history)


def test_timestamp_strategy_accepts_a_date_column(con):
    schema = ibis.schema({"id": "int64", "tier": "string", "changed_on": "date"})
    day1 = snap([{"id": 1, "tier": "gold", "changed_on": D1.date()}], schema)
    day2 = snap([{"id": 1, "tier": "silver", "changed_on": D2.date()}], schema)
    history = step(con, None, day1, D1, strategy="timestamp", updated_at="changed_on")
    history = step(con, history, day2, D3, strategy="timestamp", updated_at="changed_on")
    assert [(r["tier"], r["valid_from"], r["valid_to"]) for r in rows(history, "valid_from")] == [
        ("gold", BEGIN, D2),
        ("silver", D2, END),
    ]


# --- current and as_of --------------------------------------------------------------------------


def test_current_and_as_of_drop_the_validity_columns(con):
    history = step(con, None, snap([(1, "gold", "a"), (2, "silver", "b")]), D2)
    history = step(con, history, snap([(1, "platinum", "a")]), D3)
    assert rows(current(history)) == [{"id": 1, "tier": "platinum", "note": "a"}]
    before = [{"id": 1, "tier": "gold", "note": "a"}, {"id": 2, "tier": "silver", "note": "b"}]
    assert rows(as_of(history, D1), "id") == rows(as_of(history, D2), "id") == before
    # valid_to is exclusive: at D3 the new version is in force and member 2 is gone.
    assert (
        rows(as_of(history, D3), "id") == rows(as_of(history, END - timedelta(days=1)), "id") == rows(current(history))
    )
    assert rows(as_of(history, END)) == []


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "newest"}, "unknown strategy 'newest' (choose one of: check, timestamp)"),
        ({"hard_deletes": "drop"}, "unknown hard_deletes 'drop' (choose one of: close, ignore)"),
        ({"key": ["nope"]}, "key column 'nope' is not a column of the snapshot (id, tier, note)"),
        ({"key": "id"}, "key must be a non-empty list of column names, got 'id'"),
        ({"key": []}, "key must be a non-empty list of column names"),
        ({"tracked": ["tiers"]}, "tracked column 'tiers' is not a column of the snapshot (id, tier, note)"),
        ({"tracked": ["id", "tier"]}, "tracked column(s) id are key columns"),
        ({"strategy": "timestamp"}, "strategy='timestamp' needs an updated_at column: not given"),
        (
            {"strategy": "timestamp", "updated_at": "changed"},
            "needs an updated_at column: 'changed' is not a column of the snapshot (id, tier, note)",
        ),
        (
            {"strategy": "timestamp", "updated_at": "note"},
            "updated_at column 'note' is string, not a timestamp or date",
        ),
        ({"strategy": "timestamp", "updated_at": "note", "tracked": ["tier"]}, "tracked applies to strategy='check'"),
        ({"updated_at": "note"}, "updated_at applies to strategy='timestamp' only"),
        ({"at": BEGIN}, "at=1900-01-01 00:00:00 must lie strictly between"),
        ({"at": END}, "must lie strictly between 1900-01-01 00:00:00 and 9999-12-31 00:00:00"),
    ],
)
def test_bad_options_name_the_argument_and_the_choices(options, message):
    options = {"key": ["id"], "at": D1, **options}
    with pytest.raises(HistoryError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        apply_snapshot(None, snap([(1, "gold", "a")]), **options)
    assert isinstance(info.value, ProjectError)


def test_reserved_and_missing_columns_are_errors(con):
    reserved = ibis.memtable({"id": [1], "is_current": [True]})
    with pytest.raises(HistoryError, match="the snapshot has reserved column.s. is_current"):
        apply_snapshot(None, reserved, key=["id"], at=D1)
    not_a_history = ibis.memtable({"id": [1], "tier": ["gold"], "valid_from": [D1]})
    with pytest.raises(
        HistoryError, match="the history lacks column.s. valid_to, is_current .columns: id, tier, valid_from."
    ):
        apply_snapshot(not_a_history, snap([(1, "gold", "a")]), key=["id"], at=D2)


# --- properties over random change streams ----------------------------------------------------

KEYS = (1, 2, 3, 4)
# A stream: 1-8 snapshots, each a subset of the members with random values (a missing key is a
# deletion, its return a reappearance), taken 1-3 days apart.
snapshots = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.dictionaries(
            st.sampled_from(KEYS), st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from(["x", "y"]))
        ),
    ),
    min_size=1,
    max_size=8,
)


def as_stream(generated):
    """[(at, {id: (tier, note)})] at increasing dates."""
    at, stream = datetime(2024, 1, 1), []
    for gap, members in generated:
        at += timedelta(days=gap)
        stream.append((at, members))
    return stream


def tables(stream):
    return [(at, snap([(k, *v) for k, v in sorted(members.items())])) for at, members in stream]


def states(stream, hard_deletes, tracked_of):
    """The tracked values of the members in force after each snapshot (the reference model)."""
    state, out = {}, []
    for _, members in stream:
        if hard_deletes == "close":
            state = {}
        state = {**state, **{k: tracked_of(v) for k, v in members.items()}}
        out.append(state)
    return out


def check_versions(history, stream, hard_deletes):
    """Per member: versions never overlap and are contiguous (one ends where the next starts), except
    across a deletion (close only: a gap from the snapshot that missed the member to its return)."""
    by_key = {}
    for v in rows(history, "id", "valid_from"):
        by_key.setdefault(v["id"], []).append(v)
    seen = {k for _, members in stream for k in members}
    assert set(by_key) == seen
    absent_on = {at: set(KEYS) - set(members) for at, members in stream}
    for k, vs in by_key.items():
        assert all(v["valid_from"] < v["valid_to"] for v in vs)
        assert vs[0]["valid_from"] == BEGIN
        for a, b in zip(vs, vs[1:], strict=False):
            assert not a["is_current"] and a["valid_to"] <= b["valid_from"]
            deleted = hard_deletes == "close" and k in absent_on.get(a["valid_to"], ())
            assert (a["valid_to"] < b["valid_from"]) == deleted
        assert vs[-1]["is_current"] == (vs[-1]["valid_to"] == END)
    # Exactly one current row per member of the last snapshot (close), or per member ever delivered
    # (ignore: an absence never ends a version), and none for any other.
    expected = set(stream[-1][1]) if hard_deletes == "close" else seen
    assert sorted(r["id"] for r in rows(current(history))) == sorted(expected)


def in_force(history, times, columns):
    """{t: {id: tracked values}} from as_of, in one query."""
    pieces = [as_of(history, t).mutate(t=ibis.literal(t, type="timestamp")) for t in times]
    result = {t: {} for t in times}
    for r in rows(ibis.union(*pieces)):
        result[r["t"]][r["id"]] = tuple(r[c] for c in columns)
    return result


@settings(max_examples=30, deadline=None)
@given(generated=snapshots, hard_deletes=st.sampled_from(["close", "ignore"]), only_tier=st.booleans())
def test_property_check_strategy_over_random_streams(con, generated, hard_deletes, only_tier):
    stream = as_stream(generated)
    options = {"hard_deletes": hard_deletes, "tracked": ["tier"] if only_tier else None}
    history = replay(con, tables(stream), **options)
    check_versions(history, stream, hard_deletes)

    # as_of between (and at) snapshot dates is the snapshot in force, on the tracked columns; a member
    # first seen later is there too, with its first version (valid since the beginning of time).
    columns = ["tier"] if only_tier else ["tier", "note"]
    tracked_of = (lambda v: v[:1]) if only_tier else tuple
    first = {}
    for _, members in stream:
        for k, v in members.items():
            first.setdefault(k, tracked_of(v))
    expected = states(stream, hard_deletes, tracked_of)
    before = stream[0][0] - timedelta(days=1)
    times = [before] + [t + h for t, _ in stream for h in (timedelta(0), timedelta(hours=12))] + [END - timedelta(1)]
    got = in_force(history, times, columns)
    assert got[before] == first
    for i, (at, _) in enumerate(stream):
        want = {**first, **expected[i]}
        seen_yet = {k for _, members in stream[: i + 1] for k in members}
        want = {k: v for k, v in want.items() if k in expected[i] or k not in seen_yet}
        assert got[at] == got[at + timedelta(hours=12)] == want
    assert got[END - timedelta(1)] == got[stream[-1][0]]

    # Applying the last snapshot again (at the same or a later time) changes nothing.
    last_at, last = tables(stream[-1:])[0]
    assert versions(step(con, history, last, last_at, **options)) == versions(history)
    assert versions(step(con, history, last, last_at + timedelta(days=1), **options)) == versions(history)


@settings(max_examples=10, deadline=None)
@given(generated=snapshots, hard_deletes=st.sampled_from(["close", "ignore"]))
def test_property_replaying_a_stream_reproduces_the_history(con, generated, hard_deletes):
    stream = tables(as_stream(generated))
    assert versions(replay(con, stream, hard_deletes=hard_deletes)) == versions(
        replay(con, stream, hard_deletes=hard_deletes)
    )


@settings(max_examples=20, deadline=None)
@given(generated=snapshots, hard_deletes=st.sampled_from(["close", "ignore"]))
def test_property_timestamp_strategy_over_random_streams(con, generated, hard_deletes):
    # The source stamps a row with the time of its last change, a few hours before the delivery.
    stream, stamped, last = as_stream(generated), [], {}
    for at, members in stream:
        for k, (tier, _) in members.items():
            if k not in last or last[k][0] != tier:
                last[k] = (tier, at - timedelta(hours=6))
        stamped.append((at, ts_snap(*((k, *last[k]) for k in sorted(members)))))
    history = None
    for at, snapshot in stamped:
        history = ts_step(con, history, snapshot, at, hard_deletes=hard_deletes)
    check_versions(history, stream, hard_deletes)

    # At each snapshot date, the members in force are those of the model, with their delivered values.
    expected = states(stream, hard_deletes, lambda v: v[:1])
    got = in_force(history, [at for at, _ in stream], ["tier"])
    for i, (at, _) in enumerate(stream):
        seen_later = {k for _, members in stream[i + 1 :] for k in members} - {
            k for _, members in stream[: i + 1] for k in members
        }
        assert {k: v for k, v in got[at].items() if k not in seen_later} == expected[i]

    at, snapshot = stamped[-1]
    assert versions(ts_step(con, history, snapshot, at, hard_deletes=hard_deletes)) == versions(history)
