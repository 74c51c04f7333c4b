"""The runs page (reports/runs.html), a failed stage's executed notebook as a page, and the
terminal's view of one run (`duckbook runs show`)."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import nbformat
import pytest

from duckbook.ops.history import CheckCounts, RunRecord, StageRecord
from duckbook.publish import runs

T0 = dt.datetime(2024, 1, 2, 3, 4, 5)
ERROR = "stage 30_marts failed in cell 3:\n<script>alert('x')</script> & ZeroDivisionError"


def run(run_id: str, *statuses: str, hours: int = 0, error: str = ERROR, **fields: object) -> RunRecord:
    """A run of stages 10_ingest, 20_staging, ... with ``statuses``; the first failed one has ``error``."""
    stages = tuple(
        StageRecord(f"{i}0_stage{i}", s, 1.5 * i, 100 * i, error if s == "failed" else "")
        for i, s in enumerate(statuses, 1)
    )
    failed = next((s for s in stages if s.status == "failed"), None)
    status = "failed" if failed else ("skipped" if all(s.status == "skipped" for s in stages) else "success")
    values: dict[str, object] = {
        "run_id": run_id,
        "status": status,
        "started_at": T0 + dt.timedelta(hours=hours),
        "duration_s": sum(s.duration_s for s in stages),
        "rows_written": sum(s.rows_written for s in stages),
        "stages": stages,
        "checks": CheckCounts(5, 1, 0),
        "quarantined": 0,
        "error": failed.error if failed else "",
        "failed_stage": failed.stage if failed else None,
    }
    return RunRecord(**{**values, **fields})  # type: ignore[arg-type]


@pytest.fixture
def records() -> list[RunRecord]:
    """Newest first: a failed run, a skipped one, one with a stale stage, a success."""
    return [
        run("r4-failed", "success", "success", "failed", hours=3, checks=CheckCounts(2, 0, 1)),
        run("r3-skipped", "skipped", "skipped", hours=2),
        run("r2-stale", "success", "stale", hours=1, quarantined=12),
        run("r1-ok", "success", "success", "success"),
    ]


def page(reports: Path, records: list[RunRecord]) -> str:
    out = runs.write_runs_page(reports, records, generated_at=dt.datetime(2024, 1, 3))
    assert out == reports / "runs.html"
    return out.read_text(encoding="utf-8")


def test_the_page_lists_runs_newest_first_with_their_status_checks_and_quarantine(tmp_path, records):
    html = page(tmp_path, records)
    rows = re.findall(r'<tr id="run-([^"]+)">', html)
    assert rows == ["r4-failed", "r3-skipped", "r2-stale", "r1-ok"]
    for status in ("failed", "skipped", "success"):
        assert f'style="background: {runs.STATUS_COLORS[status]}">{status}</span>' in html
    assert '<td class="status-stale">stale</td>' in html  # the stage, in the run's details
    assert "2 / 0 / 1" in html and "5 / 1 / 0" in html
    assert "<td>12</td>" in html  # quarantined rows
    assert "page generated 2024-01-03 00:00:00 UTC" in html
    assert not list(tmp_path.glob(".*tmp")), "the page is written through a temp file and renamed"


def test_a_failed_run_shows_its_stage_and_escaped_error(tmp_path, records):
    html = page(tmp_path, records)
    assert "failed in stage <code>30_stage3</code>" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; ZeroDivisionError" in html
    assert "<script" not in html
    assert "no executed notebook kept" in html  # neither notebook nor page exists


def test_the_failed_stage_links_its_page_if_rendered_else_its_notebook(tmp_path, records):
    run_dir = tmp_path / "runs" / "r4-failed"
    run_dir.mkdir(parents=True)
    (run_dir / "30_stage3.ipynb").write_text("{}")
    assert '<a href="runs/r4-failed/30_stage3.ipynb">executed notebook</a>' in page(tmp_path, records)
    (run_dir / "30_stage3.html").write_text("<html></html>")
    assert '<a href="runs/r4-failed/30_stage3.html">executed notebook</a>' in page(tmp_path, records)


def test_notebooks_are_looked_for_in_the_runs_dir_given(tmp_path, records):
    (tmp_path / "elsewhere" / "r4-failed").mkdir(parents=True)
    (tmp_path / "elsewhere" / "r4-failed" / "30_stage3.ipynb").write_text("{}")
    out = runs.write_runs_page(
        tmp_path / "staging", records, generated_at=T0, runs_dir=tmp_path / "elsewhere"
    ).read_text()
    assert 'href="runs/r4-failed/30_stage3.ipynb"' in out


def test_the_charts_are_inline_svg_and_the_page_makes_no_request(tmp_path, records):
    html = page(tmp_path, records)
    assert html.count("<svg ") == 2
    assert "http" not in html  # no CDN, no script, no external link
    assert not re.search(r"<script|<link|<img", html)
    assert f'fill="{runs.STATUS_COLORS["skipped"]}"' in html  # skipped stages grey (they took 1.5 s here)
    assert f'fill="{runs.STATUS_COLORS["stale"]}"' in html  # stale amber
    assert "r4-failed 30_stage3: 4.50s, 300 rows (failed)" in html  # a bar's tooltip
    assert "r4-failed: 300 rows written" not in html and "r4-failed: 600 rows written" in html
    assert "r4-failed: 1 check(s) fail" in html


def test_the_oldest_run_is_drawn_on_the_left(tmp_path, records):
    html = page(tmp_path, records)
    xs = {
        m["run"]: float(m["x"])
        for m in re.finditer(r'<rect x="(?P<x>[\d.]+)"[^>]*><title>(?P<run>r\d-\w+) 10_stage1:', html)
    }
    assert xs["r1-ok"] < xs["r2-stale"] < xs["r3-skipped"] < xs["r4-failed"]


def test_no_runs_yet(tmp_path):
    html = page(tmp_path, [])
    assert "No runs yet" in html and "<svg" not in html


def test_fifty_runs_render_quickly(tmp_path):
    many = [run(f"r{i:02d}", "success", "skipped", "success", "stale", hours=i) for i in range(50)]
    runs.write_runs_page(tmp_path, many, generated_at=T0)  # the first render compiles the template
    started = time.perf_counter()
    runs.write_runs_page(tmp_path, many, generated_at=T0)
    assert time.perf_counter() - started < 0.25  # about 15 ms; generous on a busy machine


def failed_notebook(path: Path) -> Path:
    error = nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=["\x1b[0;31mZeroDivisionError\x1b[0m"]
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1 / 0  # <b>not bold</b>", outputs=[error]),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_a_failed_notebook_becomes_a_page_with_its_code_and_traceback(tmp_path):
    ipynb = failed_notebook(tmp_path / "runs" / "r1" / "30_marts.ipynb")
    out = runs.render_failed_notebook(ipynb)
    assert out == ipynb.with_suffix(".html")
    html = out.read_text(encoding="utf-8")
    assert "run r1 · stage 30_marts" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html  # the code, escaped
    assert "ZeroDivisionError" in html and 'class="ansi-red-fg"' in html
    assert '<a href="../../runs.html">All runs</a>' in html
    assert not re.search(r'(src|href)="https?:', html)


def test_a_notebook_that_cannot_be_rendered_gives_none(tmp_path):
    assert runs.render_failed_notebook(tmp_path / "missing.ipynb") is None
    corrupt = tmp_path / "corrupt.ipynb"
    corrupt.write_text("{not json")
    assert runs.render_failed_notebook(corrupt) is None
    assert not (tmp_path / "corrupt.html").exists()


def test_describe_prints_a_failed_run_with_its_notebook(tmp_path, records):
    notebook = tmp_path / "r4-failed" / "30_stage3.ipynb"
    lines = runs.describe(records[0], tmp_path)
    assert lines[0] == "run r4-failed  failed  started 2024-01-02 06:04:05 UTC  9.0s  600 rows"
    assert lines[3] == (
        "  30_stage3                failed       4.50s        300 rows  stage 30_marts failed in cell 3:"
    )
    assert lines[4:8] == ["checks: 2 pass, 0 warn, 1 fail", "quarantined rows: 0", "failed stage: 30_stage3", "error:"]
    assert lines[8:10] == ["    stage 30_marts failed in cell 3:", f"    {ERROR.splitlines()[1]}"]
    assert lines[10] == f"executed notebook: none ({notebook})"
    failed_notebook(notebook)
    runs.render_failed_notebook(notebook)
    assert runs.describe(records[0], tmp_path)[10:] == [
        f"executed notebook: {notebook}",
        f"rendered notebook: {notebook.with_suffix('.html')}",
    ]


def test_describe_shows_skipped_and_stale_stages(records):
    lines = runs.describe(records[2], Path("reports/runs"))
    assert [line.split()[:2] for line in lines[1:3]] == [["10_stage1", "success"], ["20_stage2", "stale"]]
    assert lines[-1] == "quarantined rows: 12" and not any("failed" in line for line in lines)
