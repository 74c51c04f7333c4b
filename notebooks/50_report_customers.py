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
from duckbook.publish.page import Column
from jaffle_shop import analysis

ctx = duckbook.start_stage("50_report_customers", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse, as_of=as_of)
marts = ctx.tables("marts")
metrics_tables = {name: t.to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64)) for name, t in ctx.tables("metrics").items()}
cohorts = analysis.cohorts(marts["orders"]).to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64))
spend = analysis.spend_distribution(marts["customers"]).to_polars()  # bands sized to the data
spenders = marts["customers"].filter(marts["customers"].lifetime_spend.notnull())
spend_by_type = spenders.group_by("customer_type").agg(customers=spenders.count(), average=spenders.lifetime_spend.mean(), total=spenders.lifetime_spend.sum()).order_by("customer_type").to_polars()
customer_types = marts["customers"].group_by("customer_type").agg(customers=marts["customers"].count()).order_by("customer_type").to_polars()
orders = marts["orders"]
first_order, data_date = orders.aggregate(first=orders.ordered_at.min(), last=orders.ordered_at.max()).to_polars().row(0)
snapshot = report.snapshot_of(ctx)
ctx.close()
report.setup_charts()
coverage = report.Coverage.of(first_order, data_date)  # the days the data covers: partial months are flagged

# %%
# NBVAL_IGNORE_OUTPUT
report.header("Jaffle Shop · Customers", run_id=ctx.run_id, data_date=data_date, run_started_at=ctx.run_started_at, run_date=ctx.run_date, stage=ctx.stage, as_of=ctx.as_of, snapshot=snapshot)

# %% [markdown]
# ## New and returning customers
# A customer is *returning* once they have ordered more than once; customers who have not ordered
# yet count as *new*.

# %%
report.table(
    customer_types.with_columns(share=pl.col("customers") / pl.col("customers").sum()),
    {"customer_type": Column("text", "Customer type"), "customers": "integer", "share": Column("percent", "Share of customers")},
)

# %%
# NBVAL_IGNORE_OUTPUT
grain = report.grain_for(first_order, data_date)  # daily, weekly or monthly: readable over the data's span
unit = {"daily": "day", "weekly": "week", "monthly": "month"}[grain]
by_period = (
    metrics_tables[grain]
    .select("period", pl.col("new_customer_orders").alias("new"), pl.col("returning_customer_orders").alias("returning"))
    .unpivot(index="period", variable_name="customer", value_name="orders")
    .sort("period")
    .with_columns(pl.col("period").dt.strftime("%b %Y" if grain == "monthly" else "%b %d").alias("label"))
)
labels = by_period["label"].unique(maintain_order=True).to_list()
shown_labels = labels[:: -(-len(labels) // 16)]  # at most 16 axis labels: a year of weeks stays readable
alt.Chart(by_period).mark_bar().encode(
    x=alt.X("label:O", sort=None, title="Day" if grain == "daily" else f"{unit.capitalize()} starting", axis=alt.Axis(values=shown_labels, labelAngle=-45)),
    y=alt.Y("orders:Q", title="Orders"),
    color=alt.Color("customer:N", title="Customer"),
).properties(
    width=700,
    height=240,
    title=alt.TitleParams(
        f"Orders from new and returning customers, per {unit}",
        subtitle=[f"The first and last {unit} may be partial."] if grain != "daily" else [],
    ),
)

# %% [markdown]
# ## Cohorts by first-order month
# Each row is the customers whose first order fell in that month; each cell the share of them who
# ordered again that many months later (month 0: the month of the first order, 100%). Darker is
# higher; the lower right is empty because those months have not happened yet.

# %%
retention = cohorts.with_columns(retained=pl.col("active_customers") / pl.col("cohort_size"))
later = retention.filter(pl.col("months_since_first") > 0)["retained"]
report.heatmap(
    retention,
    rows="cohort_month",
    columns="months_since_first",
    value="retained",
    sizes="cohort_size",
    column_label="Month {}",
    scale=(later.min(), later.max()) if later.len() else None,  # month 0 is always 100%: scale to the later months
    coverage=coverage,
)

# %%
# NBVAL_IGNORE_OUTPUT
curve = (
    retention.group_by("months_since_first")
    .agg(active=pl.col("active_customers").sum(), size=pl.col("cohort_size").sum())
    .with_columns(retained=pl.col("active") / pl.col("size"))
    .sort("months_since_first")
)
alt.Chart(curve).mark_line(point=True).encode(
    x=alt.X("months_since_first:O", title="Months since first order"),
    y=alt.Y("retained:Q", title="Customers ordering", axis=alt.Axis(format="%")),
    tooltip=[alt.Tooltip("months_since_first:O", title="Month"), alt.Tooltip("retained:Q", title="Retained", format=".1%")],
).properties(width=500, height=220, title="Retention over all cohorts")

# %% [markdown]
# ## Lifetime spend
# Customers who have ordered, by lifetime spend (with tax), in bands sized to the data.

# %%
# NBVAL_IGNORE_OUTPUT
band = spend["spend_to"][0] - spend["spend_from"][0] if spend.height else 0
alt.Chart(spend).mark_bar().encode(
    x=alt.X("spend_from:Q", bin="binned", title="Lifetime spend", axis=alt.Axis(format="$,.0f")),
    x2="spend_to:Q",
    y=alt.Y("customers:Q", title="Customers"),
    color=alt.Color("customer_type:N", title="Customer"),
).properties(width=700, height=240, title=f"Customers by lifetime spend, in ${band:,.0f} bands")

# %%
report.table(
    spend_by_type,
    {
        "customer_type": Column("text", "Customer type"),
        "customers": Column("integer", "Customers who ordered"),
        "average": Column("currency", "Average lifetime spend"),
        "total": Column("currency", "Total lifetime spend"),
    },
)
