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
# # Jaffle Shop · Customers
# Who buys, who comes back, and how much they spend. Only aggregates are shown: customer names
# and ids never appear on this page.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
as_of: str = ""  # reproduce the report as a run published it: a run id, snapshot id or timestamp; empty: this run

# %%
import altair as alt
import polars as pl

import duckbook  # first: it spares altair's jsonschema a slow optional import
from duckbook.publish import page as report
from jaffle_shop import analysis

ctx = duckbook.start_stage("50_report_customers", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse, as_of=as_of)
marts = ctx.tables("marts")
metrics_tables = {name: t.to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64)) for name, t in ctx.tables("metrics").items()}
cohorts = analysis.cohorts(marts["orders"]).to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64))
spend = analysis.spend_distribution(marts["customers"]).to_polars()
customer_types = marts["customers"].group_by("customer_type").agg(customers=marts["customers"].count()).order_by("customer_type").to_polars()
data_date = marts["orders"].ordered_at.max().to_pyarrow().as_py()
ctx.close()
report.setup_charts()

# %%
# NBVAL_IGNORE_OUTPUT
report.header("Jaffle Shop · Customers", run_id=ctx.run_id, data_date=data_date, run_started_at=ctx.run_started_at, run_date=ctx.run_date)

# %% [markdown]
# ## New and returning customers
# A customer is *returning* once they have ordered more than once; customers who have not ordered
# yet count as *new*.

# %%
report.table(customer_types)

# %%
# NBVAL_IGNORE_OUTPUT
weekly = (
    metrics_tables["weekly"]
    .select("period", pl.col("new_customer_orders").alias("new"), pl.col("returning_customer_orders").alias("returning"))
    .unpivot(index="period", variable_name="customer", value_name="orders")
    .with_columns(pl.col("period").dt.strftime("%Y-%m-%d").alias("week"))
)
alt.Chart(weekly).mark_bar().encode(
    x=alt.X("week:O", title="Week starting"),
    y=alt.Y("orders:Q", title="Orders"),
    color=alt.Color("customer:N", title="Customer"),
).properties(width=700, height=240, title="Orders from new and returning customers, by week")

# %% [markdown]
# ## Cohorts by first-order month
# Customers active in each month after their first order, as a share of the cohort.

# %%
retention = cohorts.with_columns(
    (pl.col("active_customers") / pl.col("cohort_size") * 100).alias("retained_%"),
    pl.col("cohort_month").dt.strftime("%Y-%m"),
)
report.table(retention.select("cohort_month", "months_since_first", "cohort_size", "active_customers", "retained_%", "orders", "revenue"))

# %%
# NBVAL_IGNORE_OUTPUT
alt.Chart(retention).mark_rect().encode(
    x=alt.X("months_since_first:O", title="Months since first order"),
    y=alt.Y("cohort_month:O", title="Cohort (first order)"),
    color=alt.Color("retained_%:Q", title="Retained %", scale=alt.Scale(scheme="blues")),
    tooltip=["cohort_month", "months_since_first", "active_customers", "retained_%"],
).properties(width=300, height=200, title="Retention by cohort")

# %% [markdown]
# ## Lifetime spend
# Customers who have ordered, by lifetime spend (with tax), in $25 bands.

# %%
# NBVAL_IGNORE_OUTPUT
alt.Chart(spend).mark_bar().encode(
    x=alt.X("spend_from:Q", bin="binned", title="Lifetime spend ($)"),
    x2="spend_to:Q",
    y=alt.Y("customers:Q", title="Customers"),
    color=alt.Color("customer_type:N", title="Customer"),
).properties(width=700, height=240, title="Customers by lifetime spend")

# %%
report.table(
    spend.group_by("customer_type").agg(customers=pl.col("customers").sum()).sort("customer_type")
)
