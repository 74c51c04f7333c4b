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


EXPLORE = sorted((Path(__file__).resolve().parents[2] / "notebooks" / "explore").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS + EXPLORE, ids=lambda p: p.stem)
def test_every_notebook_names_the_duckbook_kernel(path: Path):
    """The kernel `make setup` registers (the venv's python), in the notebook and its twin's header."""
    expected = {"display_name": "Python (duckbook)", "language": "python", "name": "duckbook"}
    assert nbformat.read(path, as_version=4).metadata.kernelspec == expected
    assert jupytext.read(path.with_suffix(".py")).metadata["kernelspec"] == expected


@pytest.mark.parametrize("path", EXPLORE, ids=lambda p: p.stem)
def test_explore_notebooks_are_paired_and_committed_without_outputs(path: Path):
    from_ipynb = nbformat.read(path, as_version=4).cells
    assert [(c.cell_type, c.source.strip()) for c in from_ipynb] == [
        (c.cell_type, c.source.strip()) for c in jupytext.read(path.with_suffix(".py")).cells
    ], f"{path.name} and its twin differ: run `make sync`"
    assert not [c for c in from_ipynb if c.cell_type == "code" and c.outputs]
