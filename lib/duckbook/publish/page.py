"""What a report notebook imports (runs in the kernel): offline charts, the run line, tables.

Charts are rendered to inline SVG by vl-convert (no Vega scripts, no CDN), so a published page
makes no network request and opens from a file share or an e-mail attachment. The runner turns
the executed notebook into the page itself (:mod:`duckbook.publish.site`). Formatted tables,
pivots, heat maps and headline cards live in :mod:`duckbook.publish.tables` (re-exported here),
the formats and periods in :mod:`duckbook.publish.formatting`.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from duckbook.publish.formatting import Column, Coverage, Format, as_date, grain_for
from duckbook.publish.tables import Grid, headline, heatmap, pivot
from duckbook.publish.tables import table as formatted_table

if TYPE_CHECKING:  # the runner imports this module's META_KEY without polars
    import polars as pl

    from duckbook.build.context import StageContext

__all__ = [
    "CHARTS_IN_RUNNER",
    "CHART_MIME",
    "META_KEY",
    "Column",
    "Coverage",
    "Format",
    "Grid",
    "Table",
    "draw",
    "grain_for",
    "header",
    "headline",
    "heatmap",
    "pivot",
    "setup_charts",
    "snapshot_of",
    "table",
]

#: Output metadata key a report's header carries; the runner reads it for the page and the index.
META_KEY = "duckbook"


#: The output type of a chart left for ``duckbook run`` to draw: ``{"spec": ..., "vl_version": ...}``.
CHART_MIME = "application/vnd.duckbook.chart+json"
#: Set in the kernel by ``duckbook run``: charts are drawn as SVG by the runner, on a thread beside
#: the kernel, instead of in the kernel (vl-convert holds the GIL: ~0.3 s a chart, 0.6 s the first).
CHARTS_IN_RUNNER = "DUCKBOOK_CHARTS_IN_RUNNER"


def setup_charts() -> None:
    """Render Altair charts as inline SVG (offline, via vl-convert): in this kernel, or under
    ``duckbook run`` (:data:`CHARTS_IN_RUNNER` set) in the runner, with the same result."""
    import altair as alt

    if os.environ.get(CHARTS_IN_RUNNER):
        alt.renderers.register("duckbook-runner-svg", _svg_in_runner)
        alt.renderers.enable("duckbook-runner-svg")
    else:
        alt.renderers.enable("svg")


def _svg_in_runner(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """The chart as :data:`CHART_MIME` for the runner's :func:`draw`; drawn here instead when
    options the runner's plain conversion would not apply are set (embed options, VegaFusion)."""
    from altair import renderers
    from altair.utils._importers import vl_version_for_vl_convert
    from altair.utils.display import using_vegafusion
    from altair.vegalite.v6.display import svg_renderer

    if using_vegafusion() or metadata.get("embed_options") or renderers.options.get("embed_options"):
        return dict(svg_renderer(spec, **metadata))
    return {CHART_MIME: {"spec": spec, "vl_version": vl_version_for_vl_convert()}}


def draw(chart: Mapping[str, Any]) -> str:
    """The SVG of a :data:`CHART_MIME` output, as Altair's ``svg`` renderer draws it."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart["spec"], vl_version=chart["vl_version"]))


def header(
    title: str,
    *,
    run_id: str,
    data_date: dt.date | dt.datetime | str | None,
    run_started_at: dt.datetime,
    run_date: dt.date | None = None,
    stage: str | None = None,
    as_of: str | None = None,
    snapshot: int | None = None,
) -> None:
    """Show the report's run line and how to reproduce it; record both for the page header and
    the index.

    Parameters
    ----------
    title
        The report's title (page title, index entry).
    run_id
        The run that built the report.
    data_date
        The newest date in the data shown (None: unknown, shown as ``n/a``).
    run_started_at
        The run's timestamp (UTC).
    run_date
        The day freshness is measured on (default: the run's day); freshness is this day minus
        the data date, in days.
    stage
        The report's stage: a second line shows the command that rebuilds the page from the
        same data (``duckbook run --stage <stage> -p as_of=<run>``).
    as_of
        What a reproduced report reads (``StageContext.as_of``); None: this run's own data.
    snapshot
        The snapshot the report reads (:func:`snapshot_of`); None while unknown: a run's report
        executes before the run commits, so the page names "the snapshot run <id> commits" in a
        ``span.snapshot`` whose ``data-duckbook-snapshot`` attribute the publication fills in.
    """
    from IPython.display import HTML, display

    data_day = None if data_date is None else as_date(data_date)
    measured_on = run_date or run_started_at.date()
    freshness = f"{(measured_on - data_day).days} day(s) old on {measured_on}" if data_day else "n/a"
    meta: dict[str, str | int | None] = {
        "title": title,
        "run_id": run_id,
        "data_date": str(data_day or "n/a"),
        "freshness": freshness,
        "run_started_at": run_started_at.isoformat(),
        "snapshot": snapshot,
    }
    body = (
        f"<p class='run-meta'>Run <code>{html.escape(run_id)}</code> · data through "
        f"<b>{html.escape(str(data_day or 'n/a'))}</b> ({html.escape(freshness)}) · built "
        f"{html.escape(run_started_at.isoformat(sep=' '))} UTC</p>"
    )
    if stage:
        body += _reproduce(stage, run_id=run_id, as_of=as_of, snapshot=snapshot)
    display(HTML(body), metadata={META_KEY: meta})


def _reproduce(stage: str, *, run_id: str, as_of: str | None, snapshot: int | None) -> str:
    """The header's second line: the snapshot read and the command that reads it again."""
    shown = f"snapshot {snapshot}" if snapshot is not None else f"the snapshot run {run_id} commits"
    span = (
        f'<span class="snapshot" data-duckbook-snapshot="{"" if snapshot is None else snapshot}">'
        f"{html.escape(shown)}</span>"
    )
    command = f"duckbook run --stage {stage} -p as_of={as_of or run_id}"
    source = f"as of <code>{html.escape(as_of)}</code> from " if as_of else "from "
    return (
        f"<p class='run-meta reproduce'>Built {source}{span} · reproduce with <code>{html.escape(command)}</code></p>"
    )


def snapshot_of(ctx: StageContext) -> int | None:
    """The snapshot a reproduced report (``ctx.as_of`` set) reads; None in a run, whose snapshot
    is committed after its reports. Call it before ``ctx.close()``."""
    if ctx.as_of is None:
        return None
    from duckbook.engine import lake, raw

    return lake.current(raw(ctx.con))


class Table:
    """A small table for a published page: plain HTML (no dtype row, no index) and a stable
    text form for nbval."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df

    def _repr_html_(self) -> str:
        # numbers right-aligned in tabular figures, everything else left (the report template's CSS)
        align = ["num" if dtype.is_numeric() else "text" for dtype in self.df.dtypes]
        head = "".join(f"<th class='{a}'>{html.escape(c)}</th>" for c, a in zip(self.df.columns, align, strict=True))
        rows = "".join(
            "<tr>" + "".join(f"<td class='{a}'>{_cell(v)}</td>" for v, a in zip(row, align, strict=True)) + "</tr>"
            for row in self.df.iter_rows()
        )
        return f"<table class='report-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def __repr__(self) -> str:
        import polars as pl

        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
            return repr(self.df)


def _cell(value: object) -> str:
    if value is None:
        return ""
    return html.escape(f"{value:,}" if isinstance(value, int | float) else str(value))


def table(
    df: pl.DataFrame,
    formats: Mapping[str, Format | Column] | None = None,
    *,
    decimals: int = 2,
    coverage: Coverage | None = None,
) -> Table | Grid:
    """``df`` shown as a table: formatted for people when ``formats`` is given
    (:func:`duckbook.publish.tables.table`), else with floats and decimals rounded (a plain
    table, stable notebook output).

    Parameters
    ----------
    df
        The rows to show, in the order given.
    formats
        A format (or :class:`~duckbook.publish.formatting.Column`) per column.
    decimals
        Without ``formats``: digits kept after the decimal point of float and decimal columns.
    coverage
        With ``formats``: the days the data covers, so partial months are flagged.

    Examples
    --------
    >>> import polars as pl
    >>> table(pl.DataFrame({"x": [1.23456]}))._repr_html_()
    "<table class='report-table'><thead><tr><th class='num'>x</th></tr></thead><tbody><tr><td class='num'>1.23</td></tr></tbody></table>"
    """
    import polars as pl

    if formats is not None:
        return formatted_table(df, formats, coverage=coverage)
    return Table(df.with_columns(pl.col(pl.Float32, pl.Float64, pl.Decimal).round(decimals)))
