"""Stage notebooks executed over the kernel's client: parameters injected as papermill does,
outputs collected, the executed notebook written at the start and the end, errors by cell."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import nbformat
import pytest

from duckbook.run import notebook
from duckbook.run.kernel import Kernel, KernelError


def _nb(path: Path, *sources: str, parameters: str = 'name: str = "x"') -> Path:
    cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell(parameters)]
    cells[1].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_parameters_source_writes_python_literals_as_papermill_does():
    code = notebook.parameters_source(
        {"s": 'a "q" \\ é\n', "b": False, "i": -3, "f": 0.5, "n": None, "nan": math.nan, "inf": -math.inf}
    )
    namespace: dict[str, object] = {}
    exec(code, namespace)  # the cell runs as written
    assert code.splitlines()[:2] == ["# Parameters", r's = "a \"q\" \\ \xe9\n"']
    assert {k: namespace[k] for k in ("s", "b", "i", "f", "n")} == {
        "s": 'a "q" \\ é\n',
        "b": False,
        "i": -3,
        "f": 0.5,
        "n": None,
    }
    assert math.isnan(namespace["nan"]) and namespace["inf"] == -math.inf


def test_parameters_source_refuses_other_types():
    with pytest.raises(TypeError, match="parameter when: cannot inject a list"):
        notebook.parameters_source({"when": [1]})


def test_inject_puts_the_cell_after_parameters_and_replaces_an_earlier_one(tmp_path):
    nb = json.loads(_nb(tmp_path / "a.ipynb", "print(name)").read_text())
    notebook.inject(nb, {"name": "y"})
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert tags[1:3] == [["parameters"], [notebook.INJECTED]]
    assert nb["cells"][2]["source"] == '# Parameters\nname = "y"\n'
    notebook.inject(nb, {"name": "z"})  # executed notebooks re-executed: still one injected cell
    assert [t for t in (c["metadata"].get("tags", []) for c in nb["cells"]) if notebook.INJECTED in t] == [
        [notebook.INJECTED]
    ]
    assert nb["cells"][2]["source"].endswith('name = "z"\n')
    assert nb["metadata"]["papermill"]["parameters"] == {"name": "z"}
    bare = {"cells": [{"cell_type": "code", "metadata": {}, "source": "1"}], "metadata": {}}
    assert notebook.inject(bare, {"a": 1})["cells"][0]["metadata"]["tags"] == [
        notebook.INJECTED
    ]  # no parameters cell: first


def test_collector_merges_streams_and_honours_clear_output_and_display_updates():
    outputs: list[dict[str, object]] = []
    hook = notebook._collector(outputs)

    def msg(kind: str, **content: object) -> dict[str, object]:
        return {"header": {"msg_type": kind}, "content": content}

    hook(msg("stream", name="stdout", text="a"))
    hook(msg("stream", name="stdout", text="b"))
    hook(msg("status", execution_state="busy"))
    hook(msg("display_data", data={"text/plain": "1"}, metadata={}, transient={"display_id": "d"}))
    hook(msg("update_display_data", data={"text/plain": "2"}, metadata={}, transient={"display_id": "d"}))
    assert outputs == [
        {"output_type": "stream", "name": "stdout", "text": "ab"},
        {"output_type": "display_data", "data": {"text/plain": "2"}, "metadata": {}},
    ]
    hook(msg("clear_output", wait=True))
    assert len(outputs) == 2  # cleared when the next output arrives
    hook(msg("execute_result", data={"text/plain": "3"}, metadata={}, execution_count=4))
    assert outputs == [
        {"output_type": "execute_result", "data": {"text/plain": "3"}, "metadata": {}, "execution_count": 4}
    ]
    hook(msg("clear_output", wait=False))
    assert outputs == []


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k = Kernel(tmp_path_factory.mktemp("cwd"), dict(os.environ))
    yield k
    k.shutdown()


@pytest.mark.slow
def test_execute_collects_outputs_and_resets_the_namespace_between_notebooks(kernel, tmp_path):
    first = _nb(tmp_path / "first.ipynb", "leftover = 1\nprint(name)", "name * 2")
    nb = notebook.execute(first, tmp_path / "out" / "first.ipynb", {"name": "ab"}, kernel)
    written = json.loads((tmp_path / "out" / "first.ipynb").read_text())
    assert written == nb
    nbformat.validate(nbformat.from_dict(written))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[2]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "ab\n"}]
    assert code[3]["outputs"][0]["data"]["text/plain"] == "'abab'"
    assert all(c["metadata"]["papermill"]["duration"] >= 0 for c in code)
    assert nb["metadata"]["papermill"]["exception"] is False
    second = _nb(tmp_path / "second.ipynb", "print('leftover' in dir(), len(Out), repr(_))")
    nb = notebook.execute(second, tmp_path / "second.out.ipynb", {}, kernel)
    assert nb["cells"][-1]["outputs"][0]["text"] == "False 0 ''\n"  # variables and the output cache gone


@pytest.mark.slow
def test_a_failing_cell_raises_with_its_index_and_keeps_the_notebook(kernel, tmp_path):
    source = _nb(tmp_path / "bad.ipynb", "x = 1", "raise ValueError(f'boom {name}')", "never = 1")
    target = tmp_path / "bad.out.ipynb"
    with pytest.raises(notebook.StageError) as failed:
        notebook.execute(source, target, {"name": "here"}, kernel)
    # markdown, parameters, injected, x = 1, the raising cell: index 4, as papermill counts
    assert (failed.value.cell_index, failed.value.ename, failed.value.evalue) == (4, "ValueError", "boom here")
    kept = json.loads(target.read_text())
    assert kept["cells"][4]["outputs"][0]["output_type"] == "error"
    assert kept["cells"][5]["outputs"] == [] and kept["cells"][5]["execution_count"] is None
    assert kept["metadata"]["papermill"]["exception"] is True
    exited = _nb(tmp_path / "exit.ipynb", "import sys\nsys.exit()", "never = 1")
    nb = notebook.execute(exited, tmp_path / "exit.out.ipynb", {}, kernel)  # sys.exit() ends it, not a failure
    assert nb["cells"][-1]["execution_count"] is None


@pytest.mark.slow
def test_report_charts_are_drawn_by_the_runner_into_their_outputs(kernel, tmp_path):
    chart = (
        "import altair as alt\nfrom duckbook.publish import page\npage.setup_charts()\n"
        "alt.Chart(alt.Data(values=[{'a': 1}])).mark_point().encode(x='a:Q')"
    )
    nb = notebook.execute(_nb(tmp_path / "chart.ipynb", chart), tmp_path / "chart.out.ipynb", {}, kernel)
    [output] = nb["cells"][-1]["outputs"]
    assert set(output["data"]) == {"image/svg+xml", "text/plain"} and output["data"]["image/svg+xml"].startswith("<svg")
    assert json.loads((tmp_path / "chart.out.ipynb").read_text()) == nb
    kernel.run("import os; os.environ.pop('DUCKBOOK_CHARTS_IN_RUNNER')")  # the other tests' notebooks draw nothing


def test_a_chart_that_cannot_be_drawn_fails_its_cell():
    charts = notebook._Charts(warm=False)
    output = {
        "output_type": "display_data",
        "data": {notebook.page.CHART_MIME: {"spec": {"mark": 1}, "vl_version": None}},
    }
    charts.draw(3, output)
    failure = charts.finish()
    assert failure is not None and failure.cell_index == 3
    assert output["data"]["text/plain"].startswith("chart not drawn: ")


@pytest.mark.slow
def test_a_dead_kernel_fails_the_cell_instead_of_hanging(tmp_path):
    k = Kernel(tmp_path, dict(os.environ))
    try:
        source = _nb(tmp_path / "die.ipynb", "import os\nos._exit(1)")
        with pytest.raises(KernelError, match="the kernel died"):
            notebook.execute(source, tmp_path / "die.out.ipynb", {}, k)
    finally:
        k.shutdown()
