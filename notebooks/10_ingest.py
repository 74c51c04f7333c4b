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
# # 10 · Ingest
# **Purpose:** load the Jaffle Shop raw files under their contracts (`lib/jaffle_shop/sources.yml`).
#
# **Inputs:** the six jafgen CSV files in `source_dir`: the files themselves (one delivery) or dated
# delivery folders `YYYY-MM-DD/`, each with any subset of them. Every delivery dated on or before
# `run_date` that is not ingested yet is ingested, in date order; a file ingested before is skipped.
# **Outputs:** Parquet batches in the raw zone (`<warehouse>/raw/<table>/batch_id=<id>/`), schema `raw`
# in the warehouse, broken rows in `ops.quarantine`, one row per batch in `ops.ingest_manifest`.
#
# Every row read is either landed or quarantined with a reason; the reconciliation check stops the
# stage otherwise. Nothing is published unless every error check passes.

# %% tags=["parameters"]
source_dir: str = "data/sample"  # the raw_*.csv files or YYYY-MM-DD/ delivery folders (relative to the project root)
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; values after it are quarantined as future; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
full_refresh: bool = False  # rebuild every raw table from the raw zone (no source file is re-read)

# %%
import duckbook
from duckbook.build.ingest import ingest, quarantine_summary

ctx = duckbook.start_stage("10_ingest", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse)

# %% [markdown]
# ## Read, validate, land, merge
# Rows read = rows landed + rows quarantined, per batch; `rows_new` are the landed rows the raw
# table did not hold yet (an event row delivered again is not new). Files ingested before are skipped.

# %%
ingested = ingest(ctx, ctx.project.sources, source_dir, full_refresh=full_refresh)
build, manifest = ingested.build, ingested.manifest
print(f"{manifest.height} file(s) ingested, {ingested.skipped} already ingested")
for warning in ingested.warnings:
    print("warning:", warning)
manifest.select("file_path", "status", "rows_read", "rows_landed", "rows_quarantined", "rows_new").sort("file_path")

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
