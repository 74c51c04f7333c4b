"""The runs page (``reports/runs.html``): the last runs with their status, seconds per stage over
time, rows written and check results, the CDC slots' lag (when the project has CDC sources, with
warnings from :mod:`duckbook.publish.runs_cdc`); a failed run with its stage, its error and a link to its
executed notebook, which :func:`render_failed_notebook` turns into a page. The terminal's views
of the same (``duckbook runs``, ``duckbook runs show``): :func:`run_table`, :func:`describe`.

The runner writes the page after every run, so it is quick and offline: plain Jinja and charts
drawn here as inline SVG (no Altair, no script, no URL).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from duckbook.ops.history import RunRecord
from duckbook.ops.runlog import Run
from duckbook.publish.runs_cdc import cdc_slots, cdc_warnings, health_line, readable_bytes
from duckbook.publish.site import render_page, write_atomic

#: Colour of each stage status (and run status): skipped stages are grey, stale ones amber.
STATUS_COLORS = {"success": "#1a7f37", "failed": "#cf222e", "skipped": "#8c959f", "stale": "#bf8700"}
#: Colours of the stages in the duration chart, in the order the stages first appear.
STAGE_COLORS = ("#0969da", "#8250df", "#1b7c83", "#bc4c00", "#a475f9", "#54aeff", "#6e7781", "#e16f24", "#2da44e")
#: Colours of passed, warned and failed checks in the trend chart.
CHECK_COLORS = (("pass", "#2da44e"), ("warn", "#d4a72c"), ("fail", "#cf222e"))

_WIDTH, _LEFT, _RIGHT = 900, 56, 32  # the charts' width and the plot's margins (user units)


def executed_notebook(runs_dir: Path, run_id: str, stage: str) -> Path | None:
    """The page of ``stage``'s executed notebook in run ``run_id`` if it was rendered, else the
    notebook, else ``None`` (the stage left none, or the run directory was removed)."""
    for suffix in (".html", ".ipynb"):
        candidate = runs_dir / run_id / f"{stage}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def run_table(found: Sequence[Run]) -> list[str]:
    """The lines of ``duckbook runs``: a header and one line per run (id, status, start,
    seconds, rows, the snapshot it published, its error), or a line saying there is none yet.

    >>> run_table([])
    ['no runs yet: `duckbook run` makes the first']
    """
    if not found:
        return ["no runs yet: `duckbook run` makes the first"]
    lines = [f"{'run':<26} {'status':<8} {'started (UTC)':<20} {'seconds':>8} {'rows':>10} {'snapshot':>8}  error"]
    for r in found:
        snapshot = "-" if r.snapshot_id is None else str(r.snapshot_id)
        lines.append(
            f"{r.run_id:<26} {r.status:<8} {r.started_at:%Y-%m-%d %H:%M:%S}  {r.duration_s:>8.1f} {r.rows_written:>10,} "
            f"{snapshot:>8}  {r.error[:80]}"
        )
    return lines


def describe(record: RunRecord, runs_dir: Path) -> list[str]:
    """What the runs page shows of ``record``, as lines for the terminal (``duckbook runs show``):
    a header line, one line per stage, the checks, the quarantined rows, one line per CDC slot
    (with the page's warnings) and, for a failed run, its stage, its error and its executed
    notebook (under ``runs_dir``).

    Examples
    --------
    >>> from duckbook.ops.history import CheckCounts, StageRecord
    >>> stage = StageRecord("10_ingest", "success", 2.0, 5)
    >>> run = RunRecord("r1", "success", dt.datetime(2024, 1, 2), 2.0, 5, (stage,), CheckCounts(3, 1, 0), 0, "", None)
    >>> print("\\n".join(describe(run, Path("reports/runs"))))
    run r1  success  started 2024-01-02 00:00:00 UTC  2.0s  5 rows
      10_ingest                success      2.00s          5 rows
    checks: 3 pass, 1 warn, 0 fail
    quarantined rows: 0
    """
    started = f"{record.started_at:%Y-%m-%d %H:%M:%S}"
    lines = [
        f"run {record.run_id}  {record.status}  started {started} UTC  {record.duration_s:.1f}s  {record.rows_written:,} rows"
    ]
    for s in record.stages:
        first = s.error.splitlines()[0] if s.error else ""
        lines.append(
            f"  {s.stage:<24} {s.status:<8} {s.duration_s:>8.2f}s {s.rows_written:>10,} rows  {first}".rstrip()
        )
    c = record.checks
    lines += [f"checks: {c.passed} pass, {c.warned} warn, {c.failed} fail", f"quarantined rows: {record.quarantined:,}"]
    if record.cdc:
        lines += ["CDC slots:", *(f"  {health_line(h)}" for h in record.cdc)]
        lines += [f"warning: {w}" for w in cdc_warnings([record])]
    if record.failed_stage is not None:
        lines += [f"failed stage: {record.failed_stage}", "error:"]
        lines += [f"    {line}" for line in record.error.splitlines() or [""]]
        notebook = runs_dir / record.run_id / f"{record.failed_stage}.ipynb"
        lines.append(
            f"executed notebook: {notebook}" if notebook.is_file() else f"executed notebook: none ({notebook})"
        )
        if (page := notebook.with_suffix(".html")).is_file():
            lines.append(f"rendered notebook: {page}")
    return lines


def write_runs_page(
    reports_dir: Path, records: Sequence[RunRecord], *, generated_at: dt.datetime, runs_dir: Path | None = None
) -> Path:
    """Write ``<reports_dir>/runs.html`` (atomically): a self-contained page of ``records``.

    Parameters
    ----------
    reports_dir
        The reports directory; the page links executed notebooks as ``runs/<run_id>/<stage>.html``
        (or ``.ipynb`` when no page was rendered), relative to it.
    records
        The runs to show, newest first (:func:`duckbook.ops.history.run_history`).
    generated_at
        When the page is written (UTC), shown under the title.
    runs_dir
        Where the executed notebooks are looked for [default ``<reports_dir>/runs``]: the runner
        may write the page into a staging copy of the reports before publishing it.

    Returns
    -------
    Path
        The written page.
    """
    runs_dir = reports_dir / "runs" if runs_dir is None else runs_dir
    links: dict[str, str] = {}
    for r in records:
        found = executed_notebook(runs_dir, r.run_id, r.failed_stage) if r.failed_stage else None
        if found is not None:
            links[r.run_id] = f"runs/{quote(r.run_id)}/{quote(found.name)}"
    oldest_first = list(reversed(records))
    colors = _stage_colors(oldest_first)
    page = render_page(
        "runs.html.j2",
        runs=records,
        failed=[r for r in records if r.status == "failed"],
        links=links,
        status_colors=STATUS_COLORS,
        legend=list(colors.items()),
        check_colors=CHECK_COLORS,
        duration_chart=_duration_chart(oldest_first, colors),
        trend_chart=_trend_chart(oldest_first),
        cdc_newest=next((r for r in records if r.cdc), None),
        cdc_warnings=cdc_warnings(records),
        lag_chart=_lag_chart(oldest_first) if cdc_slots(records) else None,
        size=readable_bytes,
        generated_at=f"{generated_at:%Y-%m-%d %H:%M:%S}",
        index_href="index.html",
        docs_href="docs/index.html",
    )
    out = reports_dir / "runs.html"
    write_atomic(out, page)
    return out


def render_failed_notebook(ipynb: Path) -> Path | None:
    """Render the executed notebook of a failed stage, code and traceback shown, to a page beside
    it (``<stage>.html``) that links back to the runs page; ``None`` if that cannot be done
    (missing or corrupt notebook, full disk). Never raises: the run has failed already."""
    try:
        import nbformat
        from nbconvert import HTMLExporter

        nb = nbformat.read(ipynb, as_version=4)
        body, _ = HTMLExporter(template_name="basic", anchor_link_text="").from_notebook_node(nb)
        out = ipynb.with_suffix(".html")
        page = render_page(
            "notebook.html.j2",
            title=f"run {ipynb.parent.name} · stage {ipynb.stem}",
            notebook=ipynb.name,
            body=Markup(body),  # nbconvert's HTML (it escapes the notebook's code and text)
            runs_href="../../runs.html",
            index_href="../../index.html",
            docs_href="../../docs/index.html",
        )
        write_atomic(out, page)
        return out
    except Exception:
        return None


def _stage_colors(records: Sequence[RunRecord]) -> dict[str, str]:
    names = dict.fromkeys(s.stage for r in records for s in r.stages)
    return {name: STAGE_COLORS[i % len(STAGE_COLORS)] for i, name in enumerate(names)}


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at least ``value`` (1 for nothing).

    >>> [_nice_ceiling(v) for v in (0, 0.3, 7, 12, 21, 4100)]
    [1, 0.5, 10, 20, 25.0, 5000]
    """
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-9))


def _count(value: float) -> str:
    """An axis label of a count: whole numbers with thousands separators.

    >>> [_count(v) for v in (0, 0.5, 2500000)]
    ['0', '0.5', '2,500,000']
    """
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def _text(x: float, y: float, text: str, *, anchor: str = "end", size: int = 10, color: str = "#57606a") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}">'
        f"{html.escape(text)}</text>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}">'
        f"<title>{html.escape(title)}</title></rect>"
    )


def _axis(top: float, height: float, ceiling: float, label: Callable[[float], str]) -> list[str]:
    """Gridlines at 0, half and the ceiling of a panel, labelled on the left."""
    parts = []
    for share in (0, 0.5, 1):
        y = top + height * (1 - share)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(_text(_LEFT - 4, y + 3, label(ceiling * share)))
    return parts


def _slots(n: int) -> tuple[float, float]:
    """Each run's slot width and bar width along the x axis."""
    slot = (_WIDTH - _LEFT - _RIGHT) / max(n, 1)
    return slot, min(slot * 0.7, 40)


def _x_labels(records: Sequence[RunRecord], y: float) -> list[str]:
    """The start of every few runs under the bars (about ten labels at most)."""
    slot, _ = _slots(len(records))
    every = max(1, math.ceil(len(records) / 10))
    return [
        _text(_LEFT + slot * (i + 0.5), y, f"{r.started_at:%m-%d %H:%M}", anchor="middle")
        for i, r in enumerate(records)
        if i % every == 0
    ]


def _svg(height: int, parts: list[str], label: str) -> Markup:
    body = "".join(parts)
    return Markup(  # built from numbers and escaped text only
        f'<svg viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" role="img" '
        f'aria-label="{html.escape(label)}" font-family="sans-serif">{body}</svg>'
    )


def _duration_chart(records: Sequence[RunRecord], colors: dict[str, str]) -> Markup:
    """Stacked bars of seconds per stage per run, oldest on the left; a failed run's bar has a
    red cross above it, its failed stage a red outline."""
    top, height = 14, 180
    ceiling = _nice_ceiling(max((r.duration_s for r in records), default=0))
    slot, bar = _slots(len(records))
    parts = _axis(top, height, ceiling, lambda v: f"{v:g}s")
    for i, r in enumerate(records):
        x = _LEFT + slot * i + (slot - bar) / 2
        y: float = top + height
        for s in r.stages:
            h = height * s.duration_s / ceiling
            if h <= 0:
                continue
            y -= h
            fill = colors[s.stage] if s.status in ("success", "failed") else STATUS_COLORS.get(s.status, "#8c959f")
            title = f"{r.run_id} {s.stage}: {s.duration_s:.2f}s, {s.rows_written:,} rows ({s.status})"
            parts.append(_rect(x, y, bar, h, fill, title))
            if s.status == "failed":
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="none" '
                    f'stroke="{STATUS_COLORS["failed"]}" stroke-width="2"/>'
                )
        if r.status != "success":
            mark = "✕" if r.status == "failed" else "–"
            parts.append(
                _text(x + bar / 2, y - 3, mark, anchor="middle", size=11, color=STATUS_COLORS.get(r.status, "#57606a"))
            )
    parts += _x_labels(records, top + height + 14)
    return _svg(top + height + 22, parts, "seconds per stage per run, oldest on the left")


def _trend_chart(records: Sequence[RunRecord]) -> Markup:
    """Two panels over the same runs: rows written, and checks passed / warned / failed."""
    panel, gap, top = 60, 26, 16
    slot, bar = _slots(len(records))
    rows_ceiling = _nice_ceiling(max((r.rows_written for r in records), default=0))
    checks_ceiling = _nice_ceiling(max((r.checks.total for r in records), default=0))
    checks_top = top + panel + gap
    parts = _axis(top, panel, rows_ceiling, _count)
    parts += _axis(checks_top, panel, checks_ceiling, _count)
    parts.append(_text(_LEFT + 4, top - 6, "rows written", anchor="start", color="#1f2328"))
    parts.append(_text(_LEFT + 4, checks_top - 6, "checks pass / warn / fail", anchor="start", color="#1f2328"))
    for i, r in enumerate(records):
        x = _LEFT + slot * i + (slot - bar) / 2
        h = panel * r.rows_written / rows_ceiling
        if h > 0:
            parts.append(_rect(x, top + panel - h, bar, h, "#0969da", f"{r.run_id}: {r.rows_written:,} rows written"))
        y: float = checks_top + panel
        counts = {"pass": r.checks.passed, "warn": r.checks.warned, "fail": r.checks.failed}
        for name, color in CHECK_COLORS:
            h = panel * counts[name] / checks_ceiling
            if h > 0:
                y -= h
                parts.append(_rect(x, y, bar, h, color, f"{r.run_id}: {counts[name]} check(s) {name}"))
    parts += _x_labels(records, checks_top + panel + 14)
    return _svg(checks_top + panel + 22, parts, "rows written and check results per run, oldest on the left")


def _lag_chart(records: Sequence[RunRecord]) -> Markup:
    """Each CDC slot's lag after each run, a line per slot (a run without the slot leaves a gap)."""
    top, height = 14, 120
    slots = cdc_slots(records)
    colors = {slot: STAGE_COLORS[i % len(STAGE_COLORS)] for i, slot in enumerate(slots)}
    ceiling = _nice_ceiling(max((h.lag_bytes for r in records for h in r.cdc), default=0))
    slot_width, _ = _slots(len(records))
    parts = _axis(top, height, ceiling, lambda v: readable_bytes(int(v)))
    for name in slots:
        points: list[str] = []
        for i, r in enumerate(records):
            h = next((h for h in r.cdc if h.slot == name), None)
            if h is None:  # the slot was not read in this run: end the line here
                parts.append(_polyline(points, colors[name]))
                points = []
                continue
            x, y = _LEFT + slot_width * (i + 0.5), top + height * (1 - h.lag_bytes / ceiling)
            points.append(f"{x:.1f},{y:.1f}")
            title = f"{r.run_id} slot {name}: lag {readable_bytes(h.lag_bytes)}, WAL {h.wal_status}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colors[name]}"><title>{html.escape(title)}</title></circle>'
            )
        parts.append(_polyline(points, colors[name]))
    for i, name in enumerate(slots):  # the legend, top right
        parts.append(_text(_WIDTH - _RIGHT, top + 12 * i + 8, name, color=colors[name]))
    parts += _x_labels(records, top + height + 14)
    return _svg(top + height + 22, parts, "CDC slot lag per run, oldest on the left")


def _polyline(points: list[str], color: str) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="2"/>'
