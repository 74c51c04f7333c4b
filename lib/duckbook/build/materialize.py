"""Materializations: how one declared model's table is brought up to date in a build.

* ``table``: rebuilt in full when one of its inputs changed since its last build (skipped when
  none did).
* ``incremental``: only the rows its inputs' changes reach are recomputed and replaced, in the
  run's transaction, so a rerun is idempotent:

  - ``row_wise`` (a staging model: one output row per input row): the model's function runs on
    the changed input rows only and its rows are replaced by ``unique_key``;
  - ``time_column``: the window from the earliest day a change reaches (minus ``lookback_days``,
    truncated to ``time_grain``), plus rows with a null time, is recomputed and replaced;
  - ``unique_key`` alone: the rows of the keys a change reaches are recomputed and replaced.

  A change reaches rows through a column the input (or the model) carries: the input's time
  column, the model's unique key, or the key or time column the change names
  (:func:`duckbook.build.changes.changed_rows`). A change that reaches no column the model can
  use falls back to a full rebuild, so the result always equals a full refresh.
* ``snapshot``: SCD2 history of a snapshot source; each delivered snapshot not applied yet is
  applied in delivery order (:func:`duckbook.build.history.apply_snapshot`); a correction of an
  applied snapshot replays them all. Of a changes source (CDC), the version batches not applied
  yet are applied together (:func:`duckbook.build.history_changes.apply_changes`: one version per commit).

A model whose code fingerprint (:attr:`duckbook.project.Model.fingerprint`: its function, the
code of its package it uses, its options) differs from the one it was last built with is rebuilt
in full, whatever its materialization; its downstream models follow through the change feed.

Every build records what it changed (:mod:`duckbook.build.changes`) and what it consumed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from duckbook import engine
from duckbook.build import changes, history, history_changes
from duckbook.build.changes import Change, Feed
from duckbook.errors import ProjectError
from duckbook.ingest import files
from duckbook.project import Model

if TYPE_CHECKING:
    from duckbook.build.context import StageContext
    from duckbook.build.wap import Build

#: More changed keys than this are recorded as a full change.
MAX_CHANGED_KEYS = 50_000
_FAR_FUTURE = dt.datetime(9999, 1, 1)
#: The CDC columns of a changes source's versions and the names they carry while the model's
#: function runs (unlikely to clash with a column of the source).
CDC_CARRIED = {c: f"duckbook_cdc{c[4:]}" for c in ("_cdc_committed_at", "_cdc_lsn", "_cdc_seq", "_cdc_op")}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a build did to one model: ``full`` (rebuilt), ``incremental`` (rows replaced),
    ``snapshot`` (snapshots applied) or ``unchanged`` (skipped), with a short detail."""

    model: str
    action: str
    detail: str = ""


def build_model(
    ctx: StageContext,
    build: Build,
    m: Model,
    inputs: Mapping[str, ir.Table],
    feed: Feed,
    *,
    full_refresh: bool = False,
) -> tuple[ir.Table, Outcome]:
    """Bring ``m`` up to date in ``build`` (``inputs``: its input tables by qualified name),
    recording what changed in ``feed``; return the table downstream models of the build read,
    and what was done."""
    con = ctx.con
    state = feed.consumed(m.qualified)
    seq = feed.last_seq
    exists = engine.table_exists(con, m.schema, m.name)
    code_changed = feed.code_changed(m.qualified, m.fingerprint)
    if m.materialization == "snapshot":
        fresh = full_refresh or state is None or not exists or code_changed
        return _snapshot(ctx, build, feed, m, state, seq, fresh=fresh)
    if full_refresh or state is None or not exists:
        return _full(ctx, build, feed, m, inputs, seq, "first build" if state is None or not exists else "full refresh")
    if code_changed:
        return _full(ctx, build, feed, m, inputs, seq, "code changed", diff=True)
    pending: dict[str, list[Change]] = {}
    for change in feed.pending(inputs, after=state[0]):
        pending.setdefault(change.table, []).append(change)
    if not pending:
        feed.mark_consumed(m.qualified, seq)
        return ctx.table(m.qualified), Outcome(m.qualified, "unchanged", "no input changed")
    if m.materialization == "table":
        return _full(ctx, build, feed, m, inputs, seq, "input changed: " + ", ".join(sorted(pending)), diff=True)
    if lost := sorted(name for name, found in pending.items() if changes.lost_keys(inputs[name], found)):
        # a full change downstream too: the rows derived from the deleted ones are only found by rebuilding
        return _full(ctx, build, feed, m, inputs, seq, "rows deleted from " + ", ".join(lost))
    return _incremental(ctx, build, feed, m, inputs, pending, seq)


def _full(
    ctx: StageContext,
    build: Build,
    feed: Feed,
    m: Model,
    inputs: Mapping[str, ir.Table],
    seq: int,
    why: str,
    *,
    diff: bool = False,
) -> tuple[ir.Table, Outcome]:
    """Rebuild ``m`` in full (staged, swapped in at publish) and record the change: the keys that
    differ from the published table when ``diff`` and it has a unique key, else everything."""
    staged = build.add(m.name, m.function(*[inputs[q] for q in _edges(ctx, m)]))
    change = changes.full(m.qualified)
    if diff and m.unique_key and engine.table_exists(ctx.con, m.schema, m.name):
        old = ctx.table(m.qualified)
        if old.schema() == staged.schema():
            differ = staged.difference(old).union(old.difference(staged))
            keys = _keys(differ, m.unique_key)
            if keys is not None:
                change = Change(m.qualified, key_column=m.unique_key, keys=keys)
    feed.record(change)
    feed.mark_consumed(m.qualified, seq)
    return staged, Outcome(m.qualified, "full", why)


def _incremental(
    ctx: StageContext,
    build: Build,
    feed: Feed,
    m: Model,
    inputs: Mapping[str, ir.Table],
    pending: Mapping[str, Sequence[Change]],
    seq: int,
) -> tuple[ir.Table, Outcome]:
    """Replace the rows of ``m`` that the ``pending`` changes of its inputs reach (see module
    docstring), or rebuild it in full when a change reaches no column it can use."""
    con, edges = ctx.con, _edges(ctx, m)
    target = ctx.table(m.qualified)
    if m.row_wise:  # one output row per input row: run on the changed rows only
        changed = changes.changed_rows(inputs[edges[0]], pending[edges[0]])
        if changed is None:
            return _full(ctx, build, feed, m, inputs, seq, f"full change of {edges[0]}")
        delta = engine.materialize_temp(con, m.function(changed), prefix="_delta")
        keys = delta.select(m.unique_key)
        since = None
        if m.time_column:
            since = _earliest([(m.time_column, t) for t in (delta, target.semi_join(keys, m.unique_key))])
        engine.delete_keys(con, m.schema, m.name, m.unique_key, keys)
        return _replaced(
            ctx, build, feed, m, delta, seq, since=since, detail=f"{_count(delta)} row(s) by {m.unique_key}"
        )
    new = m.function(*[inputs[q] for q in edges])
    if m.time_column:
        since = _window_start(m, inputs, pending, new, target)
        if since is None:
            return _full(ctx, build, feed, m, inputs, seq, "a change reaches no column of the model")
        literal = ibis.literal(since, type="timestamp").cast(new[m.time_column].type())
        delta = engine.materialize_temp(
            con, new.filter((new[m.time_column] >= literal) | new[m.time_column].isnull()), prefix="_delta"
        )
        engine.delete_since(con, m.schema, m.name, m.time_column, since)
        return _replaced(ctx, build, feed, m, delta, seq, since=since, detail=f"{m.time_column} >= {since:%Y-%m-%d}")
    reached = _reached_keys(m, inputs, pending, new, target)
    if reached is None:
        return _full(ctx, build, feed, m, inputs, seq, "a change reaches no column of the model")
    reached = engine.materialize_temp(con, reached, prefix="_keys")
    delta = engine.materialize_temp(con, new.semi_join(reached, m.unique_key), prefix="_delta")
    engine.delete_keys(con, m.schema, m.name, m.unique_key, reached)
    return _replaced(ctx, build, feed, m, delta, seq, keys_of=reached, detail=f"{_count(reached)} {m.unique_key}(s)")


def _replaced(
    ctx: StageContext,
    build: Build,
    feed: Feed,
    m: Model,
    delta: ir.Table,
    seq: int,
    *,
    since: dt.datetime | None = None,
    keys_of: ir.Table | None = None,
    detail: str = "",
) -> tuple[ir.Table, Outcome]:
    """Append ``delta`` (its old rows already deleted), adopt the table into the build, record
    the change (the keys of ``keys_of`` or ``delta``, and ``since``). A column ``delta`` has and
    the table has not (a source's schema evolved) is added to the table first."""
    have = ctx.table(m.qualified).schema()
    adds = {c: str(t) for c, t in delta.schema().items() if c not in have}
    if adds:
        engine.evolve_table(ctx.con, m.schema, m.name, adds, {})
    engine.append(ctx.con, m.schema, m.name, delta)
    table = build.adopt(m.name, rows_written=_count(delta), expr=delta)
    # a time window is told by its start: its keys would repeat every row of the window
    window = since is not None and not m.row_wise
    keys = _keys(keys_of if keys_of is not None else delta, m.unique_key) if m.unique_key and not window else ()
    if keys is None:
        change = changes.full(m.qualified)
    else:
        change = Change(
            m.qualified,
            key_column=m.unique_key if keys else "",
            keys=keys,
            time_column=m.time_column if since else "",
            since=since,
        )
    feed.record(change)
    feed.mark_consumed(m.qualified, seq)
    return table, Outcome(m.qualified, "incremental", detail)


def _window_start(
    m: Model,
    inputs: Mapping[str, ir.Table],
    pending: Mapping[str, Sequence[Change]],
    new: ir.Table,
    target: ir.Table,
) -> dt.datetime | None:
    """The first instant of ``m.time_column`` any pending change reaches (day- or grain-aligned,
    minus the lookback), far in the future when only null times are reached, or ``None`` when a
    change reaches no column it can be told by (a full rebuild)."""
    time_of = dict(m.time_inputs)
    reached: list[tuple[str, ir.Table]] = []  # (time column, changed rows): all read in one query
    for name, input_changes in pending.items():
        changed = changes.changed_rows(inputs[name], input_changes)
        if changed is None:
            return None
        column = time_of.get(name, m.time_column)
        if column in changed.columns:
            reached.append((column, changed))
        else:  # the change names a column the model carries (e.g. an order's id, a product's id)
            mine = [changes.changed_rows(t, input_changes) for t in (new, target)]
            if any(t is None for t in mine):
                return None
            reached += [(m.time_column, t) for t in mine if t is not None]
    found = _earliest(reached)
    start = (_FAR_FUTURE if found is None else found) - dt.timedelta(days=m.lookback_days)
    return _truncate(start, m.time_grain or "day")


def _reached_keys(
    m: Model,
    inputs: Mapping[str, ir.Table],
    pending: Mapping[str, Sequence[Change]],
    new: ir.Table,
    target: ir.Table,
) -> ir.Table | None:
    """The distinct ``m.unique_key`` values the pending changes reach, or ``None`` (full rebuild)."""
    parts: list[ir.Table] = []
    for name, input_changes in pending.items():
        changed = changes.changed_rows(inputs[name], input_changes)
        if changed is None:
            return None
        if m.unique_key in changed.columns:
            parts.append(changed.select(m.unique_key))
            continue
        for t in (new, target):
            mine = changes.changed_rows(t, input_changes)
            if mine is None:
                return None
            parts.append(mine.select(m.unique_key))
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out.distinct()


def _snapshot(
    ctx: StageContext,
    build: Build,
    feed: Feed,
    m: Model,
    state: tuple[int, list[str]] | None,
    seq: int,
    *,
    fresh: bool,
) -> tuple[ir.Table, Outcome]:
    """Apply the source's delivered snapshots not applied yet to the model's history."""
    con = ctx.con
    source = _edges(ctx, m)[0].partition(".")[2]
    is_changes = ctx.project.sources[source].kind == "changes"
    if is_changes and m.strategy == "timestamp":
        raise ProjectError(
            f"model {m.qualified}: strategy='timestamp' does not apply to the changes source {source} "
            "(a version's commit time is its timestamp): use strategy='check' (the default)"
        )
    batches = files.current_batches(con, source, ctx.cfg.raw_zone)
    applied = [] if fresh or state is None else state[1]
    current_ids = [b.batch_id for b in batches]
    replay = fresh or not set(applied) <= set(current_ids) or current_ids[: len(applied)] != applied
    todo = batches if replay else batches[len(applied) :]
    if not todo:
        feed.mark_consumed(m.qualified, seq, applied=current_ids)
        return ctx.table(m.qualified), Outcome(m.qualified, "unchanged", "no new snapshot")
    old = None if replay else ctx.table(m.qualified)
    if is_changes:  # together: the same history as one call per batch (apply_changes orders the versions)
        hist = _apply_versions(ctx, m, source, old, [b.parquet_path for b in todo])
    else:
        hist = old
        for b in todo:
            rows = m.function(con.read_parquet(b.parquet_path, hive_partitioning=False))
            at = dt.datetime.combine(b.delivery_date, dt.time())
            step = history.apply_snapshot(
                hist,
                rows,
                key=[m.unique_key],
                at=at,
                tracked=m.tracked,
                strategy=m.strategy,  # type: ignore[arg-type]
                updated_at=m.updated_at or None,
                hard_deletes=m.hard_deletes,  # type: ignore[arg-type]
            )
            hist = engine.materialize_temp(con, step, prefix="_history")
    assert hist is not None
    staged = build.add(m.name, hist, sources=_edges(ctx, m))  # hist is a temp table: lineage names the inputs
    change = changes.full(m.qualified)
    if old is not None and old.schema() == staged.schema():  # a new column: every member changed
        keys = _keys(staged.difference(old).union(old.difference(staged)), m.unique_key)
        change = change if keys is None else Change(m.qualified, key_column=m.unique_key, keys=keys)
    feed.record(change)
    feed.mark_consumed(m.qualified, seq, applied=current_ids)
    what = "replayed" if replay else "applied"
    kind = "version batch(es)" if is_changes else "snapshot(s)"
    return staged, Outcome(m.qualified, "snapshot", f"{what} {len(todo)} {kind} of {source}")


def _apply_versions(ctx: StageContext, m: Model, source: str, hist: ir.Table | None, paths: Sequence[str]) -> ir.Table:
    """The history of ``m`` after the version batches at ``paths`` of the changes source ``source``
    (:func:`duckbook.build.history_changes.apply_changes`), materialized. The model's function runs on the
    versions with their CDC columns under names it carries through (``passthrough`` leaves out
    ``_`` columns); a function that drops them cannot place its rows in time."""
    raw = ctx.con.read_parquet(list(paths), hive_partitioning=False, union_by_name=True)
    out = m.function(raw.rename({carried: column for column, carried in CDC_CARRIED.items()}))
    missing = [c for c in CDC_CARRIED.values() if c not in out.columns]
    if missing:
        raise ProjectError(
            f"model {m.qualified}: a snapshot model over a CDC source must carry unknown columns: use "
            f"passthrough(...) (the function dropped {', '.join(missing)} of the versions of {source})"
        )
    versions = out.rename(dict(CDC_CARRIED.items()))
    step = history_changes.apply_changes(
        hist,
        versions,
        key=[m.unique_key],
        tracked=m.tracked,
        hard_deletes=m.hard_deletes,  # type: ignore[arg-type]
    )
    return engine.materialize_temp(ctx.con, step, prefix="_history")


def _edges(ctx: StageContext, m: Model) -> tuple[str, ...]:
    return ctx.project.edges[m.qualified]


def _earliest(columns: Sequence[tuple[str, ir.Table]]) -> dt.datetime | None:
    """The earliest day of each ``(column, table)`` as a datetime (``None`` if all null or none):
    one query for all (each query on the lake costs ~20 ms, whatever it reads)."""
    if not columns:
        return None
    parts = [t.aggregate(**{f"v{i}": t[column].min()}) for i, (column, t) in enumerate(columns)]
    row = parts[0]
    for part in parts[1:]:
        row = row.cross_join(part)  # one row each: one row of every minimum, in its own type
    values = row.to_pyarrow().to_pylist()[0].values()
    days = [dt.datetime(v.year, v.month, v.day) for v in values if v is not None and v == v]  # NaT != NaT
    return min(days, default=None)


def _truncate(t: dt.datetime, grain: str) -> dt.datetime:
    """``t`` at the start of its day, ISO week (Monday), month, quarter or year."""
    day = dt.datetime(t.year, t.month, t.day)
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    return day


def _keys(table: ir.Table, column: str) -> tuple[str, ...] | None:
    """The distinct values of ``column`` as strings, or ``None`` when there are too many."""
    values = table.select(v=table[column].cast("string")).distinct().limit(MAX_CHANGED_KEYS + 1)
    found = values.v.to_pyarrow().to_pylist()
    return None if len(found) > MAX_CHANGED_KEYS else tuple(v for v in found if v is not None)


def _count(table: ir.Table) -> int:
    return engine.count_rows([table])[0]
