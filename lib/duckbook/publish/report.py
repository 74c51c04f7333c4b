"""Published reports: offline charts, a page header, notebook -> self-contained HTML, the index.

Charts are rendered to inline SVG by vl-convert (no Vega scripts, no CDN), so a published page
makes no network request and opens from a file share or an e-mail attachment.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runner renders pages without importing these
    import polars as pl

#: Output metadata key a report's header carries; the runner reads it for reports/index.html.
META_KEY = "duckbook"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header.page, footer.page { background: #24292f; color: #f6f8fa; padding: 12px 32px; font-size: 14px; }
header.page a, footer.page a { color: #9ecbff; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 32px; background: #fff; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; }
th { background: #f6f8fa; }
td:first-child, th:first-child { text-align: left; }
.jp-OutputArea-output svg, .output_svg svg { max-width: 100%; height: auto; }
.run-meta { color: #57606a; font-size: 13px; }
.status-success { color: #1a7f37; } .status-failed { color: #cf222e; }
"""


def setup_charts() -> None:
    """Render Altair charts as inline SVG (offline, via vl-convert) in this kernel."""
    import altair as alt

    alt.renderers.enable("svg")


def header(
    title: str,
    *,
    run_id: str,
    data_date: dt.date | dt.datetime | str | None,
    run_started_at: dt.datetime,
    run_date: dt.date | None = None,
) -> None:
    """Show the report's run line (run id, data date, freshness) and record it for the page
    header and ``reports/index.html``. Freshness is ``run_date`` (default: the run's day) minus
    the data date, in days."""
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
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{'' if v is None else html.escape(f'{v:,}' if isinstance(v, int | float) else str(v))}</td>"
                for v in row
            )
            + "</tr>"
            for row in self.df.iter_rows()
        )
        return f"<table class='report-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def __repr__(self) -> str:
        import polars as pl

        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
            return repr(self.df)


def table(df: pl.DataFrame, *, decimals: int = 2) -> Table:
    """``df`` with floats and decimals rounded, shown as a plain table (stable notebook output)."""
    import polars as pl

    return Table(df.with_columns(pl.col(pl.Float32, pl.Float64, pl.Decimal).round(decimals)))


def read_meta(nb_path: Path) -> dict[str, str]:
    """The header metadata a report notebook recorded with :func:`header` ({} if none)."""
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if META_KEY in output.get("metadata", {}):
                return dict(output["metadata"][META_KEY])
    return {}


def render_html(
    nb_path: Path, out_path: Path, *, index_href: str = "index.html", docs_href: str = "docs/index.html"
) -> Path:
    """Render an executed report notebook to a self-contained page: no code, no prompts, inline
    CSS and SVG charts, a header with run id, data date and freshness, a footer linking to the
    index and the docs.
    Written to a temp file and renamed, so a reader never sees half a page."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(nb_path, as_version=4)
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    body, _ = exporter.from_notebook_node(nb)
    meta = read_meta(nb_path)
    title = meta.get("title", Path(nb_path).stem)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<header class="page"><b>duckbook</b> · {html.escape(title)} · run <code>{html.escape(meta.get("run_id", "?"))}</code>
· data through {html.escape(meta.get("data_date", "n/a"))} ({html.escape(meta.get("freshness", "n/a"))})</header>
<main>
{body}
</main>
<footer class="page"><a href="{html.escape(index_href)}">All reports</a> · <a href="{html.escape(docs_href)}">Data dictionary
and lineage</a> · generated by duckbook from
<code>{html.escape(Path(nb_path).name)}</code></footer>
</body></html>
"""
    _write_atomic(out_path, page)
    return out_path


def write_index(reports_dir: Path, pages: Sequence[dict[str, str]], *, run_id: str, status: str) -> Path:
    """Write ``reports/index.html`` listing ``pages`` (dicts with file, title, run_id, data_date,
    freshness, status) under a line naming the last run and its status."""
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(p['file'])}'>{html.escape(p['title'])}</a></td>"
        f"<td><code>{html.escape(p['run_id'])}</code></td><td>{html.escape(p['data_date'])}</td>"
        f"<td>{html.escape(p.get('freshness', 'n/a'))}</td>"
        f"<td class='status-{html.escape(p.get('status', 'success'))}'>{html.escape(p.get('status', 'success'))}</td></tr>"
        for p in sorted(pages, key=lambda p: p["file"])
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>duckbook reports</title><style>{_CSS}</style></head>
<body><header class="page"><b>duckbook</b> · reports</header>
<main><h1>Reports</h1>
<p class="run-meta">Last run <code>{html.escape(run_id)}</code>: <span class="status-{html.escape(status)}">{html.escape(status)}</span></p>
<table><thead><tr><th>Report</th><th>Run</th><th>Data through</th><th>Freshness</th><th>Status</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><a href="docs/index.html">Data dictionary and lineage</a></p></main></body></html>
"""
    out = reports_dir / "index.html"
    _write_atomic(out, page)
    _write_atomic(reports_dir / "index.json", json.dumps(list(pages), indent=2))
    return out


def published_pages(reports_dir: Path) -> list[dict[str, str]]:
    """The pages the last successful run published (from ``reports/index.json``)."""
    try:
        return json.loads((reports_dir / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
