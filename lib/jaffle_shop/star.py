"""Kimball star schema beside the marts: conformed dimensions and an order-line fact.

* Surrogate keys are md5 strings of (natural key, valid_from): deterministic across runs and
  portable to every Ibis backend (Spark has md5 too), unlike sequence numbers.
* Dimensions are SCD2: one row per version of a member, from the staging models' history
  (snapshot models): ``valid_from`` (a member's first version: the beginning of time, 1900-01-01,
  so facts loaded before the first snapshot still find it; a later version: the start of the day
  of the delivery that changed it), ``valid_to`` (the next version's ``valid_from``, the day the
  member was deleted, or 9999-12-31 for the current version) and ``is_current``.
* Facts join the version valid when the order was placed (point in time), so revenue at the
  price in force at the time is answerable.
* Every dimension has an *unknown member* (key ``-1``): a fact whose reference is missing or
  unmatched points there instead of being dropped.
"""

from __future__ import annotations

import datetime as _dt

import ibis
import ibis.expr.types as ir

from jaffle_shop.staging import latest, surrogate_key

UNKNOWN_KEY = "-1"
BEGINNING_OF_TIME = _dt.datetime(1900, 1, 1)
END_OF_TIME = _dt.datetime(9999, 12, 31)


def _scd_dimension(history: ir.Table, natural_key: str, key_name: str, attributes: list[str]) -> ir.Table:
    """One row per version of each member of an SCD2 ``history``, plus the unknown member row."""
    scd = {  # the unknown member is valid for all time
        "valid_from": ibis.literal(BEGINNING_OF_TIME, type="timestamp"),
        "valid_to": ibis.literal(END_OF_TIME, type="timestamp"),
        "is_current": ibis.literal(True),
    }
    members = history.select(
        **{key_name: surrogate_key(history[natural_key], history.valid_from)},
        **{natural_key: history[natural_key]},
        **{a: history[a] for a in attributes},
        valid_from=history.valid_from.cast("timestamp"),
        valid_to=history.valid_to.cast("timestamp"),
        is_current=history.is_current,
    )
    # The unknown member comes from a one-row literal table so an empty source still has it.
    unknown = {}
    for name, dtype in members.schema().items():
        if name == key_name:
            unknown[name] = ibis.literal(UNKNOWN_KEY)
        elif name in scd:
            unknown[name] = scd[name]
        elif name == natural_key or (dtype.is_string() and name.endswith("_name")):
            unknown[name] = ibis.literal("unknown")
        else:
            unknown[name] = ibis.null(dtype)
    return members.union(ibis.memtable({"_one": [1]}).select(**unknown))


def dim_customer(customers: ir.Table, /) -> ir.Table:
    """Customer dimension: SCD2 versions of the customers' history."""
    return _scd_dimension(customers, "customer_id", "customer_key", ["customer_name"])


def dim_product(products: ir.Table, supplies: ir.Table, /) -> ir.Table:
    """Product dimension: SCD2 versions of the products' history, each with the product's summed
    current supply cost (supply costs are not versioned: a change of one updates every version)."""
    current = latest(supplies, "supply_uuid")
    supply_cost = current.group_by("product_id").agg(supply_cost=current.supply_cost.sum())
    return _scd_dimension(
        products.left_join(supply_cost, "product_id").drop("product_id_right"),
        "product_id",
        "product_key",
        [
            "product_name",
            "product_type",
            "product_description",
            "product_price",
            "is_food_item",
            "is_drink_item",
            "supply_cost",
        ],
    )


def dim_location(locations: ir.Table, /) -> ir.Table:
    """Location dimension: SCD2 versions of the locations' history."""
    return _scd_dimension(locations, "location_id", "location_key", ["location_name", "tax_rate", "opened_date"])


def dim_date(orders: ir.Table, /) -> ir.Table:
    """One row per day over the whole months the orders span, plus the unknown date (key -1).

    ``date_key`` is the integer ``yyyymmdd``.
    """
    bounds = orders.aggregate(lo=orders.ordered_at.min().truncate("M"), hi=orders.ordered_at.max().truncate("M"))
    one_day = ibis.interval(days=1)
    # Truncate the timestamps, then cast: DuckDB 1.5's date_trunc on a DATE returns TIMESTAMP
    # (1.4's returns DATE) and Ibis drops a cast to the type it already infers.
    days = bounds.select(midnight=ibis.range(bounds.lo, bounds.hi + ibis.interval(months=1), one_day).unnest())
    t = days.midnight
    d = t.cast("date")
    members = days.select(
        date_key=(d.year() * 10000 + d.month() * 100 + d.day()).cast("int64"),
        date_day=d,
        year=d.year().cast("int32"),
        quarter=d.quarter().cast("int32"),
        month=d.month().cast("int32"),
        month_name=d.strftime("%B"),
        month_start=t.truncate("M").cast("date"),
        week_start=t.truncate("W").cast("date"),
        day_of_month=d.day().cast("int32"),
        day_of_week=(d.day_of_week.index() + 1).cast("int32"),
        day_name=d.day_of_week.full_name(),
        is_weekend=d.day_of_week.index() >= 5,
    )
    unknown = {n: ibis.null(t) for n, t in members.schema().items()}
    unknown["date_key"] = ibis.literal(-1, type="int64")
    unknown["month_name"] = unknown["day_name"] = ibis.literal("unknown")
    return members.union(ibis.memtable({"_one": [1]}).select(**unknown))


def _lookup(facts: ir.Table, dim: ir.Table, natural_key: str, fact_column: str, key_name: str, at: str) -> ir.Table:
    """Add ``key_name`` to ``facts``: the dimension version of ``fact_column`` valid at ``at``,
    or the unknown member when there is none."""
    versions = dim.filter(dim[key_name] != UNKNOWN_KEY).select(
        _nk=dim[natural_key], _from=dim.valid_from, _to=dim.valid_to, **{key_name: dim[key_name]}
    )
    joined = facts.left_join(
        versions,
        [facts[fact_column] == versions._nk, facts[at] >= versions._from, facts[at] < versions._to],
    )
    return joined.mutate(**{key_name: joined[key_name].fill_null(UNKNOWN_KEY)}).drop("_nk", "_from", "_to")


def fct_order_items(
    stg_order_items: ir.Table,
    stg_orders: ir.Table,
    dim_customer: ir.Table,
    dim_product: ir.Table,
    dim_location: ir.Table,
    dim_date: ir.Table,
    /,
) -> ir.Table:
    """Order-line grain fact with a key to every dimension; never drops a line.

    Measures: ``product_price`` (revenue), ``supply_cost`` and ``gross_profit`` taken from the
    product version valid when the order was placed. Lines whose order, customer, product or
    location is unknown point to the unknown member (key ``-1``).
    """
    o = stg_orders.select("order_id", "customer_id", "location_id", "ordered_at")
    lines = stg_order_items.left_join(o, "order_id").drop("order_id_right")
    # An unknown order time still needs a timestamp to look dimensions up with.
    lines = lines.mutate(_at=lines.ordered_at.fill_null(ibis.literal(BEGINNING_OF_TIME, type="timestamp")))
    lines = _lookup(lines, dim_customer, "customer_id", "customer_id", "customer_key", "_at")
    lines = _lookup(lines, dim_product, "product_id", "product_id", "product_key", "_at")
    lines = _lookup(lines, dim_location, "location_id", "location_id", "location_key", "_at")
    product = dim_product.select("product_key", "product_price", "supply_cost")
    lines = lines.left_join(product, "product_key").drop("product_key_right")
    day = lines.ordered_at.date()
    date_key = (day.year() * 10000 + day.month() * 100 + day.day()).cast("int64")
    known_dates = dim_date.filter(dim_date.date_key != -1).select(_date_key="date_key")
    lines = lines.left_join(known_dates, date_key == known_dates._date_key)
    return lines.select(
        "order_item_id",
        "order_id",
        date_key=lines._date_key.fill_null(-1),
        customer_key="customer_key",
        product_key="product_key",
        location_key="location_key",
        ordered_at="ordered_at",
        product_price=lines.product_price,
        supply_cost=lines.supply_cost,
        gross_profit=lines.product_price - lines.supply_cost,
    )
