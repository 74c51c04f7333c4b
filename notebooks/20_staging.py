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
# # 20 · Staging
# **Purpose:** one staging model per raw table, as the jaffle-shop reference defines them: rename
# to `*_id` / `*_name` columns, convert cents to dollars (`decimal(16,2)`, cents kept on orders),
# truncate timestamps to the day, add food/drink flags and the supply surrogate key.
#
# **Inputs:** schema `raw`. **Outputs:** schema `staging` (`stg_customers`, `stg_orders`,
# `stg_order_items`, `stg_products`, `stg_locations`, `stg_supplies`).

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
full_refresh: bool = False  # rebuild every model in full instead of only what its inputs' changes reach

# %%
import duckbook

ctx = duckbook.start_stage("20_staging", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)

# %% [markdown]
# ## Build
# Every model declared with `schema="staging"` in `lib/jaffle_shop/models.py`, in dependency order.

# %%
build = ctx.build_models("staging", full_refresh=full_refresh)
build.report()

# %% [markdown]
# A few orders, as staged:

# %%
build.table("stg_orders").order_by("ordered_at", "order_id").limit(5).to_polars()

# %% [markdown]
# ## Audit and publish
# The checks declared in `lib/jaffle_shop/models.yml`; an error check that fails stops the stage before it publishes.

# %%
build.audit().select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
