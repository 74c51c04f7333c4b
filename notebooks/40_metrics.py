# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 40 · Metrics
# **Purpose:** compute the metrics declared once in `lib/jaffle_shop/metrics.py` (revenue,
# order_count, average_order_value, new_customer_orders, food_revenue_pct, gross_profit, ...) by
# day, by month and by month and location.
#
# **Inputs:** schema `marts`. **Outputs:** schema `metrics` (`daily`, `monthly`,
# `monthly_by_location`), one column per metric.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<stage>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # DuckDB warehouse file; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse.duckdb)

# %%
import duckbook
from duckbook import checks
from duckbook.report import table
from jaffle_shop import metrics

ctx = duckbook.start_stage("40_metrics", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)
marts = ctx.tables("marts")
models = metrics.models(marts)

# %% [markdown]
# ## The metric catalogue

# %%
metrics.LAYER.describe().to_polars()

# %% [markdown]
# ## Build the metric tables

# %%
names = [m.name for m in metrics.LAYER.metrics]
build = ctx.build("metrics")
for table_name, (grain, by) in metrics.TABLES.items():
    build.add(table_name, metrics.LAYER.compute(names, models, grain=grain, by=by))
table(build.tables["monthly"].to_polars())

# %%
table(build.tables["monthly_by_location"].select("period", "location_name", "revenue", "order_count", "average_order_value", "gross_profit").to_polars())

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
        "order_count_reconciles",
        lambda t: t.order_count.sum().fill_null(0) == total_orders,
        f"metrics.{name}: sum of order_count = number of orders",
    )
    for name in metrics.TABLES
] + [checks.not_null(name, "period") for name in metrics.TABLES]
build.audit(reconcile).select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
