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
# # Data quality
# Every check of this run by table, the checks that warned or failed, the trend over the last
# runs, what was quarantined at ingestion and how fresh each source is. Checks are declared in
# `lib/jaffle_shop/models.yml` and `sources.yml`; a failing error check stops its stage before it
# publishes, so a published run has no failed error check.

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
from duckbook.quality import summary as quality

ctx = duckbook.start_stage("50_report_quality", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse, as_of=as_of)
summary = quality.run_summary(ctx.con, quality.latest_checked_run(ctx.con, prefer=ctx.run_id))
data_date = ctx.table("marts.orders").ordered_at.max().to_pyarrow().as_py()
ctx.close()
report.setup_charts()

# %%
# NBVAL_IGNORE_OUTPUT
report.header("Data quality", run_id=ctx.run_id, data_date=data_date, run_started_at=ctx.run_started_at, run_date=ctx.run_date)

# %% [markdown]
# ## Checks by table (this run)

# %%
report.table(summary["status"])

# %% [markdown]
# ## Checks that warned or failed

# %%
# NBVAL_IGNORE_OUTPUT
report.table(summary["problems"]) if summary["problems"].height else report.table(pl.DataFrame({"result": ["every check passed"]}))

# %% [markdown]
# ## Trend over the last runs

# %%
# NBVAL_IGNORE_OUTPUT
trend = summary["trend"].with_columns(pl.col("at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("run"))
alt.Chart(trend).mark_bar().encode(
    x=alt.X("run:O", title="Run (checked at)"),
    y=alt.Y("checks:Q", title="Checks"),
    color=alt.Color("status:N", scale=alt.Scale(domain=["pass", "warn", "fail"], range=["#2da44e", "#d4a72c", "#cf222e"])),
).properties(width=600, height=220, title="Check results per run")

# %%
# NBVAL_IGNORE_OUTPUT
history = summary["history"].with_columns(
    pl.col("at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("run"),
    (pl.col("schema_name") + "." + pl.col("check_name")).alias("check"),
)
alt.Chart(history).mark_rect().encode(
    x=alt.X("run:O", title="Run"),
    y=alt.Y("check:N", title=None, sort=None),
    color=alt.Color("status:N", scale=alt.Scale(domain=["pass", "warn", "fail"], range=["#2da44e", "#d4a72c", "#cf222e"])),
    tooltip=["check", "run", "status", "failing_rows"],
).properties(width=300, title="Each check over the last runs")

# %% [markdown]
# ## Every check of this run

# %%
# NBVAL_IGNORE_OUTPUT
report.table(summary["checks"])

# %% [markdown]
# ## Quarantine (latest ingest)

# %%
report.table(summary["quarantine"]) if summary["quarantine"].height else report.table(pl.DataFrame({"result": ["no row was quarantined"]}))

# %% [markdown]
# ## Sources
# Rows read = rows landed + rows quarantined for every batch (an error check enforces it).

# %%
# NBVAL_IGNORE_OUTPUT
report.table(summary["sources"])
