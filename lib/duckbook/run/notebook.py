"""Execute one stage notebook in the run's warm kernel, as papermill would, without papermill.

The notebook is read as JSON, its parameters are injected as papermill does (a code cell tagged
``injected-parameters`` right after the cell tagged ``parameters``, replacing an earlier injected
cell), and its code cells are sent one by one to the kernel over the Jupyter protocol; their
outputs are collected into the notebook. The executed notebook is written when execution starts
(so a watcher sees the stage began) and once at the end, failed or not, with per-cell durations
where papermill keeps them (``cell.metadata.papermill.duration``). Importing papermill and
nbclient costs the runner seconds per run; this module needs only jupyter_client.

Report charts are drawn here, not in the kernel: the kernel sends each chart's Vega-Lite spec
(:data:`duckbook.publish.page.CHART_MIME`, when :data:`~duckbook.publish.page.CHARTS_IN_RUNNER`
is set) and the runner's drawing process (:mod:`duckbook.run.drawing`) draws its SVG while the
kernel runs the next cells; the outputs hold the SVG before the notebook is written, as if the kernel had drawn it.

``papermill notebooks/20_staging.ipynb out.ipynb`` keeps working on the same notebooks: they do
not depend on who executes them (without the variable, charts are drawn in the kernel).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from duckbook.errors import DuckbookError
from duckbook.publish import page
from duckbook.run import drawing
from duckbook.run.kernel import Kernel

#: The tag of the cell holding the injected parameters (papermill's name: its readers know it).
INJECTED = "injected-parameters"


class StageError(DuckbookError):
    """A cell of a stage notebook raised. ``cell_index`` counts every cell of the executed
    notebook from 0 (markdown and the injected parameters included), as papermill does."""

    def __init__(self, cell_index: int, ename: str, evalue: str) -> None:
        super().__init__(f"cell {cell_index + 1}: {ename}: {evalue}")
        self.cell_index, self.ename, self.evalue = cell_index, ename, evalue


def parameters_source(parameters: Mapping[str, object]) -> str:
    """The injected cell's code: one assignment per parameter, literals as papermill writes them.

    Raises
    ------
    TypeError
        For a value that is not ``str``, ``bool``, ``int``, ``float`` or ``None`` (the types a
        parameters cell may declare).

    Examples
    --------
    >>> print(parameters_source({"run_id": 'a"b', "full_refresh": True, "days": 3, "ratio": float("nan")}))
    # Parameters
    run_id = "a\\"b"
    full_refresh = True
    days = 3
    ratio = float('nan')
    <BLANKLINE>
    """
    lines = ["# Parameters"]
    for name, value in parameters.items():
        lines.append(f"{name} = {_literal(name, value)}")
    return "\n".join(lines) + "\n"


def _literal(name: str, value: object) -> str:
    if value is None or isinstance(value, bool | int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return "float('nan')" if math.isnan(value) else f"float('{'-' if value < 0 else ''}inf')"
    if isinstance(value, str):  # papermill's escaping: a double-quoted Python literal
        return '"' + value.encode("unicode_escape").decode("utf-8").replace('"', r"\"") + '"'
    raise TypeError(
        f"parameter {name}: cannot inject a {type(value).__name__} ({value!r}); use str, bool, int or float"
    )


def inject(nb: dict[str, Any], parameters: Mapping[str, object]) -> dict[str, Any]:
    """Insert (or replace) the ``injected-parameters`` cell of ``nb`` in place; return ``nb``."""
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {"tags": [INJECTED]}}
    cell.update(outputs=[], source=parameters_source(parameters))
    if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) >= (4, 5):  # cell ids since nbformat 4.5
        cell["id"] = secrets.token_hex(4)
    cells = nb["cells"]
    tagged = [i for tag in (INJECTED, "parameters") for i, c in enumerate(cells) if tag in _tags(c)]
    if tagged and INJECTED in _tags(cells[tagged[0]]):
        cells[tagged[0]] = cell
    else:
        cells.insert(tagged[0] + 1 if tagged else 0, cell)
    nb.setdefault("metadata", {}).setdefault("papermill", {})["parameters"] = dict(parameters)
    return nb


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def execute(source: Path, target: Path, parameters: Mapping[str, object], kernel: Kernel) -> dict[str, Any]:
    """Execute the notebook ``source`` with ``parameters`` in ``kernel`` (its namespace reset
    first; the kernel's working directory is the notebooks directory) and write it, executed, to
    ``target``. Returns the executed notebook (a JSON dict).

    Raises
    ------
    StageError
        When a cell raises; ``target`` then holds the notebook executed up to that cell, its
        error output included.
    """
    text = Path(source).read_text(encoding="utf-8")
    nb = inject(json.loads(text), parameters)
    charts = _Charts(warm="setup_charts" in text)  # a report: vl-convert starts while the kernel imports
    started = time.perf_counter()
    meta = nb["metadata"]["papermill"]
    meta.update(input_path=str(source), output_path=str(target), start_time=_now(), exception=None)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    _write(nb, target)  # before the first cell, as papermill does: the stage has started
    failure: StageError | None = None
    try:
        kernel.fresh()
        if charts.warm:
            kernel.run(f"import os; os.environ[{page.CHARTS_IN_RUNNER!r}] = '1'")
        for index, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            status = _run_cell(kernel, cell, index, charts)
            if status != "completed":
                failure = StageError(index, *status) if isinstance(status, tuple) else None
                break
    finally:
        not_drawn = charts.finish()
        failure = failure or not_drawn
        meta.update(end_time=_now(), duration=time.perf_counter() - started, exception=failure is not None)
        _write(nb, target)
    if failure:
        raise failure
    return nb


def _run_cell(kernel: Kernel, cell: dict[str, Any], index: int, charts: _Charts) -> str | tuple[str, str]:
    """Execute one code cell, collecting its outputs into it: ``"completed"``, ``"exited"``
    (``sys.exit()`` or ``sys.exit(0)``: the notebook ends there, as in papermill) or the error
    it raised as ``(ename, evalue)``."""
    code = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    outputs: list[dict[str, Any]] = cell["outputs"]
    t0, start = time.perf_counter(), _now()
    content = kernel.execute(code, output_hook=_collector(outputs, lambda output: charts.draw(index, output)))
    cell["execution_count"] = content.get("execution_count")
    failed = content.get("status") == "error"
    exited = failed and content.get("ename") == "SystemExit" and content.get("evalue") in ("", "0")
    cell.setdefault("metadata", {})["papermill"] = {
        "start_time": start,
        "end_time": _now(),
        "duration": time.perf_counter() - t0,
        "status": "failed" if failed and not exited else "completed",
        "exception": failed and not exited,
    }
    if exited:
        return "exited"
    return (content.get("ename", "Error"), content.get("evalue", "")) if failed else "completed"


def _collector(outputs: list[dict[str, Any]], added: Any = None) -> Any:
    """An IOPub hook appending a cell's outputs as nbformat dicts (streams merged, ``clear_output``
    and display updates honoured, as nbclient does); ``added(output)`` sees each new output."""
    clear_pending = False
    displays: dict[str, list[dict[str, Any]]] = {}

    def hook(msg: Mapping[str, Any]) -> None:
        nonlocal clear_pending
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "clear_output":
            if content.get("wait"):
                clear_pending = True
            else:
                outputs.clear()
            return
        if kind == "update_display_data":
            for shown in displays.get(content.get("transient", {}).get("display_id", ""), []):
                shown["data"], shown["metadata"] = content["data"], content["metadata"]
            return
        output = _output(kind, content)
        if output is None:
            return
        if clear_pending:
            outputs.clear()
            clear_pending = False
        last = outputs[-1] if outputs else None
        if kind == "stream" and last and last["output_type"] == "stream" and last["name"] == output["name"]:
            last["text"] += output["text"]
            return
        outputs.append(output)
        if added is not None:
            added(output)
        if display_id := content.get("transient", {}).get("display_id"):
            displays.setdefault(display_id, []).append(output)

    return hook


def _output(kind: str, content: Mapping[str, Any]) -> dict[str, Any] | None:
    """The nbformat output of an IOPub message (None for status, input echoes and the like)."""
    if kind == "stream":
        return {"output_type": kind, "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "execute_result"):
        output = {"output_type": kind, "data": content["data"], "metadata": content["metadata"]}
        if kind == "execute_result":
            output["execution_count"] = content["execution_count"]
        return output
    if kind == "error":
        return {k: content[k] for k in ("ename", "evalue", "traceback")} | {"output_type": kind}
    return None


class _Charts:
    """The charts of one notebook the kernel left to the runner: drawn by the drawing process as
    they arrive, their SVG put in their outputs by :meth:`finish`."""

    def __init__(self, *, warm: bool) -> None:
        self.warm = warm
        self.pending: list[tuple[int, dict[str, Any], Future[str]]] = []
        if warm:
            _drawer().warm_up()

    def draw(self, index: int, output: dict[str, Any]) -> None:
        chart = output.get("data", {}).pop(page.CHART_MIME, None)
        if chart is not None:
            self.pending.append((index, output, _drawer().draw(chart)))

    def finish(self) -> StageError | None:
        """Wait for every chart; the first that could not be drawn, as its cell's error."""
        failure = None
        for index, output, drawn in self.pending:
            try:
                output["data"]["image/svg+xml"] = drawn.result(timeout=600)
            except Exception as exc:
                output["data"]["text/plain"] = f"chart not drawn: {type(exc).__name__}: {exc}"
                failure = failure or StageError(index, type(exc).__name__, str(exc))
        self.pending = []
        return failure


_DRAWER: drawing.Drawer | None = None


def _drawer() -> drawing.Drawer:
    """The runner's drawing process (one, started on first use, for the rest of the process)."""
    global _DRAWER
    if _DRAWER is None:
        _DRAWER = drawing.Drawer()
    return _DRAWER


def _write(nb: Mapping[str, Any], target: Path) -> None:
    """Write ``nb`` as nbformat does (indent 1, sorted keys), through a temp file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
