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


def header(title: str, *, run_id: str, data_date: dt.date | dt.datetime | str | None, run_started_at: dt.datetime) -> None:
    """Show the report's title line and record it (with run id and data date) for the index."""
    from IPython.display import HTML, display

    data_date_text = str(data_date)[:10] if data_date is not None else "n/a"
    meta = {"title": title, "run_id": run_id, "data_date": data_date_text, "run_started_at": run_started_at.isoformat()}
    body = (
        f"<p class='run-meta'>Run <code>{html.escape(run_id)}</code> · data through "
        f"<b>{html.escape(data_date_text)}</b> · built {html.escape(run_started_at.isoformat(sep=' '))} UTC</p>"
    )
    display(HTML(body), metadata={META_KEY: meta})


class Table:
    """A small table for a published page: plain HTML (no dtype row, no index) and a stable
    text form for nbval."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.df.columns)
        rows = "".join(
            "<tr>" + "".join(f"<td>{'' if v is None else html.escape(f'{v:,}' if isinstance(v, int | float) else str(v))}</td>" for v in row) + "</tr>"
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


def render_html(nb_path: Path, out_path: Path, *, index_href: str = "index.html") -> Path:
    """Render an executed report notebook to a self-contained page: no code, no prompts, inline
    CSS and SVG, a header with run id and data date, a footer linking back to the index.
    Written to a temp file and renamed, so a reader never sees half a page."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(nb_path, as_version=4)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            anchor_link_text="")
    body, _ = exporter.from_notebook_node(nb)
    meta = read_meta(nb_path)
    title = meta.get("title", Path(nb_path).stem)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<header class="page"><b>duckbook</b> · {html.escape(title)} · run <code>{html.escape(meta.get("run_id", "?"))}</code>
· data through {html.escape(meta.get("data_date", "n/a"))}</header>
<main>
{body}
</main>
<footer class="page"><a href="{html.escape(index_href)}">All reports</a> · generated by duckbook from
<code>{html.escape(Path(nb_path).name)}</code></footer>
</body></html>
"""
    _write_atomic(out_path, page)
    return out_path


def write_index(reports_dir: Path, pages: Sequence[dict[str, str]], *, run_id: str, status: str) -> Path:
    """Write ``reports/index.html`` listing ``pages`` (dicts with file, title, run_id, data_date)."""
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(p['file'])}'>{html.escape(p['title'])}</a></td>"
        f"<td><code>{html.escape(p['run_id'])}</code></td><td>{html.escape(p['data_date'])}</td></tr>"
        for p in sorted(pages, key=lambda p: p["file"])
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>duckbook reports</title><style>{_CSS}</style></head>
<body><header class="page"><b>duckbook</b> · reports</header>
<main><h1>Reports</h1>
<p class="run-meta">Last run <code>{html.escape(run_id)}</code>: <span class="status-{html.escape(status)}">{html.escape(status)}</span></p>
<table><thead><tr><th>Report</th><th>Run</th><th>Data through</th></tr></thead>
<tbody>
{rows}
</tbody></table></main></body></html>
"""
    out = reports_dir / "index.html"
    _write_atomic(out, page)
    return out


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
