"""The ``rerun`` and ``report_change`` sections of ``make bench``: what a second run costs.

* ``rerun``: after a full run on a jafgen dataset, a second ``duckbook run`` with identical
  arguments (nothing changed);
* ``report_change``: after a full run from a copy of the project's notebooks directory
  (``DUCKBOOK_NOTEBOOKS_DIR``), a harmless comment line appended to the last cell of one report
  notebook, then the same run again.

Both are timed as wall clock of the second command, against the SQL floor on the same data,
interleaved with it ``repeat`` times; the ratio to the floor is the figure.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.common import ROOT, run_floor, timed_run

#: The report notebook whose copy ``report_change`` edits.
CHANGED_REPORT = "50_report_overview.ipynb"


def _notebooks_copy(work: Path) -> Path:
    """A copy of the project's stage notebooks (the ``.ipynb`` files and what they read beside them)."""
    target = work / f"notebooks-{time.monotonic_ns()}"
    shutil.copytree(ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def _append_comment(notebook: Path) -> None:
    """Append ``# bench: unchanged output`` to the notebook's last code cell (its output stays the same)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in reversed(nb["cells"]) if c["cell_type"] == "code")
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source + "\n# bench: unchanged output"
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def second_run(source: Path, work: Path, *, change_report: bool) -> tuple[float, dict[str, float]]:
    """Return (wall seconds, {stage: seconds}) of a second identical run after a full one, with a
    report notebook edited in between if ``change_report``."""
    tag = time.monotonic_ns()
    warehouse, reports = work / f"wh-{tag}", work / f"reports-{tag}"
    notebooks = _notebooks_copy(work)
    previous = os.environ.get("DUCKBOOK_NOTEBOOKS_DIR")
    os.environ["DUCKBOOK_NOTEBOOKS_DIR"] = str(notebooks)  # the duckbook child inherits it
    try:
        args = ["-p", f"source_dir={source}"]
        timed_run(args, warehouse, reports)
        if change_report:
            _append_comment(notebooks / CHANGED_REPORT)
        shutil.rmtree(reports / "runs")  # timed_run reads the run log of the one run it finds
        wall, stages, _ = timed_run(args, warehouse, reports)
    finally:
        if previous is None:
            os.environ.pop("DUCKBOOK_NOTEBOOKS_DIR", None)
        else:
            os.environ["DUCKBOOK_NOTEBOOKS_DIR"] = previous
        shutil.rmtree(notebooks, ignore_errors=True)
        shutil.rmtree(warehouse, ignore_errors=True)
    return wall, stages


def bench(section: str, source: Path, work: Path, repeat: int) -> dict[str, object]:
    """The ``rerun`` or ``report_change`` section: print its lines and return its result."""
    floors, runs = [], []
    for _ in range(repeat):  # interleaved, so machine noise hits both sides alike
        floors.append(run_floor(source, work)[0])
        runs.append(second_run(source, work, change_report=section == "report_change"))
    floor = statistics.median(floors)
    wall = statistics.median(r[0] for r in runs)
    stages = {name: statistics.median(r[1].get(name, 0.0) for r in runs) for name in runs[0][1]}
    ratio = round(wall / floor, 2)
    what = "rerun, nothing changed" if section == "rerun" else f"rerun after a comment in {CHANGED_REPORT}"
    print(f"{section}: {what}  ({source}, median of {repeat})")
    for name, seconds in stages.items():
        print(f"  stage {name:<24} {seconds:7.2f} s")
    print(f"  second run (wall)              {wall:7.2f} s")
    print(f"  floor SQL                      {floor:7.2f} s")
    print(f"ratio {section} / floor_sql = {ratio:.2f}")
    return {
        "source": str(source),
        "repeat": repeat,
        "floor_sql_s": round(floor, 3),
        "second_run_s": round(wall, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        f"ratio_{section}_over_floor_sql": ratio,
    }
