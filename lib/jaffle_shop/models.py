"""The Jaffle Shop's models, declared once: the function, its inputs (by default the names of its
positional parameters), the schema it lands in. duckbook derives the DAG from this list; the
stage notebooks build one schema's models in one call. Descriptions and checks are in
``models.yml``; adding a mart is one function, one line here and its YAML entry."""

from __future__ import annotations

from duckbook.project import metric_table, model
from jaffle_shop import marts, staging, star

MODELS = [
    # staging: one model per raw table
    model(staging.stg_customers, schema="staging"),
    model(staging.stg_orders, schema="staging"),
    model(staging.stg_order_items, schema="staging"),
    model(staging.stg_products, schema="staging"),
    model(staging.stg_locations, schema="staging"),
    model(staging.stg_supplies, schema="staging"),
    # the six jaffle-shop marts
    model(marts.order_items, schema="marts"),
    model(marts.orders, schema="marts"),
    model(marts.customers, schema="marts"),
    model(marts.products, schema="marts"),
    model(marts.locations, schema="marts"),
    model(marts.supplies, schema="marts"),
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
