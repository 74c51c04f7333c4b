"""What a report notebook imports (runs in the kernel): offline charts, the run line, tables.

Charts are rendered to inline SVG by vl-convert (no Vega scripts, no CDN), so a published page
makes no network request and opens from a file share or an e-mail attachment. The runner turns
the executed notebook into the page itself (:mod:`duckbook.publish.site`).
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the runner imports this module's META_KEY without polars
    import polars as pl

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
) -> None:
    """Show the report's run line and record it for the page header and the index.

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
    """
    from IPython.display import HTML, display

    data_day = _as_date(data_date)
    as_of = run_date or run_started_at.date()
    freshness = f"{(as_of - data_day).days} day(s) old on {as_of}" if data_day else "n/a"
    meta = {
        "title": title,
        "run_id": run_id,
        "data_date": str(data_day or "n/a"),
        "freshness": freshness,
        "run_started_at": run_started_at.isoformat(),
    }
    body = (
        f"<p class='run-meta'>Run <code>{html.escape(run_id)}</code> · data through "
        f"<b>{html.escape(meta['data_date'])}</b> ({html.escape(freshness)}) · built "
        f"{html.escape(run_started_at.isoformat(sep=' '))} UTC</p>"
    )
    display(HTML(body), metadata={META_KEY: meta})


def _as_date(value: dt.date | dt.datetime | str | None) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


class Table:
    """A small table for a published page: plain HTML (no dtype row, no index) and a stable
    text form for nbval."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.df.columns)
        rows = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in self.df.iter_rows())
        return f"<table class='report-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def __repr__(self) -> str:
        import polars as pl

        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
            return repr(self.df)


def _cell(value: object) -> str:
    if value is None:
        return ""
    return html.escape(f"{value:,}" if isinstance(value, int | float) else str(value))


def table(df: pl.DataFrame, *, decimals: int = 2) -> Table:
    """``df`` with floats and decimals rounded, shown as a plain table (stable notebook output).

    Parameters
    ----------
    df
        The rows to show, in the order given.
    decimals
        Digits kept after the decimal point of float and decimal columns.

    Examples
    --------
    >>> import polars as pl
    >>> table(pl.DataFrame({"x": [1.23456]}))._repr_html_()
    "<table class='report-table'><thead><tr><th>x</th></tr></thead><tbody><tr><td>1.23</td></tr></tbody></table>"
    """
    import polars as pl

    return Table(df.with_columns(pl.col(pl.Float32, pl.Float64, pl.Decimal).round(decimals)))
