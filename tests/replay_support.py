"""Support for the delivery replay tests: a small jafgen-format shop, CSV files written as jafgen
writes them, and the comparison of two warehouses' contents (:func:`tests.pipeline.contents`)
with a message naming the tables that differ and a few of their differing rows."""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
#: jafgen's columns of each raw file (the sample's headers).
COLUMNS = {
    "raw_customers": ("id", "name"),
    "raw_orders": ("id", "customer", "ordered_at", "store_id", "subtotal", "tax_paid", "order_total"),
    "raw_items": ("id", "order_id", "sku"),
    "raw_products": ("sku", "name", "type", "price", "description"),
    "raw_stores": ("id", "name", "opened_at", "tax_rate"),
    "raw_supplies": ("id", "name", "cost", "perishable", "sku"),
}
EVENTS = ("raw_orders", "raw_items")
ENTITIES = ("raw_customers", "raw_products", "raw_stores", "raw_supplies")
Row = dict[str, str]


@dataclasses.dataclass(frozen=True)
class Order:
    """An order (a ``raw_orders`` row) with its items (``raw_items`` rows) and its day."""

    row: Row
    items: tuple[Row, ...]
    day: dt.date


@dataclasses.dataclass(frozen=True)
class Shop:
    """Entity rows by raw table (the first snapshot) and the orders, oldest day first."""

    entities: Mapping[str, tuple[Row, ...]]
    orders: tuple[Order, ...]


def read_sample(table: str) -> list[Row]:
    """The rows of ``data/sample/<table>.csv``."""
    with open(SAMPLE / f"{table}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def small_shop(first_day: dt.date, days: int, *, per_day: int = 10, seed: int = 7) -> Shop:
    """4 stores, 5 products with 2 supplies each and 20 customers from the committed sample, and
    ``per_day`` orders of 1-3 items on each of ``days`` days from ``first_day``: subtotal the
    items' prices, tax at the store's rate, ordered between 07:00 and 20:59 as jafgen dates them."""
    rng = random.Random(seed)
    skus = ("JAF-001", "JAF-002", "JAF-003", "BEV-001", "BEV-002")
    products = tuple(r for r in read_sample("raw_products") if r["sku"] in skus)
    supplies = tuple(r for sku in skus for r in [r for r in read_sample("raw_supplies") if r["sku"] == sku][:2])
    entities = {
        "raw_customers": tuple(read_sample("raw_customers")[:20]),
        "raw_products": products,
        "raw_stores": tuple(read_sample("raw_stores")[:4]),
        "raw_supplies": supplies,
    }
    price = {p["sku"]: int(p["price"]) for p in products}
    orders = []
    for n in range(days):
        day = first_day + dt.timedelta(days=n)
        for _ in range(per_day):
            store = rng.choice(entities["raw_stores"])
            order_id = _uuid(rng)
            items = tuple(
                {"id": _uuid(rng), "order_id": order_id, "sku": rng.choice(skus)} for _ in range(rng.randint(1, 3))
            )
            subtotal = sum(price[i["sku"]] for i in items)
            tax = round(subtotal * float(store["tax_rate"]))
            at = dt.datetime.combine(day, dt.time(rng.randint(7, 20), rng.randrange(0, 60, 2)))
            row = {
                "id": order_id,
                "customer": rng.choice(entities["raw_customers"])["id"],
                "ordered_at": at.isoformat(),
                "store_id": store["id"],
                "subtotal": str(subtotal),
                "tax_paid": str(tax),
                "order_total": str(subtotal + tax),
            }
            orders.append(Order(row, items, day))
    return Shop(entities, tuple(orders))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def write_csv(path: Path, table: str, rows: Iterable[Row]) -> None:
    """``rows`` of ``table`` as jafgen writes them (csv's default dialect: minimal quoting, CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS[table])
        writer.writerows([r[c] for c in COLUMNS[table]] for r in rows)


def rows_of(contents: Mapping[str, Sequence[tuple]], table: str) -> list[dict[str, object]]:
    """The rows of ``table`` (``schema.name``) in a :func:`tests.pipeline.contents` result, as dicts."""
    return [dict(r) for r in contents[table]]


def differences(a: Mapping[str, Sequence[tuple]], b: Mapping[str, Sequence[tuple]], *, show: int = 3) -> list[str]:
    """What differs between two :func:`tests.pipeline.contents` results: per table, the rows only
    one side has (at most ``show`` of each side), or that only one side has the table."""
    out = []
    for table in sorted(set(a) | set(b)):
        if table not in a or table not in b:
            out.append(f"{table}: only in {'the first' if table in a else 'the second'}")
            continue
        left, right = collections.Counter(a[table]), collections.Counter(b[table])
        if left == right:
            continue
        only_a, only_b = list((left - right).elements()), list((right - left).elements())
        lines = [
            f"{table}: {len(a[table])} vs {len(b[table])} rows, {len(only_a)} only in the first, {len(only_b)} only in the second"
        ]
        lines += [f"    first:  {dict(r)}" for r in only_a[:show]]
        lines += [f"    second: {dict(r)}" for r in only_b[:show]]
        out.append("\n".join(lines))
    return out


def assert_same(a: Mapping[str, Sequence[tuple]], b: Mapping[str, Sequence[tuple]], what: str) -> None:
    """Fail naming every table where ``a`` and ``b`` differ (``what``: "replay vs catch-up")."""
    found = differences(a, b)
    assert not found, f"{what}: {len(found)} table(s) differ\n" + "\n".join(found)
