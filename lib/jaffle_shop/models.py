"""The Jaffle Shop's models, declared once: the function, its inputs (by default the names of its
positional parameters), the schema it lands in. duckbook derives the DAG from this list; the
stage notebooks build one schema's models in one call. Descriptions and checks are in
``models.yml``; adding a mart is one function, its name here and its YAML entry."""

from __future__ import annotations

from duckbook.project import Model, metric_table, model
from duckbook.project.model import Transform
from jaffle_shop import marts, staging, star


def _by_day(function: Transform, *, unique_key: str) -> Model:
    """An order fact of the marts: incremental by the day of the order, 3 days of lookback."""
    return model(
        function,
        schema="marts",
        materialization="incremental",
        time_column="ordered_at",
        lookback_days=3,
        unique_key=unique_key,
    )


MODELS = [
    # staging. Event sources grow by delivery: their staging models take only the changed rows.
    model(
        staging.stg_orders,
        schema="staging",
        materialization="incremental",
        row_wise=True,
        unique_key="order_id",
        time_column="ordered_at",
    ),
    model(
        staging.stg_order_items,
        schema="staging",
        materialization="incremental",
        row_wise=True,
        unique_key="order_item_id",
    ),
    # Snapshot sources keep history: one SCD2 version per change of a member (valid_from/valid_to/is_current).
    model(staging.stg_customers, schema="staging", materialization="snapshot", unique_key="customer_id"),
    model(staging.stg_products, schema="staging", materialization="snapshot", unique_key="product_id"),
    model(staging.stg_locations, schema="staging", materialization="snapshot", unique_key="location_id"),
    model(staging.stg_supplies, schema="staging", materialization="snapshot", unique_key="supply_uuid"),
    # the six jaffle-shop marts (current attributes, as the reference project): facts by time
    # window (3 days of lookback for late rows), customers by the customers a delivery touched
    _by_day(marts.order_items, unique_key="order_item_id"),
    _by_day(marts.orders, unique_key="order_id"),
    model(marts.customers, schema="marts", materialization="incremental", unique_key="customer_id"),
    model(marts.products, schema="marts", unique_key="product_id"),
    model(marts.locations, schema="marts", unique_key="location_id"),
    model(marts.supplies, schema="marts", unique_key="supply_uuid"),
    # the star schema beside them: SCD2 dimensions from the staging history, a point-in-time fact
    model(star.dim_date, schema="marts", inputs=["stg_orders"], unique_key="date_key"),
    model(star.dim_customer, schema="marts", inputs=["stg_customers"], unique_key="customer_key"),
    model(star.dim_product, schema="marts", inputs=["stg_products", "stg_supplies"], unique_key="product_key"),
    model(star.dim_location, schema="marts", inputs=["stg_locations"], unique_key="location_key"),
    _by_day(star.fct_order_items, unique_key="order_item_id"),
    # metric tables: every metric on the order-time axis that fits the grain and dimensions
    # (incremental by period: a late order recomputes the periods from its day on)
    metric_table("daily", grain="day", axis="order_time"),
    metric_table("weekly", grain="week", axis="order_time"),
    metric_table("monthly", grain="month", axis="order_time"),
    metric_table("monthly_by_location", grain="month", axis="order_time", by=["location_name"]),
    metric_table("monthly_by_product", grain="month", axis="order_time", by=["product_name", "product_type"]),
]
