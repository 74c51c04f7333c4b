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
# # Start here
# A first look at the warehouse `duckbook run` (or `make run`) built: which tables there are, one
# table through Ibis, metrics through the semantic layer, and a chart. Nothing here writes: the
# connection is **read-only and pinned** to the newest published run, so a pipeline run never waits
# for you and never changes what you are looking at. After a run, re-run the cell below to see it.
#
# Copy this notebook to start your own (this folder is yours: the pipeline never runs it).

# %%
import altair as alt
import polars as pl

import duckbook
from duckbook import metrics

alt.renderers.enable("svg")  # charts drawn offline (vl-convert), so they stay in the saved notebook
con = duckbook.connect(read_only=True)  # the configured warehouse: DUCKBOOK_WAREHOUSE, else data/warehouse

# %% [markdown]
# ## The tables
# `raw` holds the delivered files as landed, `staging` cleans them, `marts` are the tables to
# analyse, `metrics` the precomputed metric tables. `reports/docs/index.html` (`duckbook docs`)
# describes every table and column with its lineage.

# %%
for schema in ("raw", "staging", "marts", "metrics"):
    print(f"{schema}: {', '.join(con.list_tables(database=schema))}")

# %% [markdown]
# ## One table with Ibis
# `con.table(name, database=schema)` is an Ibis table: build the query in Python, DuckDB runs it
# when you ask for the result (`.to_polars()`, `.to_pandas()`, `.execute()`).

# %%
orders = con.table("orders", database="marts")
orders.group_by("location_id").agg(orders=orders.count(), revenue=orders.order_total.sum()).order_by("location_id").to_polars()

# %% [markdown]
# ## Metrics through the semantic layer
# Metrics are declared once (`lib/jaffle_shop/semantic_models.yml`); query them by name, sliced by
# dimensions, per period. The same from a terminal: `duckbook metrics list`,
# `duckbook metrics query revenue orders --by location_name`.

# %%
pl.DataFrame(metrics.load().describe()).select("metric", "type", "dimensions")

# %%
totals = metrics.query(["revenue", "orders"], grain=None).to_polars()
totals

# %%
monthly = metrics.query(["revenue"], by=["location_name"], grain="month").to_polars()
monthly.tail(6)

# %% [markdown]
# ## A chart
# Altair over the query's result; the reports in `reports/` are made the same way.

# %%
alt.Chart(monthly.with_columns(pl.col("revenue").cast(pl.Float64))).mark_line(point=True).encode(
    x=alt.X("period:T", title="month"),
    y=alt.Y("revenue:Q", title="revenue"),
    color=alt.Color("location_name:N", title="location"),
).properties(width=560, height=260, title="Revenue per month and location")
