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
# # 10 · Ingest
# **Purpose:** load the Jaffle Shop raw files under their contracts (`lib/jaffle_shop/sources.yml`).
#
# **Inputs:** the six jafgen CSV files in `source_dir`.
# **Outputs:** Parquet batches in the raw zone (`<warehouse>/raw/<table>/batch_id=<id>/`), schema `raw`
# in the warehouse, broken rows in `ops.quarantine`, one row per batch in `ops.ingest_manifest`.
#
# Every row read is either landed or quarantined with a reason; the reconciliation check stops the
# stage otherwise. Nothing is published unless every error check passes.

# %% tags=["parameters"]
source_dir: str = "data/sample"  # directory with the jafgen raw_*.csv files (relative to the project root)
run_id: str = ""  # run identifier; empty: manual-<stage>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; values after it are quarantined as future; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)

# %%
import duckbook
from duckbook.build.ingest import ingest, quarantine_summary

ctx = duckbook.start_stage("10_ingest", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)

# %% [markdown]
# ## Read, validate, land
# Rows read = rows landed + rows quarantined, per batch. The batch id is derived from the file's
# content, so ingesting the same file twice replaces the batch instead of duplicating it.

# %%
build, manifest = ingest(ctx, ctx.project.sources, source_dir)
manifest.select("table", "batch_id", "rows_read", "rows_landed", "rows_quarantined", "rows_duplicate", "extra_columns").sort("table")

# %% [markdown]
# ## Quarantined rows of this run, by reason

# %%
quarantine_summary(ctx, manifest["batch_id"].to_list())

# %% [markdown]
# ## Audit and publish schema `raw`

# %%
build.audit().select("table_name", "check_name", "failing_rows", "status")

# %%
published = build.publish()
ctx.close()
published
