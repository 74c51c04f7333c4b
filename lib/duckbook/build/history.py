"""SCD2 history of an entity source: apply full snapshots of its members, one at a time, in date order.

A history table holds every version of every member (a row of the entity, identified by its key):
the snapshot's columns, then ``valid_from``, ``valid_to`` and ``is_current``. A version is in force
over ``valid_from <= t < valid_to``; the current version of a member is valid to
:data:`END_OF_TIME`, and a member's *first* version is valid from :data:`BEGINNING_OF_TIME`, so
that facts loaded before the first snapshot still find it. :func:`apply_snapshot` is a pure
``Table -> Table`` transform (no engine, no I/O): the caller materializes its result after each
snapshot and passes it back in with the next one.

Preconditions the caller guarantees (they are not checked, since checking needs a query):

* the snapshot's key is unique and never null (source contracts quarantine such rows);
* snapshots are applied at strictly increasing ``at`` (re-applying the last one, at the same or a
  later ``at``, is allowed and changes nothing);
* with ``strategy="timestamp"``, no ``updated_at`` is later than the ``at`` of its snapshot.

A history written before a column was added to the source gets that column as null; a column
dropped from the source is dropped from the history (the output has the snapshot's columns).

>>> import ibis
>>> from datetime import datetime
>>> day1 = ibis.memtable({"id": [1, 2], "tier": ["gold", "silver"]})
>>> day2 = ibis.memtable({"id": [1, 3], "tier": ["platinum", "bronze"]})
>>> history = apply_snapshot(None, day1, key=["id"], at=datetime(2024, 1, 1))
>>> history = apply_snapshot(history, day2, key=["id"], at=datetime(2024, 1, 2))
>>> for row in history.order_by("id", "valid_from").to_pyarrow().to_pylist():
...     print(row["id"], row["tier"], row["valid_from"].date(), row["valid_to"].date(), row["is_current"])
1 gold 1900-01-01 2024-01-02 False
1 platinum 2024-01-02 9999-12-31 True
2 silver 1900-01-01 2024-01-02 False
3 bronze 1900-01-01 9999-12-31 True
>>> as_of(history, datetime(2024, 1, 1)).order_by("id").to_pyarrow().to_pylist()
[{'id': 1, 'tier': 'gold'}, {'id': 2, 'tier': 'silver'}, {'id': 3, 'tier': 'bronze'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import ibis
import ibis.expr.types as ir

from duckbook.errors import ProjectError

#: ``valid_from`` of a member's first version: facts older than the first snapshot still find it.
BEGINNING_OF_TIME = datetime(1900, 1, 1)
#: ``valid_to`` of a member's current version.
END_OF_TIME = datetime(9999, 12, 31)
#: The columns :func:`apply_snapshot` appends to the snapshot's columns, in this order.
VALIDITY_COLUMNS = ("valid_from", "valid_to", "is_current")
STRATEGIES = ("check", "timestamp")
HARD_DELETES = ("close", "ignore")

# Names of the helper columns inside the joins (never in the output): the current version's
# columns, the last closed version's, and the flag of a delivered member.
_H = "_scd2_h_"
_G = "_scd2_g_"
_DELIVERED = "_scd2_delivered"


class HistoryError(ProjectError):
    """The history options of a snapshot do not fit its tables (unknown column, strategy or time)."""


def apply_snapshot(
    history: ir.Table | None,
    snapshot: ir.Table,
    *,
    key: Sequence[str],
    at: datetime,
    tracked: Sequence[str] | None = None,
    strategy: Literal["check", "timestamp"] = "check",
    updated_at: str | None = None,
    hard_deletes: Literal["close", "ignore"] = "close",
) -> ir.Table:
    """The history after applying one full snapshot of the members, taken at ``at``.

    Parameters
    ----------
    history
        The history so far (the previous result, materialized), or None (or an empty table)
        before the first snapshot.
    snapshot
        Every member as delivered at ``at``, one row per key.
    key
        The columns identifying a member.
    at
        When the snapshot was taken (a timezone-aware time is converted to naive UTC).
    tracked
        With ``strategy="check"``: the columns whose change makes a new version (default: every
        non-key column). A change only in other columns neither makes a version nor touches the
        current one. Nulls compare equal to nulls.
    strategy
        ``"check"``: a member changed when a tracked column differs from its current version;
        the new version is valid from ``at``. ``"timestamp"``: a member changed when its
        ``updated_at`` is later than the current version's (a null is never later, and any value
        is later than a null); the new version is valid from that ``updated_at`` (from ``at`` if
        it is not after the start of the version it replaces).
    updated_at
        With ``strategy="timestamp"``: the snapshot's column (timestamp or date) of last change.
    hard_deletes
        A current member absent from the snapshot: ``"close"`` its current version at ``at``
        (no successor), or ``"ignore"`` the absence (it stays current).

    Returns
    -------
    ir.Table
        The snapshot's columns then ``valid_from``, ``valid_to`` (timestamps) and ``is_current``.
        A new member's first version is valid from :data:`BEGINNING_OF_TIME`; a member that
        reappears after a deletion gets a new version from ``at`` (timestamp: from its
        ``updated_at`` if that is after the deletion, else from ``at``).

    Raises
    ------
    HistoryError
        An unknown strategy or hard_deletes option, a key, tracked or updated_at column missing
        from the snapshot (or key and validity columns from the history), an option that does
        not belong to the strategy, or ``at`` outside the open interval between the ends of time.
    """
    at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    compared = _validate(snapshot, key, at, tracked, strategy, updated_at, hard_deletes)
    columns = snapshot.columns
    at_, begin, end = _ts(at), _ts(BEGINNING_OF_TIME), _ts(END_OF_TIME)
    if history is None:
        return snapshot.select(*columns, valid_from=begin, valid_to=end, is_current=ibis.literal(True))
    hist = _align(history, snapshot, key)
    live, closed = hist.filter(hist.is_current), hist.filter(~hist.is_current)

    # Pair each delivered member with its current version (one outer join: either may be missing)
    # and with the end of its last closed version (a member seen before, now reappearing).
    cur = live.select(**{_H + c: live[c] for c in live.columns})
    gone = closed.group_by(key).agg(**{_G + "valid_to": closed.valid_to.max()})
    gone = gone.rename({_G + k: k for k in key})
    delivered = snapshot.mutate(**{_DELIVERED: ibis.literal(True)})
    joined = delivered.outer_join(cur, [delivered[k] == cur[_H + k] for k in key]).left_join(
        gone, [delivered[k] == gone[_G + k] for k in key]
    )
    in_snapshot, has_current = joined[_DELIVERED].notnull(), joined[_H + "is_current"].notnull()
    last_to = joined[_G + "valid_to"]
    if strategy == "check":
        same = [joined[c].identical_to(joined[_H + c]) for c in compared]
        changed = ~ibis.and_(*same) if same else ibis.literal(False)
        change_from = return_from = at_
    else:
        stamp, previous = joined[compared[0]].cast("timestamp"), joined[_H + compared[0]].cast("timestamp")
        changed = (stamp > previous).fill_null(False) | (previous.isnull() & stamp.notnull())
        # Never before the start of the version replaced (or the deletion followed): else from `at`.
        change_from = ibis.cases((stamp > joined[_H + "valid_from"], stamp), else_=at_)
        return_from = ibis.cases((stamp > last_to, stamp), else_=at_)

    # A current version ends where its successor starts, or at `at` when its member is absent.
    ends = [(in_snapshot & changed, change_from)]
    if hard_deletes == "close":
        ends.append((~in_snapshot, at_))
    close_at = ibis.cases(*ends, else_=ibis.null("timestamp"))
    kept = joined.filter(has_current).select(
        **{c: joined[_H + c] for c in columns},
        valid_from=joined[_H + "valid_from"],
        valid_to=close_at.fill_null(joined[_H + "valid_to"]),
        is_current=close_at.isnull(),
    )
    new_versions = joined.filter(in_snapshot & (~has_current | changed)).select(
        *columns,
        valid_from=ibis.cases((has_current, change_from), (last_to.notnull(), return_from), else_=begin),
        valid_to=end,
        is_current=ibis.literal(True),
    )
    return closed.union(kept).union(new_versions)


def current(history: ir.Table) -> ir.Table:
    """The current version of each member, without the validity columns.

    Parameters
    ----------
    history
        A table made by :func:`apply_snapshot`.
    """
    return history.filter(history.is_current).drop(*VALIDITY_COLUMNS)


def as_of(history: ir.Table, t: datetime) -> ir.Table:
    """The versions in force at ``t`` (``valid_from <= t < valid_to``), without the validity columns.

    Parameters
    ----------
    history
        A table made by :func:`apply_snapshot`.
    t
        The time (a timezone-aware time is converted to naive UTC).
    """
    t = t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t
    ts = _ts(t)
    return history.filter((history.valid_from <= ts) & (history.valid_to > ts)).drop(*VALIDITY_COLUMNS)


def _ts(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp")


def _validate(
    snapshot: ir.Table,
    key: Sequence[str],
    at: datetime,
    tracked: Sequence[str] | None,
    strategy: str,
    updated_at: str | None,
    hard_deletes: str,
) -> list[str]:
    """Check the options against the snapshot; return the columns compared to detect a change."""
    if strategy not in STRATEGIES:
        raise HistoryError(f"apply_snapshot: unknown strategy {strategy!r} (choose one of: {', '.join(STRATEGIES)})")
    if hard_deletes not in HARD_DELETES:
        raise HistoryError(
            f"apply_snapshot: unknown hard_deletes {hard_deletes!r} (choose one of: {', '.join(HARD_DELETES)})"
        )
    if not BEGINNING_OF_TIME < at < END_OF_TIME:
        raise HistoryError(f"apply_snapshot: at={at} must lie strictly between {BEGINNING_OF_TIME} and {END_OF_TIME}")
    schema = snapshot.schema()
    listed = ", ".join(schema.names)
    if isinstance(key, str) or not key:
        raise HistoryError(f"apply_snapshot: key must be a non-empty list of column names, got {key!r}")
    for argument, names in (("key", key), ("tracked", tracked or ())):
        for name in names:
            if name not in schema:
                raise HistoryError(
                    f"apply_snapshot: {argument} column {name!r} is not a column of the snapshot ({listed})"
                )
    clash = [c for c in VALIDITY_COLUMNS if c in schema]
    if clash:
        raise HistoryError(f"apply_snapshot: the snapshot has reserved column(s) {', '.join(clash)} (rename them)")
    if strategy == "timestamp":
        if tracked is not None:
            raise HistoryError(
                "apply_snapshot: tracked applies to strategy='check' only (timestamp compares updated_at)"
            )
        if updated_at is None or updated_at not in schema:
            given = "not given" if updated_at is None else f"{updated_at!r} is not a column of the snapshot ({listed})"
            raise HistoryError(f"apply_snapshot: strategy='timestamp' needs an updated_at column: {given}")
        if not (schema[updated_at].is_timestamp() or schema[updated_at].is_date()):
            raise HistoryError(
                f"apply_snapshot: updated_at column {updated_at!r} is {schema[updated_at]}, not a timestamp or date"
            )
        return [updated_at]
    if updated_at is not None:
        raise HistoryError("apply_snapshot: updated_at applies to strategy='timestamp' only")
    if tracked is None:
        return [c for c in schema.names if c not in key]
    bad = [c for c in tracked if c in key]
    if bad:
        raise HistoryError(f"apply_snapshot: tracked column(s) {', '.join(bad)} are key columns")
    return list(dict.fromkeys(tracked))


def _align(history: ir.Table, snapshot: ir.Table, key: Sequence[str], *, caller: str = "apply_snapshot") -> ir.Table:
    """The history with the snapshot's columns and types (an added column null), then the validity columns."""
    have = history.schema()
    missing = [c for c in (*key, *VALIDITY_COLUMNS) if c not in have]
    if missing:
        raise HistoryError(
            f"{caller}: the history lacks column(s) {', '.join(missing)} (columns: {', '.join(have.names)})"
        )
    columns = {}
    for name, dtype in snapshot.schema().items():
        if name not in have:
            columns[name] = ibis.null(dtype)
        else:
            columns[name] = history[name] if have[name] == dtype else history[name].cast(dtype)
    return history.select(
        **columns,
        valid_from=history.valid_from.cast("timestamp"),
        valid_to=history.valid_to.cast("timestamp"),
        is_current=history.is_current.cast("boolean"),
    )
