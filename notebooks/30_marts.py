# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 30 · Marts
# **Purpose:** the six jaffle-shop marts (`customers`, `orders`, `order_items`, `products`,
# `locations`, `supplies`) and a Kimball star schema beside them: `dim_date`, `dim_customer`,
# `dim_product`, `dim_location` (surrogate keys, SCD2 columns) and `fct_order_items` at order-line
# grain, whose missing references point to the unknown member (key `-1`) instead of being dropped.
#
# **Inputs:** schema `staging`. **Outputs:** schema `marts`.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<stage>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # DuckDB warehouse file; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse.duckdb)

# %%
import duckbook
from jaffle_shop import checks, marts, star

ctx = duckbook.start_stage("30_marts", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)
stg = ctx.tables("staging")

# %% [markdown]
# ## Jaffle-shop marts

# %%
build = ctx.build("marts")
order_items = build.add("order_items", marts.order_items(stg["stg_order_items"], stg["stg_orders"], stg["stg_products"], stg["stg_supplies"]))
orders = build.add("orders", marts.orders(stg["stg_orders"], order_items))
customers = build.add("customers", marts.customers(stg["stg_customers"], orders))
build.add("products", marts.products(stg["stg_products"]))
build.add("locations", marts.locations(stg["stg_locations"]))
build.add("supplies", marts.supplies(stg["stg_supplies"]))

# %% [markdown]
# ## Star schema

# %%
dims = {
    "dim_date": build.add("dim_date", star.dim_date(stg["stg_orders"])),
    "dim_customer": build.add("dim_customer", star.dim_customer(stg["stg_customers"])),
    "dim_product": build.add("dim_product", star.dim_product(stg["stg_products"], stg["stg_supplies"])),
    "dim_location": build.add("dim_location", star.dim_location(stg["stg_locations"])),
}
fct = build.add(
    "fct_order_items",
    star.fct_order_items(stg["stg_order_items"], stg["stg_orders"], dims["dim_customer"], dims["dim_product"], dims["dim_location"], dims["dim_date"]),
)
build.row_counts()

# %% [markdown]
# Customers by type, and the facts that point to an unknown member:

# %%
customers.group_by("customer_type").agg(customers=customers.count()).order_by("customer_type").to_polars()

# %%
fct.aggregate(
    lines=fct.count(),
    unknown_customer=(fct.customer_key == star.UNKNOWN_KEY).sum(),
    unknown_product=(fct.product_key == star.UNKNOWN_KEY).sum(),
    unknown_location=(fct.location_key == star.UNKNOWN_KEY).sum(),
    unknown_date=(fct.date_key == -1).sum(),
).to_polars()

# %% [markdown]
# ## Audit and publish

# %%
build.audit(checks.for_schema("marts", ctx.run_date)).select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
