"""The Jaffle Shop's models, declared once: the function, its inputs (by default the names of its
positional parameters), the schema it lands in. duckbook derives the DAG from this list; the
stage notebooks build one schema's models in one call. Descriptions and checks are in
``models.yml``; adding a mart is one function, its name here and its YAML entry."""

from __future__ import annotations

from duckbook.project import metric_table, model
from jaffle_shop import marts, staging, star

MODELS = [
    # staging: one model per raw table
    *[
        model(f, schema="staging")
        for f in (
            staging.stg_customers,
            staging.stg_orders,
            staging.stg_order_items,
            staging.stg_products,
            staging.stg_locations,
            staging.stg_supplies,
        )
    ],
    # the six jaffle-shop marts
    *[
        model(f, schema="marts")
        for f in (marts.order_items, marts.orders, marts.customers, marts.products, marts.locations, marts.supplies)
    ],
    # the star schema beside them (its transforms name their inputs generically)
    model(star.dim_date, schema="marts", inputs=["stg_orders"]),
    model(star.dim_customer, schema="marts", inputs=["stg_customers"]),
    model(star.dim_product, schema="marts", inputs=["stg_products", "stg_supplies"]),
    model(star.dim_location, schema="marts", inputs=["stg_locations"]),
    model(star.fct_order_items, schema="marts"),
    # metric tables: every metric on the order-time axis that fits the grain and dimensions
    metric_table("daily", grain="day", axis="order_time"),
    metric_table("weekly", grain="week", axis="order_time"),
    metric_table("monthly", grain="month", axis="order_time"),
    metric_table("monthly_by_location", grain="month", axis="order_time", by=["location_name"]),
    metric_table("monthly_by_product", grain="month", axis="order_time", by=["product_name", "product_type"]),
]
