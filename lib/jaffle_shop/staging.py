"""Staging models: one per raw table; rename, cast, convert cents, truncate timestamps.

These follow the dbt Labs jaffle-shop reference models exactly. Each is a pure
``Table -> Table`` function; ingestion metadata columns (``_batch_id`` ...) are dropped here,
and a column a delivery added to the raw table (schema evolution) is carried as it is.
The models of snapshot sources (customers, products, locations, supplies) are declared as
``snapshot`` models: each delivered snapshot goes through the function, and the model keeps the
SCD2 history of its rows (:func:`latest` gives the marts their current attributes).

Examples
--------
>>> import ibis
>>> raw = ibis.memtable({"sku": ["JAF-001", "BEV-001", "X"], "name": ["a", "b", "c"],
...                      "type": ["jaffle", "beverage", None], "price": [1100, 600, 5],
...                      "description": ["", "", ""]})
>>> stg_products(raw).select("product_id", "product_price", "is_food_item", "is_drink_item").to_pandas().values.tolist()
[['JAF-001', Decimal('11.00'), True, False], ['BEV-001', Decimal('6.00'), False, True], ['X', Decimal('0.05'), False, False]]
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from duckbook.project import passthrough

MONEY = dt.Decimal(16, 2)
# dbt_utils.generate_surrogate_key's placeholder for nulls, kept so keys match the reference.
_NULL_KEY_PART = "_dbt_utils_surrogate_key_null_"


def cents_to_dollars(cents: ir.NumericValue) -> ir.DecimalValue:
    """``round(cents / 100, 2)`` as ``decimal(16,2)``."""
    return (cents / 100).round(2).cast(MONEY)


def start_of_day(ts: ir.TimestampValue) -> ir.TimestampValue:
    """``ts`` truncated to midnight, stored as a timestamp on every DuckDB version.

    Not ``ts.truncate("D")``: DuckDB 1.4's ``date_trunc('day', TIMESTAMP)`` returns DATE (1.5
    returns TIMESTAMP), and Ibis drops ``.cast("timestamp")`` on a value it already types as a
    timestamp, so a table built from it would store DATE while Ibis expects a timestamp.
    """
    return ts.date().cast("timestamp")


def surrogate_key(*parts: ir.Value) -> ir.StringValue:
    """md5 of the parts joined by ``-`` with nulls replaced, as dbt_utils.generate_surrogate_key."""
    joined = ibis.literal("-").join([p.cast("string").fill_null(_NULL_KEY_PART) for p in parts])
    return joined.hexdigest("md5")


def latest(history: ir.Table, key: str) -> ir.Table:
    """The latest version of each member of an SCD2 ``history`` (the current one, or the last
    before the member was deleted), without the validity columns: the marts' current attributes."""
    newest = history.valid_from.max().over(group_by=key)
    return history.filter(history.valid_from == newest).drop("valid_from", "valid_to", "is_current")


def stg_customers(raw_customers: ir.Table, /) -> ir.Table:
    """One row per customer: ``customer_id``, ``customer_name``."""
    c = raw_customers
    return c.select(customer_id=c.id, customer_name=c.name, **passthrough(c, "id", "name"))


def stg_orders(raw_orders: ir.Table, /) -> ir.Table:
    """One row per order; money in dollars (and cents), ``ordered_at`` truncated to the day."""
    o = raw_orders
    return o.select(
        order_id=o.id,
        location_id=o.store_id,
        customer_id=o.customer,
        subtotal_cents=o.subtotal,
        tax_paid_cents=o.tax_paid,
        order_total_cents=o.order_total,
        subtotal=cents_to_dollars(o.subtotal),
        tax_paid=cents_to_dollars(o.tax_paid),
        order_total=cents_to_dollars(o.order_total),
        ordered_at=start_of_day(o.ordered_at),
        **passthrough(o, "id", "store_id", "customer", "subtotal", "tax_paid", "order_total", "ordered_at"),
    )


def stg_order_items(raw_items: ir.Table, /) -> ir.Table:
    """One row per order line: ``order_item_id``, ``order_id``, ``product_id``."""
    i = raw_items
    return i.select(
        order_item_id=i.id, order_id=i.order_id, product_id=i.sku, **passthrough(i, "id", "order_id", "sku")
    )


def stg_products(raw_products: ir.Table, /) -> ir.Table:
    """One row per product, price in dollars, with food/drink flags (both false when type is null)."""
    p = raw_products
    return p.select(
        product_id=p.sku,
        product_name=p.name,
        product_type=p.type,
        product_description=p.description,
        product_price=cents_to_dollars(p.price),
        is_food_item=(p.type == "jaffle").fill_null(False),
        is_drink_item=(p.type == "beverage").fill_null(False),
        **passthrough(p, "sku", "name", "type", "description", "price"),
    )


def stg_locations(raw_stores: ir.Table, /) -> ir.Table:
    """One row per location (store), ``opened_date`` truncated to the day."""
    s = raw_stores
    return s.select(
        location_id=s.id,
        location_name=s.name,
        tax_rate=s.tax_rate,
        opened_date=start_of_day(s.opened_at),
        **passthrough(s, "id", "name", "tax_rate", "opened_at"),
    )


def stg_supplies(raw_supplies: ir.Table, /) -> ir.Table:
    """One row per (supply, product), keyed by ``supply_uuid`` = surrogate of (id, sku)."""
    s = raw_supplies
    return s.select(
        supply_uuid=surrogate_key(s.id, s.sku),
        supply_id=s.id,
        product_id=s.sku,
        supply_name=s.name,
        supply_cost=cents_to_dollars(s.cost),
        is_perishable_supply=s.perishable,
        **passthrough(s, "id", "sku", "name", "cost", "perishable"),
    )
