"""Materializations on a real lake: every incremental path leaves the table equal to a full
rebuild of the model, skips what no change reaches, and falls back to a full rebuild when a change
cannot be told apart."""

from __future__ import annotations

import datetime as dt
import types

import ibis
import ibis.expr.types as ir
import pytest

from duckbook import engine
from duckbook.build.changes import Change, Feed, full
from duckbook.build.context import start_stage
from duckbook.build.materialize import _earliest, _truncate, build_model
from duckbook.project import model
from tests.unit.helpers import rows

pytestmark = pytest.mark.slow


def stg(events: ir.Table, /) -> ir.Table:  # one row per input row
    return events.select("id", "grp", day=events.at.date().cast("timestamp"), amount=events.amount * 2)


def per_day(stg: ir.Table, /) -> ir.Table:  # a window over days: the running total
    daily = stg.group_by("day").agg(amount=stg.amount.sum())
    return daily.mutate(running=daily.amount.sum().over(order_by="day", rows=(None, 0)))


def per_group(stg: ir.Table, /) -> ir.Table:
    return stg.group_by("grp").agg(n=stg.id.count(), amount=stg.amount.sum())


def total(stg: ir.Table, /) -> ir.Table:
    return stg.aggregate(n=stg.id.count())


MODELS = [
    model(stg, schema="s", materialization="incremental", row_wise=True, unique_key="id", time_column="day"),
    model(per_day, schema="m", materialization="incremental", time_column="day"),
    model(per_group, schema="m", materialization="incremental", unique_key="grp"),
    model(total, schema="m", unique_key="n"),
]
EDGES = {"s.stg": ("raw.events",), "m.per_day": ("s.stg",), "m.per_group": ("s.stg",), "m.total": ("s.stg",)}


class Warehouse:
    """A throw-away lake with ``raw.events`` and the models above, built one stage at a time."""

    def __init__(self, root):
        self.root, self.runs = root, 0

    def stage(self):
        self.runs += 1
        ctx = start_stage("test", run_id=f"r{self.runs}", run_date="2024-01-31", warehouse=str(self.root))
        ctx.project = types.SimpleNamespace(edges=EDGES)  # only the DAG is needed
        return ctx

    def deliver(self, events: list[tuple[str, str, dt.datetime, int]], change: Change | None = None) -> None:
        """Append events to raw.events and record the change (default: their keys and earliest day)."""
        ctx = self.stage()
        table = ibis.memtable(events, schema={"id": "string", "grp": "string", "at": "timestamp", "amount": "int64"})
        build = ctx.build("raw")
        if engine.table_exists(ctx.con, "raw", "events"):
            engine.append(ctx.con, "raw", "events", table)
            build.adopt("events", rows_written=len(events))
        else:
            build.add("events", table)
        feed = Feed(ctx.con, ctx.run_id)
        first = min(e[2] for e in events)
        feed.record(
            change
            or Change(
                "raw.events",
                key_column="id",
                keys=tuple(e[0] for e in events),
                time_column="at",
                since=dt.datetime(first.year, first.month, first.day),
            )
        )
        feed.flush()
        build.audit([])
        build.publish()
        ctx.close()

    def delete(self, ids: list[str]) -> None:
        """Delete events from raw.events as a CDC source does: the change names the deleted keys."""
        ctx = self.stage()
        build = ctx.build("raw")
        engine.delete_keys(ctx.con, "raw", "events", "id", ibis.memtable({"id": ids}))
        build.adopt("events", rows_written=0)
        feed = Feed(ctx.con, ctx.run_id)
        feed.record(Change("raw.events", key_column="id", keys=tuple(ids)))
        feed.flush()
        build.audit([])
        build.publish()
        ctx.close()

    def build(self, *, full_refresh: bool = False, models: list = MODELS) -> dict[str, str]:
        """Build every model (two stages: s, then m); return what was done to each."""
        done = {}
        for schema in ("s", "m"):
            ctx = self.stage()
            build, feed = ctx.build(schema), Feed(ctx.con, ctx.run_id)
            current = {}
            for m in [m for m in models if m.schema == schema]:
                inputs = {q: current.get(q) or ctx.table(q) for q in EDGES[m.qualified]}
                current[m.qualified], outcome = build_model(ctx, build, m, inputs, feed, full_refresh=full_refresh)
                done[m.qualified] = outcome.action
            feed.flush()
            build.audit([])
            build.publish()
            ctx.close()
        return done

    def check_equals_full_rebuild(self) -> None:
        con = engine.connect(self.root, read_only=True)
        try:
            staged = stg(con.table("events", database="raw"))
            expected = {"s.stg": staged, "m.per_day": per_day(staged), "m.per_group": per_group(staged)}
            expected["m.total"] = total(staged)
            for name, expr in expected.items():
                schema, table = name.split(".")
                got = con.table(table, database=schema)
                key = got.columns[0]
                assert _text(rows(got, key)) == _text(rows(expr, key)), name
        finally:
            con.disconnect()


def _text(found: list[dict]) -> list[dict]:
    """Values as text: a stored sum of int64 is a decimal(38,0), the expression's an int."""
    return [{k: str(v) for k, v in r.items()} for r in found]


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 1, n, 10, 30)


@pytest.fixture
def wh(tmp_path):
    return Warehouse(tmp_path / "wh")


def test_incremental_paths_equal_a_full_rebuild_after_new_late_and_resent_rows(wh):
    wh.deliver([("e1", "g1", day(1), 1), ("e2", "g2", day(2), 2)])
    assert set(wh.build().values()) == {"full"}  # first build
    wh.check_equals_full_rebuild()

    wh.deliver([("e3", "g1", day(3), 3)])  # a new day
    assert wh.build() == {
        "s.stg": "incremental",
        "m.per_day": "incremental",
        "m.per_group": "incremental",
        "m.total": "full",
    }
    wh.check_equals_full_rebuild()

    wh.deliver([("e0", "g3", day(1), 5)])  # a late row: the running total of every later day changes
    wh.build()
    wh.check_equals_full_rebuild()

    assert set(wh.build().values()) == {"unchanged"}  # nothing new: every model skipped
    wh.check_equals_full_rebuild()


def test_a_change_that_cannot_be_told_apart_rebuilds_in_full(wh):
    wh.deliver([("e1", "g1", day(1), 1)])
    wh.build()
    wh.deliver([("e2", "g1", day(2), 4)], change=full("raw.events"))
    assert wh.build()["s.stg"] == "full"
    wh.check_equals_full_rebuild()


def test_rows_deleted_from_an_input_rebuild_in_full_downstream(wh):
    wh.deliver([("e1", "g1", day(1), 1), ("e2", "g2", day(2), 2), ("e3", "g1", day(3), 3)])
    wh.build()
    wh.delete(["e2"])  # its rows in s.stg, and g2 and day 2 downstream, can only be found by a rebuild
    assert wh.build() == {"s.stg": "full", "m.per_day": "full", "m.per_group": "full", "m.total": "full"}
    wh.check_equals_full_rebuild()
    wh.deliver([("e4", "g1", day(4), 4)])  # then incremental again
    assert wh.build()["s.stg"] == "incremental"
    wh.check_equals_full_rebuild()


def test_a_model_whose_code_changed_is_rebuilt_and_only_it(wh):
    wh.deliver([("e1", "g1", day(1), 1), ("e2", "g2", day(5), 2)])
    wh.build()
    assert set(wh.build().values()) == {"unchanged"}

    def per_group(stg: ir.Table, /) -> ir.Table:  # the same name, other code: counts doubled
        return stg.group_by("grp").agg(n=stg.id.count() * 2, amount=stg.amount.sum())

    changed = [model(per_group, schema="m", materialization="incremental", unique_key="grp") if m.name == "per_group"
               else m for m in MODELS]  # fmt: skip
    assert wh.build(models=changed) == {"s.stg": "unchanged", "m.per_day": "unchanged", "m.per_group": "full",
                                        "m.total": "unchanged"}  # fmt: skip
    assert wh.build(models=changed)["m.per_group"] == "unchanged"  # recorded: the next build skips it
    con = engine.connect(wh.root, read_only=True)
    try:
        assert [r["n"] for r in rows(con.table("per_group", database="m"), "grp")] == [2, 2]
    finally:
        con.disconnect()


def test_full_refresh_rebuilds_everything_to_the_same_result(wh):
    wh.deliver([("e1", "g1", day(1), 1), ("e2", "g2", day(5), 2)])
    wh.build()
    wh.deliver([("e3", "g2", day(3), 7)])
    wh.build()
    assert set(wh.build(full_refresh=True).values()) == {"full"}
    wh.check_equals_full_rebuild()


def test_windows_align_to_the_grain():
    t = dt.datetime(2024, 5, 16, 13, 5)  # a Thursday
    assert _truncate(t, "day") == dt.datetime(2024, 5, 16)
    assert _truncate(t, "week") == dt.datetime(2024, 5, 13)
    assert _truncate(t, "month") == dt.datetime(2024, 5, 1)
    assert _truncate(t, "quarter") == dt.datetime(2024, 4, 1)
    assert _truncate(t, "year") == dt.datetime(2024, 1, 1)


def test_earliest_is_the_first_day_over_every_column_in_one_query():
    stamps = ibis.memtable({"at": [dt.datetime(2024, 3, 5, 17, 30), None]})
    days = ibis.memtable({"day": [dt.date(2024, 3, 9), dt.date(2024, 4, 1)]})
    nulls = ibis.memtable({"at": [None]}, schema={"at": "timestamp"})
    assert _earliest([("at", stamps), ("day", days), ("at", nulls)]) == dt.datetime(2024, 3, 5)
    assert _earliest([("day", days)]) == dt.datetime(2024, 3, 9)
    assert _earliest([("at", nulls), ("at", stamps.limit(0))]) is None
    assert _earliest([]) is None
