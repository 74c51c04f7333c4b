"""The Jaffle Shop's operational PostgreSQL database: what the CDC sources (``sources_cdc.yml``) read.

Six tables with the columns and types of the CSV contracts in ``sources.yml`` (money in bigint
cents, ids as text, ``ordered_at`` a timestamp without time zone), so the staging models read the
CDC-fed raw tables unchanged. :func:`create_schema` makes them, :func:`seed` copies
``data/sample/*.csv`` in with ``COPY``, and a :class:`Writer` acts like the shop: each
:meth:`Writer.step` is one transaction (an order with its items, a renamed customer, a new price,
now and then a deleted order line or a cancelled order), chosen by a seeded random generator.

    python -m jaffle_shop.operational schema --dsn "dbname=jaffle"
    python -m jaffle_shop.operational seed --dsn "dbname=jaffle" --sample data/sample
    python -m jaffle_shop.operational write --dsn "dbname=jaffle" --rate 2 [--seconds 60] [--seed 0]

``write`` runs until ``--seconds`` pass or SIGINT / SIGTERM, then prints what it committed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

#: each table's columns as PostgreSQL types, in the CSV's column order; the first PRIMARY KEY
#: list is the contract's primary_key (a source's table is its name without ``raw_``)
TABLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "customers": ((("id", "text"), ("name", "text NOT NULL")), ("id",)),
    "products": (
        (("sku", "text"), ("name", "text"), ("type", "text"), ("price", "bigint"), ("description", "text")),
        ("sku",),
    ),
    "stores": (
        (("id", "text"), ("name", "text"), ("opened_at", "timestamp"), ("tax_rate", "double precision")),
        ("id",),
    ),
    "supplies": (
        (("id", "text"), ("name", "text"), ("cost", "bigint"), ("perishable", "boolean"), ("sku", "text")),
        ("id", "sku"),
    ),
    "orders": (
        (
            ("id", "text"),
            ("customer", "text NOT NULL"),
            ("ordered_at", "timestamp NOT NULL"),
            ("store_id", "text NOT NULL"),
            ("subtotal", "bigint NOT NULL"),
            ("tax_paid", "bigint NOT NULL"),
            ("order_total", "bigint NOT NULL"),
        ),
        ("id",),
    ),
    "items": ((("id", "text"), ("order_id", "text NOT NULL"), ("sku", "text NOT NULL")), ("id",)),
}

#: how often each kind of transaction happens (weights); ``Writer(mix=...)`` changes them
DEFAULT_MIX: dict[str, float] = {"order": 80, "rename_customer": 8, "change_price": 4, "delete_item": 4, "cancel": 4}
ACTIONS = tuple(DEFAULT_MIX)


class OperationalError(RuntimeError):
    """The operational database cannot be set up or written as asked."""


def create_schema(dsn: str) -> None:
    """Create the six tables in schema ``public`` of ``dsn`` (existing ones are kept)."""
    with psycopg.connect(dsn) as con:
        for table, (columns, key) in TABLES.items():
            cols = [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns]
            cols.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key))))
            con.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS public.{} ({})").format(
                    sql.Identifier(table), sql.SQL(", ").join(cols)
                )
            )


def seed(dsn: str, sample_dir: Path) -> dict[str, int]:
    """Copy ``sample_dir/raw_<table>.csv`` into each (empty) table in one transaction; return rows per table.

    Raises :class:`OperationalError` when a CSV is missing or a table already holds rows.
    """
    missing = [f"raw_{t}.csv" for t in TABLES if not (sample_dir / f"raw_{t}.csv").is_file()]
    if missing:
        raise OperationalError(f"seed: {sample_dir} has no {', '.join(missing)} (expected the six raw_*.csv files)")
    counts = {}
    with psycopg.connect(dsn) as con:
        for table, (columns, _key) in TABLES.items():
            name = sql.Identifier(table)
            if con.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM public.{})").format(name)).fetchone() == (True,):
                raise OperationalError(
                    f"seed: table public.{table} of {dsn!r} already holds rows; seed an empty schema"
                )
            copy = sql.SQL("COPY public.{} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                name, sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)
            )
            with con.cursor() as cur, cur.copy(copy) as out, (sample_dir / f"raw_{table}.csv").open("rb") as f:
                while chunk := f.read(1 << 16):
                    out.write(chunk)
            (counts[table],) = con.execute(sql.SQL("SELECT count(*) FROM public.{}").format(name)).fetchall()[0]
    return counts


@dataclasses.dataclass(frozen=True)
class Change:
    """One committed transaction of a :class:`Writer`: what it did, to which key, and when
    ``COMMIT`` returned (local wall clock, UTC, naive: the CDC commit time's convention)."""

    action: str
    key: str
    committed_at: dt.datetime


@dataclasses.dataclass
class _Order:
    store_tax: float
    lines: list[tuple[str, int]]  # (item id, price in cents when ordered)
    subtotal: int


def _local_now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


class Writer:
    """The shop at work on ``dsn``: one realistic transaction per :meth:`step`.

    Parameters
    ----------
    dsn
        libpq conninfo of the seeded operational database.
    seed
        Seeds every choice (action, customer, store, products, new names and ids): two writers with
        the same seed on the same starting data write the same rows.
    mix
        Weights of the actions (:data:`DEFAULT_MIX`); e.g. ``{"order": 1}`` only places orders.
    clock
        ``ordered_at`` of new orders (default: the local time, to the second).
    """

    def __init__(
        self,
        dsn: str,
        seed: int,
        *,
        mix: Mapping[str, float] | None = None,
        clock: Callable[[], dt.datetime] = _local_now,
    ) -> None:
        mix = dict(DEFAULT_MIX if mix is None else mix)
        unknown = sorted(set(mix) - set(ACTIONS))
        if unknown or not any(w > 0 for w in mix.values()):
            raise OperationalError(f"Writer mix: unknown action(s) {unknown} or no positive weight; actions: {ACTIONS}")
        self._actions, self._weights = list(mix), list(mix.values())
        self._rng, self._clock = random.Random(seed), clock
        self._con = psycopg.connect(dsn)
        rows = self._con.execute
        self._customers = [r[0] for r in rows("SELECT id FROM customers ORDER BY id")]
        names = [r[0].split(" ", 1) for r in rows("SELECT name FROM customers WHERE name LIKE '% %' ORDER BY id")]
        self._first, self._last = sorted({n[0] for n in names}), sorted({n[1] for n in names})
        self._prices: dict[str, int] = dict(rows("SELECT sku, price FROM products ORDER BY sku").fetchall())
        self._stores = rows("SELECT id, opened_at, tax_rate FROM stores ORDER BY id").fetchall()
        self._con.rollback()
        if not (self._customers and self._prices and self._stores and self._first):
            raise OperationalError(f"Writer: {dsn!r} has no customers, products or stores: seed it first")
        self._orders: dict[str, _Order] = {}  # the orders this writer placed (it edits only those)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step(self, action: str | None = None) -> Change:
        """Commit one transaction (``action`` or one drawn from the mix) and return it.

        Deleting a line or cancelling needs an order this writer placed: without one it places one;
        deleting an order's only line cancels the order.
        """
        action = action or self._rng.choices(self._actions, self._weights)[0]
        if action not in ACTIONS:
            raise OperationalError(f"Writer.step: unknown action {action!r}; actions: {', '.join(ACTIONS)}")
        if action in ("delete_item", "cancel") and not self._orders:
            action = "order"
        with self._con.transaction():
            action, key = getattr(self, f"_{action}")()
        return Change(action, key, dt.datetime.now(dt.UTC).replace(tzinfo=None))

    def run(
        self, rate_per_second: float, seconds: float | None = None, *, stop: threading.Event | None = None
    ) -> list[Change]:
        """Commit ``rate_per_second`` transactions a second (on a fixed schedule, so a slow commit
        does not lower the rate) for ``seconds`` or until ``stop`` is set; return what was committed."""
        if rate_per_second <= 0:
            raise OperationalError(f"Writer.run: rate_per_second must be positive, not {rate_per_second!r}")
        stop = stop or threading.Event()
        started, done = time.monotonic(), list[Change]()
        while not stop.is_set():
            due = started + len(done) / rate_per_second
            if seconds is not None and due - started >= seconds:
                break
            if stop.wait(max(0.0, due - time.monotonic())):
                break
            done.append(self.step())
        return done

    # -- the actions: each runs inside the step's transaction and returns what it did and to which key --

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _new_name(self) -> str:
        return f"{self._rng.choice(self._first)} {self._rng.choice(self._last)}"

    def _order(self) -> tuple[str, str]:
        now = self._clock()
        customer = self._rng.choice(self._customers)
        if self._rng.random() < 0.1:  # a first-time customer signs up with the order
            customer = self._new_id()
            self._con.execute("INSERT INTO customers (id, name) VALUES (%s, %s)", (customer, self._new_name()))
            self._customers.append(customer)
        open_stores = [s for s in self._stores if s[1] is None or s[1] <= now] or self._stores
        store, _opened, tax_rate = self._rng.choice(open_stores)
        skus = sorted(self._prices)
        lines = [(self._new_id(), self._rng.choice(skus)) for _ in range(self._rng.choice((1, 1, 2, 2, 3, 4)))]
        order = _Order(float(tax_rate), [(i, self._prices[s]) for i, s in lines], 0)
        order.subtotal = sum(p for _, p in order.lines)
        order_id = self._new_id()
        tax = round(order.subtotal * order.store_tax)
        self._con.execute(
            "INSERT INTO orders (id, customer, ordered_at, store_id, subtotal, tax_paid, order_total) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (order_id, customer, now, store, order.subtotal, tax, order.subtotal + tax),
        )
        with self._con.cursor() as cur:
            cur.executemany(
                "INSERT INTO items (id, order_id, sku) VALUES (%s, %s, %s)", [(i, order_id, s) for i, s in lines]
            )
        self._orders[order_id] = order
        return "order", order_id

    def _rename_customer(self) -> tuple[str, str]:
        customer = self._rng.choice(self._customers)
        self._con.execute("UPDATE customers SET name = %s WHERE id = %s", (self._new_name(), customer))
        return "rename_customer", customer

    def _change_price(self) -> tuple[str, str]:
        sku = self._rng.choice(sorted(self._prices))
        price = max(100, self._prices[sku] + self._rng.choice((-100, -50, 50, 100)))
        self._con.execute("UPDATE products SET price = %s WHERE sku = %s", (price, sku))
        self._prices[sku] = price
        return "change_price", sku

    def _delete_item(self) -> tuple[str, str]:
        order_id = self._rng.choice(sorted(self._orders))
        order = self._orders[order_id]
        if len(order.lines) == 1:  # the last line goes with its order
            return self._cancel(order_id)
        item, price = order.lines.pop(self._rng.randrange(len(order.lines)))
        order.subtotal -= price
        tax = round(order.subtotal * order.store_tax)
        self._con.execute("DELETE FROM items WHERE id = %s", (item,))
        self._con.execute(
            "UPDATE orders SET subtotal = %s, tax_paid = %s, order_total = %s WHERE id = %s",
            (order.subtotal, tax, order.subtotal + tax, order_id),
        )
        return "delete_item", item

    def _cancel(self, order_id: str | None = None) -> tuple[str, str]:
        order_id = order_id or self._rng.choice(sorted(self._orders))
        del self._orders[order_id]
        self._con.execute("DELETE FROM items WHERE order_id = %s", (order_id,))
        self._con.execute("DELETE FROM orders WHERE id = %s", (order_id,))
        return "cancel", order_id


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jaffle_shop.operational", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("schema", "create the tables"), ("seed", "COPY the sample CSVs in"), ("write", "run a writer")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dsn", required=True, help="libpq conninfo of the operational database")
        if name == "seed":
            p.add_argument("--sample", type=Path, default=Path("data/sample"), help="folder of the raw_*.csv files")
        if name == "write":
            p.add_argument("--rate", type=float, default=2.0, help="transactions per second")
            p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: at a signal)")
            p.add_argument("--seed", type=int, default=0, help="seed of the writer's choices")
    args = parser.parse_args(argv)
    if args.command == "schema":
        create_schema(args.dsn)
        print(f"tables {', '.join(TABLES)} ready")
    elif args.command == "seed":
        print(json.dumps(seed(args.dsn, args.sample)))
    else:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with Writer(args.dsn, args.seed) as writer:
            changes = writer.run(args.rate, args.seconds, stop=stop)
        print(json.dumps({"transactions": len(changes), **Counter(c.action for c in changes)}))


if __name__ == "__main__":
    main()
