"""The starter notebook (notebooks/explore/start_here.ipynb) runs against a built warehouse and shows
its metrics; nbval does not collect notebooks/explore (it needs a warehouse), so this test runs it."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from duckbook import metrics
from tests.e2e.conftest import ROOT, SAMPLE_ROWS

pytestmark = pytest.mark.slow

NOTEBOOK = ROOT / "notebooks" / "explore" / "start_here.ipynb"


def test_the_starter_notebook_runs_read_only_and_shows_the_metrics(run, monkeypatch):
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", str(run["warehouse"]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata.kernelspec.name == "duckbook"
    # the test's own python (as nbval's --nbval-current-env), whatever kernel is registered here
    NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = json.dumps([o.get("data", {}) for o in outputs] + [o.get("text", "") for o in outputs])
    totals = metrics.query(["revenue", "orders"], grain=None, warehouse=run["warehouse"]).to_pyarrow().to_pylist()[0]
    assert totals["orders"] == SAMPLE_ROWS["raw_orders"]
    assert str(totals["orders"]) in shown and str(totals["revenue"]) in shown
    assert "stg_orders" in shown and "monthly_by_location" in shown  # the table list
    assert "location_name" in shown  # the metric list and the monthly query
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)  # the chart, drawn offline
    assert sum(1 for cell in nb.cells if cell.cell_type == "code" and cell.outputs) >= 6
