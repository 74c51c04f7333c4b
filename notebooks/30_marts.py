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
#     display_name: Python (duckbook)
#     language: python
#     name: duckbook
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
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
full_refresh: bool = False  # rebuild every model in full instead of only what its inputs' changes reach

# %%
import duckbook
from jaffle_shop import star

ctx = duckbook.start_stage("30_marts", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)

# %% [markdown]
# ## Build
# The six jaffle-shop marts and the star schema, as declared with `schema="marts"` in
# `lib/jaffle_shop/models.py`, in dependency order (`orders` reads the staged `order_items`).

# %%
build = ctx.build_models("marts", full_refresh=full_refresh)
build.report()

# %% [markdown]
# Customers by type, and the facts that point to an unknown member:

# %%
customers = build.table("customers")
customers.group_by("customer_type").agg(customers=customers.count()).order_by("customer_type").to_polars()

# %%
fct = build.table("fct_order_items")
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
build.audit().select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
