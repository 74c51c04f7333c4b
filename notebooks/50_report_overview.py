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
from jaffle_shop import analysis

ctx = duckbook.start_stage("50_report_overview", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse, as_of=as_of)
marts = ctx.tables("marts")
# Charts take floats; the metric tables keep exact decimals.
metrics_tables = {name: t.to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64)) for name, t in ctx.tables("metrics").items()}
product_versions = analysis.product_versions(marts["dim_product"]).to_polars()
price_history = analysis.price_history(marts["fct_order_items"], marts["dim_product"]).to_polars().with_columns(pl.col(pl.Decimal).cast(pl.Float64))
data_date = marts["orders"].ordered_at.max().to_pyarrow().as_py()
ctx.close()
report.setup_charts()

# %%
# NBVAL_IGNORE_OUTPUT
report.header("Jaffle Shop · Executive overview", run_id=ctx.run_id, data_date=data_date, run_started_at=ctx.run_started_at, run_date=ctx.run_date)

# %% [markdown]
# ## Headline figures by month
# Growth is against the previous month; the first month of the data has none.

# %%
monthly = metrics_tables["monthly"].sort("period")
headline = monthly.select(
    pl.col("period").dt.strftime("%Y-%m").alias("month"),
    "revenue",
    "orders",
    "average_order_value",
    (pl.col("revenue_growth_mom") * 100).alias("growth_%"),
    "new_customer_orders",
    (pl.col("food_revenue_pct") * 100).alias("food_revenue_%"),
    "order_gross_profit",
)
report.table(headline)

# %% [markdown]
# ## Revenue trend (daily)

# %%
# NBVAL_IGNORE_OUTPUT
daily = metrics_tables["daily"].sort("period")
alt.Chart(daily).mark_line(point=True).encode(
    x=alt.X("period:T", title="Day"),
    y=alt.Y("revenue:Q", title="Revenue ($)"),
    tooltip=["period:T", "revenue:Q", "orders:Q"],
).properties(width=800, height=260, title="Revenue per day")

# %% [markdown]
# ## By location (monthly)

# %%
# NBVAL_IGNORE_OUTPUT
by_location = metrics_tables["monthly_by_location"].with_columns(pl.col("period").dt.strftime("%Y-%m").alias("month"))
alt.Chart(by_location).mark_bar().encode(
    x=alt.X("month:N", title="Month"),
    xOffset="location_name:N",
    y=alt.Y("orders:Q", title="Orders"),
    color=alt.Color("location_name:N", title="Location"),
).properties(width=800, height=260, title="Orders by location and month")

# %%
report.table(
    by_location.sort("period", "location_name").select(
        "month", "location_name", "revenue", "orders", "average_order_value", "new_customer_orders", "order_gross_profit"
    )
)

# %% [markdown]
# ## Food vs drink revenue mix (monthly)

# %%
# NBVAL_IGNORE_OUTPUT
mix = (
    monthly.select(pl.col("period").dt.strftime("%Y-%m").alias("month"), "food_revenue", "drink_revenue")
    .unpivot(index="month", variable_name="category", value_name="revenue")
    .with_columns(pl.col("category").str.replace("_revenue", ""))
)
alt.Chart(mix).mark_bar().encode(
    x=alt.X("month:N", title="Month"),
    y=alt.Y("revenue:Q", stack="normalize", title="Share of revenue", axis=alt.Axis(format="%")),
    color=alt.Color("category:N", title="Category"),
).properties(width=400, height=260, title="Food vs drink revenue")

# %% [markdown]
# ## Top products (latest month)

# %%
products = metrics_tables["monthly_by_product"]
top = (
    products.filter(pl.col("period") == products["period"].max(), pl.col("revenue").is_not_null())
    .sort("revenue", "product_name", descending=[True, False])
    .select("product_name", "product_type", "revenue", "order_gross_profit")
)
report.table(top)

# %%
# NBVAL_IGNORE_OUTPUT
alt.Chart(top).mark_bar().encode(
    x=alt.X("revenue:Q", title="Revenue ($)"),
    y=alt.Y("product_name:N", sort="-x", title=None),
    color=alt.Color("product_type:N", title="Type"),
).properties(width=600, height=240, title="Revenue by product, latest month")

# %% [markdown]
# ## New vs returning customers (daily orders)

# %%
# NBVAL_IGNORE_OUTPUT
customers = (
    metrics_tables["daily"]
    .select("period", pl.col("new_customer_orders").alias("new"), pl.col("returning_customer_orders").alias("returning"))
    .unpivot(index="period", variable_name="customer", value_name="orders")
)
alt.Chart(customers).mark_area().encode(
    x=alt.X("period:T", title="Day"),
    y=alt.Y("orders:Q", stack=True, title="Orders"),
    color=alt.Color("customer:N", title="Customer"),
).properties(width=800, height=260, title="Orders from new and returning customers")

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
                alt.Chart(revenue_lines.filter(pl.col("product_id") == product)).mark_line(point=True).encode(
                    x=alt.X("day:T", title="Day", axis=alt.Axis(format="%b %d", tickCount="day")),
                    y=alt.Y("amount:Q", title="Revenue ($)"),
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
        product_versions.select(
            "product_id", "product_name", "version", pl.col("valid_from", "valid_to").dt.date(), pl.col("is_current").cast(pl.String), "product_price"
        )
    )
shown
