"""House rules for the stage notebooks: paired with jupytext, a typed and commented parameters
cell right after the opening markdown, and parameters the runner can read."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

from duckbook.params import declared_in_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_stage_notebooks():
    assert [p.stem.split("_")[0] for p in NOTEBOOKS] == ["10", "20", "30", "40", "50", "50", "50"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_py_percent_twin_is_in_sync(path: Path):
    twin = path.with_suffix(".py")
    assert twin.exists(), f"{twin} missing: run `make sync`"
    from_ipynb = [(c.cell_type, c.source.strip()) for c in nbformat.read(path, as_version=4).cells]
    from_py = [(c.cell_type, c.source.strip()) for c in jupytext.read(twin).cells]
    assert from_ipynb == from_py, f"{path.name} and {twin.name} differ: run `make sync`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_markdown_then_parameters(path: Path):
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].cell_type == "markdown"
    assert "parameters" in cells[1].metadata.get("tags", [])
    for node in ast.parse(cells[1].source).body:
        assert isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant)
    for line in cells[1].source.splitlines():
        assert "  # " in line, f"parameter without a comment: {line}"
        assert line.split("#", 1)[1].count("=") == 0, f"'=' in a parameter comment breaks papermill: {line}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runner_reads_the_common_parameters(path: Path):
    declared = declared_in_notebook(path)
    for name in ("run_id", "run_started_at", "run_date", "warehouse"):
        assert declared.get(name) == "str"
