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
# # Jaffle Shop · Executive overview
# Revenue, orders and customers across the shop's locations. Revenue is item revenue before tax;
# figures come from the `metrics` schema, which reconciles with the marts on every run.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
as_of: str = ""  # reproduce the report as a run published it: a run id, snapshot id or timestamp; empty: this run

# %%
import altair as alt
import polars as pl
from IPython.display import Markdown, display

import duckbook  # first: it spares altair's jsonschema a slow optional import
from duckbook.publish import page as report
from duckbook.publish.page import Column
from jaffle_shop import analysis

ctx = duckbook.start_stage("50_report_overview", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse, as_of=as_of)
marts = ctx.tables("marts")
# Charts take floats; the metric tables keep exact decimals.
metrics_tables = {name: t.to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64)) for name, t in ctx.tables("metrics").items()}
product_versions = analysis.product_versions(marts["dim_product"]).to_polars()
price_history = analysis.price_history(marts["fct_order_items"], marts["dim_product"]).to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64))
orders = marts["orders"]
first_order, data_date = orders.aggregate(first=orders.ordered_at.min(), last=orders.ordered_at.max()).to_polars().row(0)
opened = dict(marts["locations"].select("location_name", "opened_date").to_polars().iter_rows())
snapshot = report.snapshot_of(ctx)
ctx.close()
report.setup_charts()
coverage = report.Coverage.of(first_order, data_date)  # the days the data covers: partial months are flagged
monthly = metrics_tables["monthly"].sort("period")
by_location = metrics_tables["monthly_by_location"].sort("period", "location_name")

# %%
# NBVAL_IGNORE_OUTPUT
report.header("Jaffle Shop · Executive overview", run_id=ctx.run_id, data_date=data_date, run_started_at=ctx.run_started_at, run_date=ctx.run_date, stage=ctx.stage, as_of=ctx.as_of, snapshot=snapshot)

# %% [markdown]
# ## At a glance
# The latest month the data covers whole, against the month before. A month the data covers only
# in part (often the first and the last) is flagged *partial* and never compared.

# %%
report.headline(
    monthly,
    {
        "revenue": "currency",
        "orders": "integer",
        "average_order_value": "currency",
        "new_customer_orders": Column("integer", "New customers"),
        "order_gross_profit": Column("currency", "Gross profit"),
    },
    coverage=coverage,
)

# %% [markdown]
# ## Month by month
# Revenue is item revenue before tax. Growth is against the previous month, shown only when both
# months are whole.

# %%
report.table(
    monthly.select("period", "revenue", "orders", "average_order_value", "revenue_growth_mom", "new_customer_orders", "food_revenue_pct", "order_gross_profit"),
    {
        "period": Column("month", "Month"),
        "revenue": "currency",
        "orders": "integer",
        "average_order_value": "currency",
        "revenue_growth_mom": Column("change", "Growth vs previous month"),
        "new_customer_orders": Column("integer", "New customers"),
        "food_revenue_pct": Column("percent", "Food share of revenue"),
        "order_gross_profit": Column("currency", "Gross profit"),
    },
    coverage=coverage,
)

# %% [markdown]
# ## Revenue trend

# %%
# NBVAL_IGNORE_OUTPUT
daily = metrics_tables["daily"].sort("period")
alt.Chart(daily).mark_line(point=daily.height <= 62).encode(  # points only while they stay apart (and the page light)
    x=alt.X("period:T", title="Day"),
    y=alt.Y("revenue:Q", title="Revenue", axis=alt.Axis(format="$,.0f")),
    tooltip=[alt.Tooltip("period:T", title="Day"), alt.Tooltip("revenue:Q", title="Revenue", format="$,.2f"), alt.Tooltip("orders:Q", title="Orders")],
).properties(width=800, height=260, title="Revenue per day")

# %% [markdown]
# ## By location
# A row per month, a column per store; months before a store opened (its `opened_date` in
# `marts.locations`) show *not open*.

# %%
report.pivot(by_location, rows="period", columns="location_name", value="revenue", fmt="currency", opened=opened, coverage=coverage, total="All locations")

# %%
report.pivot(by_location, rows="period", columns="location_name", value="orders", fmt="integer", opened=opened, coverage=coverage, total="All locations")

# %%
# NBVAL_IGNORE_OUTPUT
alt.Chart(by_location.with_columns(pl.col("period").dt.strftime("%b %Y").alias("month"))).mark_bar().encode(
    x=alt.X("month:N", title="Month", sort=None),
    xOffset="location_name:N",
    y=alt.Y("orders:Q", title="Orders"),
    color=alt.Color("location_name:N", title="Location"),
).properties(width=800, height=260, title="Orders by location and month")

# %% [markdown]
# ## Food vs drink revenue mix (monthly)

# %%
# NBVAL_IGNORE_OUTPUT
mix = (
    monthly.select(pl.col("period").dt.strftime("%b %Y").alias("month"), "food_revenue", "drink_revenue")
    .unpivot(index="month", variable_name="category", value_name="revenue")
    .with_columns(pl.col("category").str.replace("_revenue", ""))
)
alt.Chart(mix).mark_bar().encode(
    x=alt.X("month:N", title="Month", sort=None),
    y=alt.Y("revenue:Q", stack="normalize", title="Share of revenue", axis=alt.Axis(format="%")),
    color=alt.Color("category:N", title="Category"),
).properties(width=400, height=260, title="Food vs drink revenue")

# %% [markdown]
# ## Top products
# The month of the headline figures: the latest whole month (the latest month when none is whole).

# %%
products = metrics_tables["monthly_by_product"]
top_month = coverage.latest_complete() if coverage.latest_complete() in set(products["period"]) else products["period"].max()
top = (
    products.filter(pl.col("period") == top_month, pl.col("revenue").is_not_null())
    .sort("revenue", "product_name", descending=[True, False])
    .select("product_name", "product_type", "revenue", "order_gross_profit")
)
report.table(top, {"product_name": Column("text", "Product"), "product_type": Column("text", "Type"), "revenue": "currency", "order_gross_profit": Column("currency", "Gross profit")})

# %%
# NBVAL_IGNORE_OUTPUT
alt.Chart(top).mark_bar().encode(
    x=alt.X("revenue:Q", title="Revenue", axis=alt.Axis(format="$,.0f")),
    y=alt.Y("product_name:N", sort="-x", title=None),
    color=alt.Color("product_type:N", title="Type"),
).properties(width=600, height=240, title=f"Revenue by product, {top_month:%b %Y}")

# %% [markdown]
# ## New vs returning customers
# Orders per day, week or month: whichever keeps the chart readable over the data's span.

# %%
# NBVAL_IGNORE_OUTPUT
grain = report.grain_for(first_order, data_date)
unit = {"daily": "day", "weekly": "week", "monthly": "month"}[grain]
customers = (
    metrics_tables[grain]
    .select("period", pl.col("new_customer_orders").alias("new"), pl.col("returning_customer_orders").alias("returning"))
    .unpivot(index="period", variable_name="customer", value_name="orders")
)
alt.Chart(customers).mark_area().encode(
    x=alt.X("period:T", title=f"{unit.capitalize()} starting" if grain != "daily" else "Day"),
    y=alt.Y("orders:Q", stack=True, title="Orders"),
    color=alt.Color("customer:N", title="Customer"),
).properties(
    width=800,
    height=260,
    title=alt.TitleParams(
        f"Orders from new and returning customers, per {unit}",
        subtitle=[f"The first and last {unit} may be partial."] if grain != "daily" else [],
    ),
)

# %% [markdown]
# ## Price history
# Products with more than one version in `marts.dim_product`: their daily revenue at the price in
# force when the order was placed (`marts.fct_order_items`) against what the same lines would bring
# at the current price. The dashed rule marks the day a new version took effect.

# %%
# NBVAL_IGNORE_OUTPUT
revenue_lines = price_history.unpivot(
    index=["product_id", "day"], on=["revenue", "revenue_at_current_price"], variable_name="priced_at", value_name="amount"
).with_columns(pl.col("priced_at").replace({"revenue": "price in force", "revenue_at_current_price": "current price"}))
changes = product_versions.filter(pl.col("version") > 1).select("product_id", change_day=pl.col("valid_from").dt.date())
latest_versions = product_versions.filter(pl.col("version") == pl.col("versions"))
if not latest_versions.is_empty():
    display(
        alt.vconcat(*[
            alt.layer(
                alt.Chart(revenue_lines.filter(pl.col("product_id") == product)).mark_line(point=price_history["day"].n_unique() <= 62).encode(
                    x=alt.X("day:T", title="Day", axis=alt.Axis(format="%b %d")),
                    y=alt.Y("amount:Q", title="Revenue", axis=alt.Axis(format="$,.0f")),
                    color=alt.Color("priced_at:N", title="Priced at", sort=["price in force", "current price"]),
                ),
                alt.Chart(changes.filter(pl.col("product_id") == product)).mark_rule(strokeDash=[4, 4], color="gray").encode(x="change_day:T"),
                alt.Chart(changes.filter(pl.col("product_id") == product)).mark_text(align="left", dx=4, y=8, color="gray").encode(
                    x="change_day:T", text=alt.value("new version")
                ),
            ).properties(width=800, height=200, title=f"{product} · {name}: revenue per day")
            for product, name in latest_versions.select("product_id", "product_name").iter_rows()
        ])
    )

# %%
if product_versions.is_empty():
    shown = Markdown("No product has more than one version in `marts.dim_product`: no price change to show.")
else:
    shown = report.table(
        product_versions.select("product_id", "product_name", "version", pl.col("valid_from", "valid_to").dt.date(), "is_current", "product_price"),
        {
            "product_id": Column("text", "Product ID"),
            "product_name": Column("text", "Product"),
            "version": "integer",
            "valid_from": "date",
            "valid_to": "date",
            "is_current": Column("text", "Current"),
            "product_price": Column("currency", "Price"),
        },
    )
shown
