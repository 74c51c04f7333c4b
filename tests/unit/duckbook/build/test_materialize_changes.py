"""The snapshot materialization over a changes (CDC) source, on a real lake: the version batches
not applied yet go through the model's function and apply_changes, and the history is the same
whether the batches were built one run at a time or all at once."""

from __future__ import annotations

import datetime as dt
import json
import types

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckbook import config, engine
from duckbook.build.changes import Feed
from duckbook.build.context import start_stage
from duckbook.build.history import BEGINNING_OF_TIME, END_OF_TIME
from duckbook.build.history_changes import apply_changes
from duckbook.build.materialize import build_model
from duckbook.errors import ProjectError
from duckbook.ingest import files
from duckbook.project import model, passthrough
from tests.unit.helpers import rows

pytestmark = pytest.mark.slow

SOURCE = "raw_customers"
T1, T2, T3 = (dt.datetime(2024, 1, d, 9, 30) for d in (1, 2, 3))
VERSIONS = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("_cdc_lsn", pa.int64()),
        ("_cdc_seq", pa.int64()),
        ("_cdc_committed_at", pa.timestamp("us")),
        ("_cdc_op", pa.string()),
    ]
)
# (id, name, lsn, seq, committed at, op) per landed CDC file
BATCH1 = [(1, "Ann", 10, 0, T1, "upsert"), (2, "Bob", 10, 1, T1, "upsert")]
BATCH2 = [(1, "Anne", 20, 0, T2, "upsert"), (2, None, 30, 0, T2, "delete"), (3, "Cy", 30, 1, T2, "upsert")]
BATCH3 = [(None, None, 40, 0, T3, "truncate"), (3, "Cy", 40, 1, T3, "upsert")]


def stg_customers(raw_customers: ir.Table, /) -> ir.Table:
    c = raw_customers
    return c.select(customer_id=c.id, customer_name=c.name, **passthrough(c, "id", "name"))


def stg_dropping(raw_customers: ir.Table, /) -> ir.Table:  # forgets the columns it does not know
    return raw_customers.select(customer_id=raw_customers.id, customer_name=raw_customers.name)


def snapshot_model(function=stg_customers, **options):
    return model(function, schema="staging", materialization="snapshot", unique_key="customer_id", **options)


class Warehouse:
    """A throw-away lake whose raw zone holds hand-written version batches of one changes source."""

    def __init__(self, root):
        self.root, self.runs = root, 0

    def stage(self, name: str):
        self.runs += 1
        ctx = start_stage("test", run_id=f"r{self.runs}", run_date="2024-01-31", warehouse=str(self.root))
        edges = {f"staging.{name}": (f"raw.{SOURCE}",)}
        ctx.project = types.SimpleNamespace(edges=edges, sources={SOURCE: types.SimpleNamespace(kind="changes")})
        return ctx

    def land(self, *batches: list[tuple]) -> None:
        """Write each batch as the ingest stage lands a CDC file: Parquet in the raw zone, a manifest row."""
        ctx = self.stage("any")
        landing = files.Landing(ctx.con, ctx.cfg.raw_zone, ctx.run_id, ctx.run_started_at, ctx.run_date)
        recorded = []
        for records in batches:
            batch_id = f"b{self.runs}-{len(recorded)}"
            path = files.batch_file(ctx.cfg.raw_zone, SOURCE, batch_id)
            path.parent.mkdir(parents=True)
            table = pa.Table.from_pylist([dict(zip(VERSIONS.names, r, strict=True)) for r in records], schema=VERSIONS)
            table = table.append_column("_batch_id", pa.array([batch_id] * len(records), pa.string()))
            pq.write_table(table, path)
            recorded.append(files.Batch(SOURCE, batch_id, f"{batch_id}.parquet", str(path), len(records),
                                        len(records), 0, 0, "", ctx.run_date, f"{batch_id}.parquet"))  # fmt: skip
        files.record_manifest(landing, recorded)
        ctx.close()

    def build(self, m=None):
        m = m or snapshot_model()
        ctx = self.stage(m.name)
        build, feed = ctx.build("staging"), Feed(ctx.con, ctx.run_id)
        _, outcome = build_model(ctx, build, m, {}, feed)
        feed.flush()
        build.audit([])
        build.publish()
        ctx.close()
        return outcome

    def history(self, name="stg_customers"):
        con = engine.connect(self.root, read_only=True)
        try:
            return _sorted(rows(con.table(name, database="staging")))
        finally:
            con.disconnect()


def _sorted(found):
    return sorted(found, key=lambda r: (r["customer_id"], r["valid_from"]))


def _expected(*batches):
    """apply_changes over every version in one call, on the model's function of them."""
    records = [dict(zip(VERSIONS.names, r, strict=True)) for b in batches for r in b]
    carried = {f"duckbook_cdc{c[4:]}": c for c in VERSIONS.names if c.startswith("_cdc")}
    raw = ibis.memtable(pa.Table.from_pylist(records, schema=VERSIONS)).rename(carried)
    versions = stg_customers(raw).rename({c: name for name, c in carried.items()})
    return _sorted(rows(apply_changes(None, versions, key=["customer_id"])))


def test_version_batches_applied_run_by_run_equal_all_at_once(tmp_path):
    one_by_one, at_once = Warehouse(tmp_path / "a"), Warehouse(tmp_path / "b")
    one_by_one.land(BATCH1)
    assert one_by_one.build().detail == "replayed 1 version batch(es) of raw_customers"  # the first build
    one_by_one.land(BATCH2)
    assert one_by_one.build().detail == "applied 1 version batch(es) of raw_customers"
    one_by_one.land(BATCH3)
    one_by_one.build()
    assert one_by_one.build().action == "unchanged"

    at_once.land(BATCH1, BATCH2, BATCH3)
    at_once.build()
    got = one_by_one.history()
    assert got == at_once.history()
    assert [(r["customer_id"], r["customer_name"], r["valid_from"], r["valid_to"], r["is_current"]) for r in got] == [
        (1, "Ann", BEGINNING_OF_TIME, T2, False),
        (1, "Anne", T2, T3, False),  # closed by the truncate
        (2, "Bob", BEGINNING_OF_TIME, T2, False),  # deleted
        (3, "Cy", BEGINNING_OF_TIME, T3, False),
        (3, "Cy", T3, END_OF_TIME, True),  # truncated and inserted again: from the truncate's commit
    ]
    assert list(got[0]) == ["customer_id", "customer_name", "valid_from", "valid_to", "is_current"]
    expected = _expected(BATCH1, BATCH2, BATCH3)
    assert [tuple(r.values()) for r in got] == [tuple(r.values()) for r in expected]


def test_the_keys_a_batch_changed_are_recorded(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.land(BATCH1)
    wh.build()
    wh.land(BATCH2)
    wh.build()
    con = engine.connect(wh.root, read_only=True)
    try:
        changes = rows(con.table("changes", database="ops").filter(ibis._.table_name == "staging.stg_customers"), "seq")
    finally:
        con.disconnect()
    assert changes[-1]["is_full"] is False
    assert changes[-1]["key_column"] == "customer_id"
    assert sorted(json.loads(changes[-1]["keys_json"])) == ["1", "2", "3"]  # 1 updated, 2 deleted, 3 new


def test_a_function_that_drops_the_cdc_columns_is_named(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.land(BATCH1)
    with pytest.raises(ProjectError) as info:
        wh.build(snapshot_model(stg_dropping))
    message = str(info.value)
    assert message.startswith("model staging.stg_dropping: a snapshot model over a CDC source must carry unknown")
    assert "use passthrough(...)" in message and "duckbook_cdc_committed_at" in message
    engine.close_writer(config.load(warehouse=str(wh.root)))  # a failed stage leaves its writer open


def test_strategy_timestamp_on_a_changes_source_is_refused(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.land(BATCH1)
    with pytest.raises(ProjectError, match="model staging.stg_customers: strategy='timestamp' does not apply to the"
                                           " changes source raw_customers"):  # fmt: skip
        wh.build(snapshot_model(strategy="timestamp", updated_at="customer_name"))
    engine.close_writer(config.load(warehouse=str(wh.root)))
