"""The six jaffle-shop marts, as the dbt Labs reference project defines them.

Each is a pure ``Table -> Table`` function over staging models (or other marts).

Examples
--------
An order with one food and one drink item, and an order without items:

>>> import ibis
>>> from decimal import Decimal as D
>>> items = ibis.memtable({"order_item_id": ["i1", "i2"], "order_id": ["o1", "o1"],
...                        "product_price": [D("11.00"), D("6.00")], "supply_cost": [D("0.5"), D("0.2")],
...                        "is_food_item": [True, False], "is_drink_item": [False, True]})
>>> stg = ibis.memtable({"order_id": ["o1", "o2"], "customer_id": ["c1", "c1"],
...                      "ordered_at": ["2024-01-01", "2024-01-02"]}).mutate(ordered_at=ibis._.ordered_at.cast("timestamp"))
>>> cols = ["order_id", "count_order_items", "count_food_items", "is_food_order", "customer_order_number"]
>>> [list(r.values()) for r in orders(stg, items).order_by("order_id").select(cols).to_pyarrow().to_pylist()]
[['o1', 2, 1, True, 1], ['o2', None, None, None, 2]]
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from jaffle_shop.staging import latest


def order_items(
    stg_order_items: ir.Table, stg_orders: ir.Table, stg_products: ir.Table, stg_supplies: ir.Table, /
) -> ir.Table:
    """Each order line with its order's ``ordered_at``, its product's current name, price and
    food/drink flags, and ``supply_cost`` = the sum of all current supply costs of that product."""
    supplies = latest(stg_supplies, "supply_uuid")
    supply_cost = supplies.group_by("product_id").agg(supply_cost=supplies.supply_cost.sum())
    i, o, p = stg_order_items, stg_orders, latest(stg_products, "product_id")
    return (
        i.left_join(o.select("order_id", "ordered_at"), "order_id")
        .left_join(
            p.select("product_id", "product_name", "product_price", "is_food_item", "is_drink_item"), "product_id"
        )
        .left_join(supply_cost, "product_id")
        .select(
            *i.columns,
            "ordered_at",
            "product_name",
            "product_price",
            "is_food_item",
            "is_drink_item",
            "supply_cost",
        )
    )


def orders(stg_orders: ir.Table, order_items: ir.Table, /) -> ir.Table:
    """Each order with item aggregates (NULL when the order has no items, as a left join gives),
    food/drink flags and ``customer_order_number`` (1 = the customer's first order).

    Orders are numbered by ``ordered_at`` (a day) and then ``order_id``, so two orders of one
    customer on the same day get a stable order; the reference leaves that tie undefined.
    """
    it = order_items
    summary = it.group_by("order_id").agg(
        order_cost=it.supply_cost.sum(),
        order_items_subtotal=it.product_price.sum(),
        count_order_items=it.order_item_id.count(),
        count_food_items=it.is_food_item.ifelse(1, 0).sum().cast("int64"),
        count_drink_items=it.is_drink_item.ifelse(1, 0).sum().cast("int64"),
    )
    joined = stg_orders.left_join(summary, "order_id").drop("order_id_right")
    numbered = joined.mutate(
        is_food_order=joined.count_food_items > 0,
        is_drink_order=joined.count_drink_items > 0,
        customer_order_number=ibis.row_number().over(group_by="customer_id", order_by=["ordered_at", "order_id"]) + 1,
    )
    return numbered


def customers(stg_customers: ir.Table, orders: ir.Table, /) -> ir.Table:
    """Each customer with lifetime order count, first/last order, spend and ``customer_type``
    (``returning`` when more than one order, else ``new``; customers without orders are ``new``
    with NULL aggregates)."""
    o = orders
    summary = o.group_by("customer_id").agg(
        count_lifetime_orders=o.order_id.nunique(),
        first_ordered_at=o.ordered_at.min(),
        last_ordered_at=o.ordered_at.max(),
        lifetime_spend_pretax=o.subtotal.sum(),
        lifetime_tax_paid=o.tax_paid.sum(),
        lifetime_spend=o.order_total.sum(),
    )
    joined = latest(stg_customers, "customer_id").left_join(summary, "customer_id").drop("customer_id_right")
    return joined.mutate(
        customer_type=ibis.cases((joined.count_lifetime_orders > 1, "returning"), else_="new"),
    )


def products(stg_products: ir.Table, /) -> ir.Table:
    """Each product's latest version (a withdrawn product keeps its last attributes)."""
    return latest(stg_products, "product_id")


def locations(stg_locations: ir.Table, /) -> ir.Table:
    """Each location's latest version."""
    return latest(stg_locations, "location_id")


def supplies(stg_supplies: ir.Table, /) -> ir.Table:
    """Each supply's latest version."""
    return latest(stg_supplies, "supply_uuid")
