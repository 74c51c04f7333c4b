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
# What needs attention after this run: checks that warned or failed, stale sources and quarantined rows, then a compact history of the last runs.

# %% tags=["parameters"]
run_id: str = ""  # run identifier; empty: manual-<time>-<random>
run_started_at: str = ""  # run timestamp, UTC, YYYY-MM-DDTHH:MM:SS; empty: now
run_date: str = ""  # logical date YYYY-MM-DD; empty: today
warehouse: str = ""  # warehouse root directory; empty: configured (DUCKBOOK_WAREHOUSE or data/warehouse)
as_of: str = ""  # reproduce the report as a run published it: a run id, snapshot id or timestamp; empty: this run

# %%
import html

import altair as alt
from IPython.display import HTML, Markdown, display

import duckbook  # first: it spares altair's jsonschema a slow optional import
from duckbook.publish import page as report
from duckbook.quality import summary as quality

ctx = duckbook.start_stage("50_report_quality", run_id=run_id, run_started_at=run_started_at, run_date=run_date, warehouse=warehouse, as_of=as_of)
project = ctx.project
# A raw line of a source with a PII column is PII too: only the other sources' lines are shown.
shown_sources = sorted(name for name in project.sources if not project.docs[f"raw.{name}"].pii)
# this run, or the last one that checked anything (every check skipped; a notebook run by hand)
summary = quality.run_summary(ctx.con, quality.latest_checked_run(ctx.con, prefer=ctx.run_id), shown_sources=shown_sources)
data_date = ctx.table("marts.orders").ordered_at.max().to_pyarrow().as_py()
snapshot = report.snapshot_of(ctx)
ctx.close()
report.setup_charts()
COLOURS = {"fail": "#cf222e", "warn": "#9a6700", "pass": "#1a7f37"}

# %%
# NBVAL_IGNORE_OUTPUT
report.header("Data quality", run_id=ctx.run_id, data_date=data_date, run_started_at=ctx.run_started_at, run_date=ctx.run_date, stage=ctx.stage, as_of=ctx.as_of, snapshot=snapshot)

# %%
# NBVAL_IGNORE_OUTPUT
display(HTML(f"<p class='verdict' style='font-size: 20px; font-weight: 600; color: {COLOURS[summary.worst]}'>{html.escape(summary.verdict)}</p>"))
if summary.coverage:
    display(Markdown(summary.coverage))

# %% [markdown]
# ## Checks not passing

# %%
# NBVAL_IGNORE_OUTPUT
if summary.not_passing.height:
    display(Markdown("Failed first. *Not passing for* counts the runs in a row that checked it and did not pass it."))
    display(report.table(summary.not_passing))
else:
    display(Markdown("Every check passed."))

# %% [markdown]
# ## Stale sources
# The newest row's age on the run date against the freshness thresholds declared for it.

# %%
# NBVAL_IGNORE_OUTPUT
if summary.stale.height:
    display(report.table(summary.stale))
if summary.fresh_line or not summary.stale.height:
    display(Markdown(summary.fresh_line or "No freshness check is declared."))

# %% [markdown]
# ## Quarantined rows (latest ingest)
# Rows that broke their source contract, by file and reason; every line is in `ops.quarantine`.
# A source with a PII column shows *PII, hidden* instead of its lines.

# %%
report.table(summary.quarantine) if summary.quarantine.height else Markdown("No row was quarantined.")

# %% [markdown]
# ## History of the last runs

# %%
# NBVAL_IGNORE_OUTPUT
alt.Chart(summary.trend).mark_bar().encode(
    x=alt.X("Run:O", title=None, sort=None, axis=alt.Axis(labelAngle=-30)),
    y=alt.Y("Checks:Q", title="Checks"),
    color=alt.Color("Status:N", scale=alt.Scale(domain=["passed", "warned", "failed"], range=[COLOURS["pass"], COLOURS["warn"], COLOURS["fail"]])),
    tooltip=["Run", "Checked at", "Status", "Checks"],
).properties(width=alt.Step(40), height=140, title="Checks per run")

# %%
# NBVAL_IGNORE_OUTPUT
if summary.history.height:
    display(Markdown("Checks that did not pass in one of these runs (`·` passed, `W` warned, `F` failed, `–` not checked):"))
    display(report.table(summary.history))
if summary.history_line:
    display(Markdown(summary.history_line))

# %%
# NBVAL_IGNORE_OUTPUT
display(HTML(f"<details><summary>Every check ({summary.checks.height:,})</summary>{report.table(summary.checks)._repr_html_()}</details>"))

# %% [markdown]
# ## Latest ingest per source
# Rows read = rows landed + rows quarantined for every file (an error check enforces it).
# Checks are declared in `lib/jaffle_shop/models.yml` and `sources.yml`; a failing error check stops
# its stage before it publishes, so a published run has no failed error check.

# %%
# NBVAL_IGNORE_OUTPUT
report.table(summary.sources)
