"""duckbook.build.history_changes.apply_changes: SCD2 versions from CDC versions, worked examples, a
brute-force reference and batch invariance."""

from __future__ import annotations

from datetime import datetime
from itertools import count

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duckbook.build.history import BEGINNING_OF_TIME, END_OF_TIME, HistoryError
from duckbook.build.history_changes import apply_changes
from duckbook.errors import ProjectError
from tests.unit.helpers import rows

BEGIN, END = BEGINNING_OF_TIME, END_OF_TIME
T1, T2, T3, T4 = (datetime(2024, 1, d, 12) for d in (1, 2, 3, 4))
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("tier", pa.string()),
        ("note", pa.string()),
        ("_cdc_lsn", pa.int64()),
        ("_cdc_seq", pa.int64()),
        ("_cdc_committed_at", pa.timestamp("us")),
        ("_cdc_op", pa.string()),
    ]
)
_names = count()


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def up(id_, tier, t, lsn, seq=0, note=None):
    return {"id": id_, "tier": tier, "note": note, "_cdc_lsn": lsn, "_cdc_seq": seq, "_cdc_committed_at": t,
            "_cdc_op": "upsert"}  # fmt: skip


def delete(id_, t, lsn, seq=0):
    return {**up(id_, None, t, lsn, seq), "_cdc_op": "delete"}


def truncate(t, lsn, seq=0):
    return {**up(None, None, t, lsn, seq), "_cdc_op": "truncate"}


def batch(records):
    return ibis.memtable(pa.Table.from_pylist(records, schema=SCHEMA))


def apply(con, records_per_batch, **options):
    """Apply each batch in turn, materializing between, as the snapshot materialization does."""
    options.setdefault("key", ["id"])
    history = None
    for records in records_per_batch:
        history = con.create_table(f"c{next(_names)}", apply_changes(history, batch(records), **options))
    return history


def versions(history):
    """(id, tier, valid_from, valid_to, is_current) in a stable order."""
    return [
        (r["id"], r["tier"], r["valid_from"], r["valid_to"], r["is_current"]) for r in rows(history, "id", "valid_from")
    ]


def test_insert_update_no_op_update_delete_and_reinsert(con):
    history = apply(
        con,
        [
            [
                up(1, "gold", T1, 10),
                up(2, "silver", T1, 10, 1),
                up(1, "platinum", T2, 20),
                up(2, "silver", T2, 20, 1),
                delete(2, T3, 30),
                up(2, "bronze", T4, 40),
            ]
        ],  # fmt: skip
    )
    assert versions(history) == [
        (1, "gold", BEGIN, T2, False),
        (1, "platinum", T2, END, True),
        (2, "silver", BEGIN, T3, False),  # the same values again made nothing; the delete closed it
        (2, "bronze", T4, END, True),  # reappearing: from its commit time
    ]
    assert history.columns == ("id", "tier", "note", "valid_from", "valid_to", "is_current")


def test_a_member_reappearing_in_a_later_batch_starts_at_its_commit_time(con):
    history = apply(con, [[up(1, "a", T1, 10), delete(1, T2, 20)], [up(1, "b", T3, 30)]])
    assert versions(history) == [(1, "a", BEGIN, T2, False), (1, "b", T3, END, True)]


def test_a_truncate_closes_every_live_member_of_the_history_and_of_the_batch(con):
    history = apply(con, [[up(1, "gold", T1, 10)], [up(2, "silver", T2, 20), truncate(T3, 30), up(3, "x", T4, 40)]])
    assert versions(history) == [
        (1, "gold", BEGIN, T3, False),
        (2, "silver", BEGIN, T3, False),
        (3, "x", BEGIN, END, True),  # new after the truncate: its first version ever
    ]


def test_a_key_change_is_a_delete_of_the_old_key_and_an_upsert_of_the_new(con):
    history = apply(con, [[up(1, "gold", T1, 10)], [delete(1, T2, 20, 0), up(7, "gold", T2, 20, 1)]])
    assert versions(history) == [(1, "gold", BEGIN, T2, False), (7, "gold", BEGIN, END, True)]


def test_several_commits_in_one_batch_and_at_one_time_leave_no_empty_version(con):
    history = apply(con, [[up(1, "a", T1, 10)], [up(1, "b", T2, 20), up(1, "c", T2, 21), up(1, "d", T3, 30)]])
    assert versions(history) == [
        (1, "a", BEGIN, T2, False),
        (1, "c", T2, T3, False),  # "b" lasted no time
        (1, "d", T3, END, True),
    ]
    assert versions(history) == versions(apply(con, [[up(1, "a", T1, 10), up(1, "b", T2, 20)], [up(1, "c", T2, 21)],
                                                     [up(1, "d", T3, 30)]]))  # fmt: skip


def test_only_tracked_columns_make_a_version(con):
    records = [up(1, "gold", T1, 10, note="n1"), up(1, "gold", T2, 20, note="n2"), up(1, "platinum", T3, 30, note="n3")]
    history = apply(con, [records], tracked=["tier"])
    assert [(r["tier"], r["note"], r["valid_from"]) for r in rows(history, "valid_from")] == [
        ("gold", "n1", BEGIN),  # the note's change alone neither made a version nor touched this one
        ("platinum", "n3", T3),
    ]
    every = apply(con, [records])  # by default every non-key column is tracked; nulls equal nulls
    assert [r["note"] for r in rows(every, "valid_from")] == ["n1", "n2", "n3"]


def test_hard_deletes_ignore_keeps_deleted_and_truncated_members_current(con):
    history = apply(
        con, [[up(1, "gold", T1, 10), up(2, "x", T1, 10, 1), delete(1, T2, 20), truncate(T3, 30), up(1, "new", T4, 40)]],
        hard_deletes="ignore",
    )  # fmt: skip
    assert versions(history) == [(1, "gold", BEGIN, T4, False), (1, "new", T4, END, True), (2, "x", BEGIN, END, True)]


def test_an_empty_history_table_is_no_history(con):
    empty = apply(con, [[]])
    assert rows(empty) == []
    history = con.create_table(f"c{next(_names)}", apply_changes(empty, batch([up(1, "gold", T2, 10)]), key=["id"]))
    assert versions(history) == [(1, "gold", BEGIN, END, True)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": ["nope"]}, "apply_changes: key column 'nope' is not a data column of the versions (id, tier, note,"),
        ({"key": "id"}, "key must be a non-empty list of column names, got 'id'"),
        ({"key": ["id"], "tracked": ["_cdc_lsn"]}, "tracked column '_cdc_lsn' is not a data column"),
        ({"key": ["id"], "tracked": ["id"]}, "tracked column(s) id are key columns"),
        ({"key": ["id"], "hard_deletes": "drop"}, "unknown hard_deletes 'drop' (choose one of: close, ignore)"),
        ({"key": ["id"], "op_column": "op"}, "the versions lack the time, order or operation column 'op'"),
    ],
)
def test_bad_options_name_the_argument_and_the_choices(options, message):
    with pytest.raises(HistoryError) as info:
        apply_changes(None, batch([]), **options)
    assert message in str(info.value)
    assert isinstance(info.value, ProjectError)


def test_a_reserved_column_and_a_history_without_validity_columns_are_refused():
    with pytest.raises(HistoryError, match="reserved column"):
        apply_changes(None, batch([]).mutate(valid_to=ibis.literal(T1)), key=["id"])
    with pytest.raises(
        HistoryError, match="apply_changes: the history lacks column.* valid_from, valid_to, is_current"
    ):
        apply_changes(batch([]).select("id", "tier"), batch([]), key=["id"])


def reference(records, hard_deletes="close", tracked=("tier", "note")):
    """Brute force: walk the versions in (lsn, seq) order with a dict of live members."""
    live, seen, out = {}, set(), []

    def close(k, t):
        data, since = live.pop(k)
        if t > since:
            out.append((k, *data, since, t, False))

    for r in sorted(records, key=lambda r: (r["_cdc_lsn"], r["_cdc_seq"])):
        t, op, k = r["_cdc_committed_at"], r["_cdc_op"], r["id"]
        if op != "upsert":
            if hard_deletes == "close":
                for member in list(live) if op == "truncate" else [k] if k in live else []:
                    close(member, t)
            continue
        data = (r["tier"], r["note"])
        if k in live:
            if all(data[i] == live[k][0][i] for i, c in enumerate(("tier", "note")) if c in tracked):
                continue
            close(k, t)
        live[k] = (data, t if k in seen else BEGIN)
        seen.add(k)
    out += [(k, *data, since, END, True) for k, (data, since) in live.items()]
    return sorted(out, key=lambda v: (v[0], v[3]))


@st.composite
def streams(draw):
    """Random ops over two keys at few commit times (ties and times out of order included),
    in (lsn, seq) order, and split points."""
    n = draw(st.integers(0, 14))
    records, lsn = [], 0
    for _ in range(n):
        lsn += draw(st.integers(0, 1))  # several versions in one transaction
        seq = len(records)
        t = datetime(2024, 1, 1 + draw(st.integers(0, 3)), 12)
        op = draw(st.sampled_from(["upsert"] * 5 + ["delete"] * 2 + ["truncate"]))
        k = draw(st.integers(1, 2))
        if op == "upsert":
            records.append(
                up(k, draw(st.sampled_from(["a", "b", None])), t, lsn, seq, note=draw(st.sampled_from(["x", None])))
            )
        else:
            records.append(delete(k, t, lsn, seq) if op == "delete" else truncate(t, lsn, seq))
    cuts = sorted(draw(st.sets(st.integers(1, max(n - 1, 1)), max_size=4))) if n > 1 else []
    return records, cuts


@settings(max_examples=35, deadline=None)
@given(
    stream=streams(),
    hard_deletes=st.sampled_from(["close", "ignore"]),
    tracked=st.sampled_from([None, ["tier"]]),
)
def test_any_split_gives_the_reference_history(con, stream, hard_deletes, tracked):
    records, cuts = stream
    records = _monotone(records)
    expected = reference(records, hard_deletes, tracked or ("tier", "note"))
    options = {"hard_deletes": hard_deletes, "tracked": tracked}
    whole = apply(con, [records], **options)
    parts = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    split = apply(con, parts, **options)
    got = [(r["id"], r["tier"], r["note"], r["valid_from"], r["valid_to"], r["is_current"])
           for r in rows(whole, "id", "valid_from")]  # fmt: skip
    assert got == expected
    assert _all(split) == _all(whole)


def _monotone(records):
    """Commit times made non-decreasing along the order (the precondition): each the running maximum."""
    latest, out = None, []
    for r in records:
        latest = r["_cdc_committed_at"] if latest is None else max(latest, r["_cdc_committed_at"])
        out.append({**r, "_cdc_committed_at": latest})
    return out


@settings(max_examples=15, deadline=None)
@given(stream=streams())
def test_times_out_of_order_still_split_invariantly_without_empty_versions(con, stream):
    records, cuts = stream
    whole = apply(con, [records])
    parts = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    assert _all(apply(con, parts)) == _all(whole)
    assert all(r["valid_from"] < r["valid_to"] for r in rows(whole))


def _all(history):
    """Every row as a tuple, sorted on all of them (times out of order may repeat a valid_from)."""
    return sorted(tuple(str(v) for v in r.values()) for r in rows(history))
