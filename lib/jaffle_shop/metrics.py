"""Jaffle Shop metrics: declared once here, computed by :mod:`duckbook.metrics`.

Models are marts joined to their location so every metric can be sliced by ``location_name``.
Revenue is item revenue before tax (the sum of ``product_price``), as in the jaffle-shop
semantic layer.
"""

from __future__ import annotations

import ibis.expr.types as ir

from duckbook.metrics import Metric, MetricLayer, Model, safe_divide

LAYER = MetricLayer(
    models={
        "orders": Model("orders", time_column="ordered_at", dimensions=("location_name",)),
        "order_items": Model("order_items", time_column="ordered_at", dimensions=("location_name",)),
    },
    metrics=[
        Metric("revenue", "Item revenue before tax: sum of product_price over order lines.",
               model="order_items", measure=lambda t: t.product_price.sum(), format="currency"),
        Metric("food_revenue", "Revenue from food items (jaffles).",
               model="order_items", measure=lambda t: t.product_price.sum(where=t.is_food_item), format="currency"),
        Metric("drink_revenue", "Revenue from drink items (beverages).",
               model="order_items", measure=lambda t: t.product_price.sum(where=t.is_drink_item), format="currency"),
        Metric("order_cost", "Supply cost of the items sold.",
               model="order_items", measure=lambda t: t.supply_cost.sum(), format="currency"),
        Metric("order_count", "Number of orders.",
               model="orders", measure=lambda t: t.order_id.nunique()),
        Metric("new_customer_orders", "Orders that were the customer's first order.",
               model="orders", measure=lambda t: t.order_id.nunique(where=t.customer_order_number == 1)),
        Metric("returning_customer_orders", "Orders from customers who had ordered before.",
               model="orders", measure=lambda t: t.order_id.nunique(where=t.customer_order_number > 1)),
        Metric("average_order_value", "Revenue per order.", inputs=("revenue", "order_count"),
               formula=lambda m: safe_divide(m.revenue, m.order_count), format="currency"),
        Metric("food_revenue_pct", "Share of revenue from food items.", inputs=("food_revenue", "revenue"),
               formula=lambda m: safe_divide(m.food_revenue, m.revenue), format="percent"),
        Metric("gross_profit", "Revenue minus the supply cost of the items sold.", inputs=("revenue", "order_cost"),
               formula=lambda m: m.revenue - m.order_cost, format="currency"),
    ],
)


def models(marts: dict[str, ir.Table]) -> dict[str, ir.Table]:
    """The metric models built from the published marts (each with ``location_name``)."""
    locations = marts["locations"].select("location_id", "location_name")
    orders = marts["orders"].left_join(locations, "location_id").drop("location_id_right")
    order_location = orders.select("order_id", "location_name")
    items = marts["order_items"].left_join(order_location, "order_id").drop("order_id_right")
    return {"orders": orders, "order_items": items}


#: The metric tables the 40_metrics stage publishes: name -> (grain, dimensions).
TABLES = {
    "daily": ("day", ()),
    "monthly": ("month", ()),
    "monthly_by_location": ("month", ("location_name",)),
}
