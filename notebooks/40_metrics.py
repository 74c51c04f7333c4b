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
# # 40 · Metrics
# **Purpose:** compute the metrics of the semantic layer (`lib/jaffle_shop/semantic_models.yml`:
# revenue, orders, average_order_value, new_customer_orders, food_revenue_pct, order_gross_profit,
# revenue_growth_mom, cumulative_revenue, ...) into tables the reports read.
#
# **Inputs:** schema `marts`. **Outputs:** schema `metrics` (`daily`, `weekly`, `monthly`,
# `monthly_by_location`, `monthly_by_product`), one column per metric. Query any other cut with
# `duckbook metrics query` or `duckbook.metrics.query(...)`.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
full_refresh: bool = False  # rebuild every model in full instead of only what its inputs' changes reach

# %%
import polars as pl

import duckbook
from duckbook.publish.page import table

ctx = duckbook.start_stage("40_metrics", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)

# %% [markdown]
# ## The metric catalogue

# %%
table(pl.DataFrame(ctx.project.semantic_layer.describe()))

# %% [markdown]
# ## Build the metric tables
# Each metric table is declared by its shape in `lib/jaffle_shop/models.py` (grain, dimensions,
# time axis); it holds every metric of the semantic layer that fits.

# %%
build = ctx.build_models("metrics", full_refresh=full_refresh)
build.report()

# %%
table(build.table("monthly").select("period", "revenue", "orders", "average_order_value", "new_customer_orders", "food_revenue_pct", "order_gross_profit").to_polars())

# %%
table(build.table("monthly_by_location").select("period", "location_name", "revenue", "orders", "average_order_value", "order_gross_profit").to_polars())

# %% [markdown]
# ## Audit and publish
# Each metric table must account for all revenue and every order of the marts (`totals_match`
# checks in `lib/jaffle_shop/models.yml`).

# %%
build.audit().select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
