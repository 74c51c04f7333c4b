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
# # 40 · Metrics
# **Purpose:** compute the metrics of the semantic layer (`lib/jaffle_shop/semantic_models.yml`:
# revenue, orders, average_order_value, new_customer_orders, food_revenue_pct, order_gross_profit,
# revenue_growth_mom, cumulative_revenue, ...) into tables the reports read.
#
# **Inputs:** schema `marts`. **Outputs:** schema `metrics` (`daily`, `weekly`, `monthly`,
# `monthly_by_location`, `monthly_by_product`), one column per metric. Query any other cut with
# `duckbook metrics query` or `duckbook.metrics.query(...)`.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<stage>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # DuckDB warehouse file; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse.duckdb)

# %%
import polars as pl

import duckbook
from duckbook.publish.page import table
from duckbook.quality import checks
from jaffle_shop import checks as jaffle_checks
from jaffle_shop import metrics

ctx = duckbook.start_stage("40_metrics", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)
marts = ctx.tables("marts")
tables = {f"marts.{name}": t for name, t in marts.items()}  # what the semantic models read

# %% [markdown]
# ## The metric catalogue

# %%
table(pl.DataFrame(metrics.LAYER.describe()))

# %% [markdown]
# ## Build the metric tables

# %%
build = ctx.build("metrics")
for table_name, (grain, by, names) in metrics.TABLES.items():
    build.add(table_name, metrics.LAYER.query(names, tables, grain=grain, by=by))
build.row_counts()

# %%
table(build.tables["monthly"].select("period", "revenue", "orders", "average_order_value", "new_customer_orders", "food_revenue_pct", "order_gross_profit").to_polars())

# %%
table(build.tables["monthly_by_location"].select("period", "location_name", "revenue", "orders", "average_order_value", "order_gross_profit").to_polars())

# %% [markdown]
# ## Audit and publish
# Each metric table must account for all revenue and every order of the marts.

# %%
items, orders = marts["order_items"], marts["orders"]
total_revenue = items.product_price.sum()
total_orders = orders.order_id.nunique()
reconcile = [
    checks.expression(
        name,
        "revenue_reconciles",
        lambda t: t.revenue.sum().fill_null(0) == total_revenue.fill_null(0),
        f"metrics.{name}: sum of revenue = sum of order_items.product_price",
    )
    for name in metrics.TABLES
] + [
    checks.expression(
        name,
        "orders_reconcile",
        lambda t: t.orders.sum().fill_null(0) == total_orders,
        f"metrics.{name}: sum of orders = number of orders",
    )
    for name in metrics.TABLES
    if name != "monthly_by_product"  # an order spans several products
] + jaffle_checks.for_schema("metrics", ctx.run_date)
build.audit(reconcile).select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
