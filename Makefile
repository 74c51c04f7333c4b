# duckbook: `make help` lists every target. `make run` and `make test` do all setup themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
YEARS ?= 1
ARGS ?=
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# The Jupyter kernel every notebook names: the venv's python, for the venv's own tools (papermill,
# nbval, make lab) and, --user, for a global JupyterLab or VS Code. No env in it: the package is
# installed editable and the project is found from the notebook's directory.
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/duckbook/kernel.json
KERNEL_ARGS := --name duckbook --display-name "Python (duckbook)"

.PHONY: help setup kernel run runs backfill test test-fast lint format postgres maintain lab notebooks sync data drops bench bench-daily clean browser docs cdc-demo

help: ## List every target with what it does (the default target)
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

$(KERNEL_SPEC): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix $(KERNEL_ARGS) >/dev/null
	$(BIN)/python -m ipykernel install --user $(KERNEL_ARGS) >/dev/null
	@echo "Jupyter kernel 'duckbook' registered ($(abspath $(BIN)/python))"

setup: $(STAMP) $(KERNEL_SPEC) ## Create .venv, install the pinned dependencies, register the Jupyter kernel `duckbook` (idempotent)

kernel: $(STAMP) ## Register the Jupyter kernel `duckbook` again (e.g. after removing it, or for this checkout's .venv)
	@rm -f $(KERNEL_SPEC) && $(MAKE) --no-print-directory $(KERNEL_SPEC)

run: setup ## Run the pipeline on data/sample (skips what did not change), write reports/ and docs (ARGS="--stage marts+", "--select orders+", "--force", "--when-new-data")
	$(BIN)/duckbook run $(ARGS)
	$(BIN)/duckbook docs

runs: setup ## The last runs; one in detail with ARGS="show RUN_ID" (also reports/runs.html)
	$(BIN)/duckbook runs $(ARGS)

backfill: setup ## Run every stage once per date of a range, resumable (ARGS="--start 2019-08-11 --end 2019-08-13")
	$(BIN)/duckbook backfill $(ARGS)

maintain: setup ## Expire old snapshots (keeping the last runs), merge small files, delete unused files (ARGS="--dry-run")
	$(BIN)/duckbook maintain $(ARGS)

docs: setup ## Write the data dictionary and lineage site to reports/docs/
	$(BIN)/duckbook docs

browser: ## Install Debian's chromium for the browser tests (needs root; skipped with a warning otherwise)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "warning: chromium missing and not root: browser tests will be skipped (sudo make browser)"; fi; }

lint: setup ## Lint gates: ruff (lint + format check), mypy over lib, import-linter (layer contracts)
	$(BIN)/ruff check lib tests benchmarks notebooks
	$(BIN)/ruff format --check lib tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup ## Apply ruff's formatter and safe fixes
	$(BIN)/ruff format lib tests benchmarks
	$(BIN)/ruff check --fix lib tests benchmarks notebooks

postgres: ## Install Debian's PostgreSQL 15 and wal2json for the catalog and CDC tests (needs root; the tests start and stop their own server)
	@bash scripts/postgres.sh install

test: setup lint browser postgres ## Lint gates, then unit tests, doctests, nbval, end-to-end, PostgreSQL, fault and browser tests
	$(BIN)/python -m pytest $(ARGS)

test-fast: setup ## Only the fast unit tests and doctests (no notebooks, no CLI runs)
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

lab: setup ## Start JupyterLab in notebooks/ with the `duckbook` kernel (start with explore/start_here.ipynb)
	cd notebooks && ../$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root)

notebooks: setup ## Re-execute the stage notebooks in place on the sample (refreshes nbval baselines)
	$(BIN)/python -m duckbook.run.refresh $(NOTEBOOKS)

sync: setup ## Pair notebooks (stages and explore/) with their py:percent twins (edit either, then run this)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.ipynb notebooks/explore/*.ipynb

data: setup ## Generate a larger raw dataset with jafgen into data/jaffle-<N>y (YEARS=N, default 1)
	mkdir -p data/jaffle-$(YEARS)y && cd data/jaffle-$(YEARS)y && ../../$(BIN)/jafgen $(YEARS) --pre raw >/dev/null \
	  && mv jaffle-data/raw_*.csv . && rm -rf jaffle-data raw_tweets.csv
	@echo "run on it: $(BIN)/duckbook run -p source_dir=data/jaffle-$(YEARS)y --warehouse data/jaffle-$(YEARS)y-warehouse"

drops: setup ## Split data/jaffle-<N>y (YEARS=N) into daily deliveries with defects in data/jaffle-<N>y-drops (ARGS="--days 30 --force")
	@test -f data/jaffle-$(YEARS)y/raw_orders.csv || $(MAKE) data YEARS=$(YEARS)
	$(BIN)/duckbook drops data/jaffle-$(YEARS)y data/jaffle-$(YEARS)y-drops $(ARGS)

bench: setup ## Full run, unchanged rerun and one-report change against a SQL floor (1-year jafgen), full run on 3-year, CDC landing and stream latency
	@test -f data/jaffle-1y/raw_orders.csv || $(MAKE) data YEARS=1
	@test -f data/jaffle-3y/raw_orders.csv || $(MAKE) data YEARS=3
	$(BIN)/python -m benchmarks.bench --source data/jaffle-1y --section full --section rerun --section report_change $(ARGS)
	$(BIN)/python -m benchmarks.bench --source data/jaffle-3y --section full $(ARGS)
	$(BIN)/python -m benchmarks.bench --section cdc $(ARGS)

bench-daily: setup ## Only the daily section of make bench: a daily run against a full refresh (jafgen 3-year drops)
	@test -f data/jaffle-3y/raw_orders.csv || $(MAKE) data YEARS=3
	$(BIN)/python -m benchmarks.bench --section daily --daily-source data/jaffle-3y $(ARGS)

cdc-demo: setup ## Seed an operational Jaffle Shop in a private PostgreSQL, run a writer, stream its changes for DEMO_SECONDS (default 60; Ctrl-C stops early), then run once: reports in data/cdc-demo/reports
	BIN=$(abspath $(BIN)) bash scripts/cdc_demo.sh

clean: ## Remove the warehouse and run artifacts (keeps .venv and data/sample)
	rm -rf data/warehouse reports/*.html reports/index.json reports/runs reports/docs tests/artifacts
