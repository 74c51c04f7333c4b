"""The operational Jaffle Shop database on a real PostgreSQL 15: schema, seed from data/sample, the writer."""

from __future__ import annotations

import csv
import datetime as dt
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from jaffle_shop import operational
from jaffle_shop.operational import TABLES, OperationalError, Writer, create_schema, seed
from tests.postgres import parse_dsn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"
T0 = dt.datetime(2019, 8, 11, 9, 0)


def _clock():
    ticks = iter(range(10**6))
    return lambda: T0 + dt.timedelta(minutes=next(ticks))


@pytest.fixture
def new_db(postgres_dsn):
    """A factory of empty databases on the test server (dropped at the end); returns their DSNs."""
    made = []

    def make() -> str:
        name = f"jaffle_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres_dsn, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return " ".join(f"{k}={name if k == 'dbname' else v}" for k, v in parse_dsn(postgres_dsn).items())

    yield make
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        for name in made:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def shop(new_db):
    dsn = new_db()
    create_schema(dsn)
    seed(dsn, SAMPLE)
    return dsn


def _rows(dsn: str, table: str) -> list[tuple]:
    with psycopg.connect(dsn) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_seeded_tables_hold_every_csv_row_typed(new_db):
    dsn = new_db()
    create_schema(dsn)
    create_schema(dsn)  # idempotent
    counts = seed(dsn, SAMPLE)
    for table in TABLES:
        with (SAMPLE / f"raw_{table}.csv").open() as f:
            assert counts[table] == sum(1 for _ in csv.DictReader(f)), table
    assert counts == {"customers": 937, "products": 10, "stores": 6, "supplies": 65, "orders": 6771, "items": 10161}
    with psycopg.connect(dsn) as con:
        (total,) = con.execute("SELECT sum(order_total) FROM orders").fetchone()
        with (SAMPLE / "raw_orders.csv").open() as f:
            assert total == sum(int(r["order_total"]) for r in csv.DictReader(f))
        assert con.execute("SELECT count(*) FILTER (WHERE perishable) FROM supplies").fetchone()[0] > 0
        first = "SELECT ordered_at FROM orders WHERE id = '2bd0a1c1-9e3f-4bc0-80de-a80f658b5e5a'"
        assert con.execute(first).fetchone()[0] == dt.datetime(2019, 7, 22, 8, 30)


def test_seed_refuses_a_table_with_rows_and_a_folder_without_the_csvs(shop, tmp_path):
    with pytest.raises(OperationalError, match=r"table public.customers of .* already holds rows"):
        seed(shop, SAMPLE)
    with pytest.raises(OperationalError, match=r"has no raw_customers.csv, .*raw_items.csv"):
        seed(shop, tmp_path)


def test_an_order_step_is_one_transaction_with_consistent_totals(shop):
    with Writer(shop, seed=1, mix={"order": 1}, clock=_clock()) as w:
        change = w.step()
    assert change.action == "order"
    with psycopg.connect(shop) as con:
        xids = con.execute(
            "SELECT xmin::text FROM orders WHERE id = %(k)s UNION SELECT xmin::text FROM items WHERE order_id = %(k)s",
            {"k": change.key},
        ).fetchall()
        assert len(xids) == 1  # the order and its items were written by one transaction
        sub, tax, total, at = con.execute(
            "SELECT subtotal, tax_paid, order_total, ordered_at FROM orders WHERE id = %s", (change.key,)
        ).fetchone()
        (prices,) = con.execute(
            "SELECT sum(p.price) FROM items i JOIN products p USING (sku) WHERE i.order_id = %s", (change.key,)
        ).fetchone()
    assert sub == prices and total == sub + tax and at == T0
    assert abs(change.committed_at - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(seconds=5)


def test_deleting_a_line_and_cancelling_keep_orders_and_items_consistent(shop):
    with Writer(shop, seed=2, clock=_clock()) as w:
        placed = [w.step("order").key for _ in range(6)]
        changes = [w.step(a) for a in ("delete_item", "delete_item", "cancel", "rename_customer")]
    with psycopg.connect(shop) as con:
        (cancelled,) = con.execute("SELECT count(*) FROM orders WHERE id = %s", (changes[2].key,)).fetchone()
        assert cancelled == 0
        assert con.execute("SELECT count(*) FROM items WHERE order_id = %s", (changes[2].key,)).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM items WHERE id = %s", (changes[0].key,)).fetchone() == (0,)
        # the writer's orders left: subtotal = the prices of the lines left
        left = con.execute(
            "SELECT o.id, o.subtotal, sum(p.price) FROM orders o JOIN items i ON i.order_id = o.id "
            "JOIN products p USING (sku) WHERE o.id = ANY(%s) GROUP BY o.id, o.subtotal",
            (placed,),
        ).fetchall()
        assert len(left) == 5 and all(sub == lines for _, sub, lines in left), left
        assert con.execute("SELECT count(*) FROM orders WHERE order_total <> subtotal + tax_paid").fetchone() == (0,)


def test_the_same_seed_writes_the_same_rows(new_db):
    dumps = []
    for seed_value in (7, 7, 8):
        dsn = new_db()
        create_schema(dsn)
        seed(dsn, SAMPLE)
        with Writer(dsn, seed=seed_value, clock=_clock()) as w:
            actions = [w.step() for _ in range(40)]
        dumps.append(([(c.action, c.key) for c in actions], {t: _rows(dsn, t) for t in TABLES}))
    assert dumps[0] == dumps[1]
    assert dumps[0][0] != dumps[2][0]
    assert {a for a, _ in dumps[0][0]} >= {"order", "rename_customer"}


def test_run_keeps_the_rate_and_stops_on_the_event(shop):
    with Writer(shop, seed=3) as w:
        changes = w.run(20, 1.0)
        assert 18 <= len(changes) <= 20
        assert [c.committed_at for c in changes] == sorted(c.committed_at for c in changes)
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        assert len(w.run(10, None, stop=stop)) <= 5
        with pytest.raises(OperationalError, match="rate_per_second must be positive"):
            w.run(0, 1)
        with pytest.raises(OperationalError, match="unknown action 'refund'; actions: order, rename_customer"):
            w.step("refund")
    with pytest.raises(OperationalError, match=r"unknown action\(s\) \['refund'\]"):
        Writer(shop, seed=0, mix={"refund": 1})


def test_writer_on_an_empty_database_says_to_seed_it(new_db):
    dsn = new_db()
    create_schema(dsn)
    with pytest.raises(OperationalError, match="has no customers, products or stores: seed it first"):
        Writer(dsn, seed=0)


def test_cli_schema_seed_write(new_db, capsys):
    dsn = new_db()
    operational.main(["schema", "--dsn", dsn])
    operational.main(["seed", "--dsn", dsn, "--sample", str(SAMPLE)])
    operational.main(["write", "--dsn", dsn, "--rate", "20", "--seconds", "0.5", "--seed", "1"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("tables customers, products")
    assert '"orders": 6771' in out[1]
    assert out[2].startswith('{"transactions": 10')
