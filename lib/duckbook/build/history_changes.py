"""SCD2 history of a changes source: apply its CDC versions, one SCD2 version per commit.

A changes source lands *versions*: one row per (key, transaction) that touched the key, the row as
it stood after the transaction, with its commit time, its order (commit LSN, order in the
transaction) and its operation (``upsert``, ``delete`` with only the key, ``truncate`` with no
columns: every member before it is gone). :func:`apply_changes` folds them into the history
layout of :func:`duckbook.build.history.apply_snapshot` (the data columns, then ``valid_from``,
``valid_to``, ``is_current``), as a pure ``Table -> Table`` transform.

For each member the sequence is its current version (if any), then its versions in order:

* an ``upsert`` makes a version valid from its commit time, unless its tracked columns equal the
  live version's (then it makes nothing); a member's first version ever is valid from
  :data:`~duckbook.build.history.BEGINNING_OF_TIME` (facts older than the first version find it);
* a ``delete`` closes the live version at its commit time; a ``truncate`` closes every member
  live at that point (``hard_deletes="ignore"``: neither does anything);
* a version ends where the member's next version, delete or truncate starts; the last live one
  is current. A version that would end where (or before) it starts never appears: of several
  versions of a key at one commit time only the last is kept.

The result depends only on the versions applied, not on how they were split into calls:
applying them at once or in consecutive batches (materializing in between) gives the same history.

Preconditions the caller guarantees (checking them needs a query): the key is never null in
upserts and deletes; the order columns are unique per key; batches are applied in order (a batch
holds no version ordered before one applied earlier); commit times do not decrease along the order
(else a version that would end before it starts is dropped and its neighbours may overlap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

from duckbook.build.history import (
    BEGINNING_OF_TIME,
    END_OF_TIME,
    HARD_DELETES,
    VALIDITY_COLUMNS,
    HistoryError,
    _align,
    _ts,
)

# Helper columns (never in the output): time, order, operation of a sequence row; a history row's
# valid_from; whether a row starts a version; the next boundary's time; the starts so far; a known key.
_T, _OP, _VF, _START, _NEXT, _NTH, _KNOWN = (f"_scd2_{n}" for n in ("t", "op", "vf", "start", "next", "nth", "known"))
_HIST = "history"  # the operation of a member's current version in the sequence


def apply_changes(
    history: ir.Table | None,
    versions: ir.Table,
    *,
    key: Sequence[str],
    tracked: Sequence[str] | None = None,
    hard_deletes: Literal["close", "ignore"] = "close",
    time_column: str = "_cdc_committed_at",
    order: Sequence[str] = ("_cdc_lsn", "_cdc_seq"),
    op_column: str = "_cdc_op",
) -> ir.Table:
    """The history after applying a batch of CDC ``versions`` (see the module docstring).

    Parameters
    ----------
    history
        The history so far (the previous result, materialized), or None (or an empty table)
        before the first batch.
    versions
        The versions of the batch: the data columns and ``time_column``, ``order``, ``op_column``.
    key
        The columns identifying a member.
    tracked
        The columns whose change makes a new version (default: every non-key data column); a
        change only in other columns makes nothing. Nulls compare equal to nulls.
    hard_deletes
        ``"close"``: a delete or truncate closes the live versions; ``"ignore"``: they do nothing.
    time_column, order, op_column
        The versions' commit time (naive UTC timestamp), order (ascending) and operation
        (``upsert``, ``delete`` or ``truncate``) columns; none is in the output.

    Returns
    -------
    ir.Table
        The versions' data columns, then ``valid_from``, ``valid_to`` and ``is_current``.

    Raises
    ------
    HistoryError
        An unknown hard_deletes option, a key, tracked, time, order or operation column missing
        from the versions, a reserved column name, or a history lacking the key or validity columns.

    Examples
    --------
    >>> import ibis
    >>> from datetime import datetime
    >>> t1, t2, t3 = (datetime(2024, 1, d, 9) for d in (1, 2, 3))
    >>> versions = ibis.memtable({
    ...     "id": [1, 2, 1, 1, 2], "tier": ["gold", "silver", "gold", "platinum", None],
    ...     "_cdc_committed_at": [t1, t1, t2, t3, t3], "_cdc_lsn": [10, 10, 20, 30, 30],
    ...     "_cdc_seq": [0, 1, 0, 0, 1], "_cdc_op": ["upsert", "upsert", "upsert", "upsert", "delete"]})
    >>> history = apply_changes(None, versions, key=["id"])
    >>> for row in history.order_by("id", "valid_from").to_pyarrow().to_pylist():
    ...     print(row["id"], row["tier"], row["valid_from"], row["valid_to"].date(), row["is_current"])
    1 gold 1900-01-01 00:00:00 2024-01-03 False
    1 platinum 2024-01-03 09:00:00 9999-12-31 True
    2 silver 1900-01-01 00:00:00 2024-01-03 False
    """
    meta = (time_column, *order, op_column)
    data = [c for c in versions.columns if c not in meta]
    compared = _validate(versions, key, tracked, hard_deletes, meta, data)
    types = versions.select(*data).schema()
    begin, end = _ts(BEGINNING_OF_TIME), _ts(END_OF_TIME)
    v = versions
    events = v.select(
        *data,
        **{_T: v[time_column].cast("timestamp"), _OP: v[op_column], _VF: ibis.null("timestamp")},
        **_order(v, order),
    )
    if hard_deletes == "ignore":
        events = events.filter(events[_OP] == "upsert")
    rows = events.filter(events[_OP].isin(["upsert", "delete"]))
    hist = None if history is None else _align(history, versions.select(*data), key, caller="apply_changes")
    parts = [rows]
    members = rows.select(*key)
    if hist is not None:
        live = hist.filter(hist.is_current)
        no_order = {f"_scd2_o{i}": ibis.null(v[c].type()) for i, c in enumerate(order)}
        parts.append(
            live.select(*data, **{_T: live.valid_from, _OP: ibis.literal(_HIST), _VF: live.valid_from}, **no_order)
        )
        members = members.union(live.select(*key))
    # A truncate is a delete of every member live at that point: of each member with a row here.
    truncates = events.filter(events[_OP] == "truncate").select(_T, *(f"_scd2_o{i}" for i in range(len(order))))
    wiped = members.distinct().cross_join(truncates)
    parts.append(
        wiped.select(
            *(wiped[c] if c in key else ibis.null(types[c]).name(c) for c in data),
            **{_T: wiped[_T], _OP: ibis.literal("delete"), _VF: ibis.null("timestamp")},
            **{f"_scd2_o{i}": wiped[f"_scd2_o{i}"] for i in range(len(order))},
        )
    )
    seq = ibis.union(*parts)

    # The member's current version first, then its versions in order.
    ordering = [(seq[_OP] != _HIST).cast("int8"), *(seq[f"_scd2_o{i}"] for i in range(len(order)))]
    w = ibis.window(group_by=list(key), order_by=ordering)
    before = seq[_OP].lag().over(w)
    # The row before an upsert holds the live version's tracked values (a no-op upsert equals it).
    same = [seq[c].identical_to(seq[c].lag().over(w)) for c in compared]
    changed = before.isnull() | (before == "delete") | (~ibis.and_(*same) if same else ibis.literal(False))
    marked = seq.mutate(**{_START: (seq[_OP] == _HIST) | ((seq[_OP] == "upsert") & changed)})
    bounds = marked.filter(marked[_START] | (marked[_OP] == "delete"))
    ordering = [(bounds[_OP] != _HIST).cast("int8"), *(bounds[f"_scd2_o{i}"] for i in range(len(order)))]
    wb = ibis.window(group_by=list(key), order_by=ordering)
    upto = ibis.window(group_by=list(key), order_by=ordering, rows=(None, 0))
    bounds = bounds.mutate(**{_NEXT: bounds[_T].lead().over(wb), _NTH: bounds[_START].cast("int64").sum().over(upto)})
    starts = bounds.filter(bounds[_START])
    if hist is not None:
        known = hist.select(*key).distinct().mutate(**{_KNOWN: ibis.literal(True)})
        starts = starts.left_join(known, list(key)).select(*starts.columns, _KNOWN)
        first_ever = starts[_KNOWN].isnull() & (starts[_NTH] == 1)
    else:
        first_ever = starts[_NTH] == 1
    valid_from = ibis.cases((starts[_OP] == _HIST, starts[_VF]), (first_ever, begin), else_=starts[_T])
    valid_to = starts[_NEXT].fill_null(end)
    made = starts.select(*data, valid_from=valid_from, valid_to=valid_to, is_current=valid_to == end)
    made = made.filter(made.valid_to > made.valid_from)  # a version ended where it started never appears
    return made if hist is None else hist.filter(~hist.is_current).union(made)


def _order(versions: ir.Table, order: Sequence[str]) -> dict[str, ir.Value]:
    """The order columns under helper names (a data column may share a name with none of them)."""
    return {f"_scd2_o{i}": versions[c] for i, c in enumerate(order)}


def _validate(
    versions: ir.Table,
    key: Sequence[str],
    tracked: Sequence[str] | None,
    hard_deletes: str,
    meta: Sequence[str],
    data: Sequence[str],
) -> list[str]:
    """Check the options against the versions; return the columns compared to detect a change."""
    if hard_deletes not in HARD_DELETES:
        raise HistoryError(
            f"apply_changes: unknown hard_deletes {hard_deletes!r} (choose one of: {', '.join(HARD_DELETES)})"
        )
    if isinstance(key, str) or not key:
        raise HistoryError(f"apply_changes: key must be a non-empty list of column names, got {key!r}")
    schema = versions.schema()
    listed = ", ".join(schema.names)
    for name in meta:
        if name not in schema:
            raise HistoryError(
                f"apply_changes: the versions lack the time, order or operation column {name!r} (columns: {listed})"
            )
    for argument, names in (("key", key), ("tracked", tracked or ())):
        for name in names:
            if name not in data:
                raise HistoryError(
                    f"apply_changes: {argument} column {name!r} is not a data column of the versions ({listed})"
                )
    clash = [c for c in schema.names if c in VALIDITY_COLUMNS or c.startswith("_scd2_")]
    if clash:
        raise HistoryError(f"apply_changes: the versions have reserved column(s) {', '.join(clash)} (rename them)")
    if tracked is None:
        return [c for c in data if c not in key]
    bad = [c for c in tracked if c in key]
    if bad:
        raise HistoryError(f"apply_changes: tracked column(s) {', '.join(bad)} are key columns")
    return list(dict.fromkeys(tracked))
