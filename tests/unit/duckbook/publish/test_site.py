"""The runner side: report pages from executed notebooks, the index, the shared page shell."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tomllib
from pathlib import Path

import jinja2
import pytest

from duckbook.publish import docs, runs, site
from tests.unit.duckbook.publish.conftest import META, write_notebook

ROOT = Path(__file__).resolve().parents[4]
TEMPLATES = ROOT / "lib" / "duckbook" / "publish" / "templates"
PAGES = [
    site.Page(
        "b.html", "B <script>x</script>", "r1", "2019-08-10", "1 day(s) old on 2019-08-11", "success", "Sales <b>."
    ),
    site.Page("a.html", "A", "r0"),
]


def _urls(text: str) -> list[str]:
    """http(s) URLs in a page, apart from the SVG namespace name (an identifier, never fetched)."""
    return re.findall(r"https?://[^\s'\"<>]*", text.replace("http://www.w3.org/2000/svg", ""))


def test_report_page_has_outputs_header_and_footer_but_no_code(notebook, tmp_path):
    out = site.render_html(notebook, tmp_path / "out" / "sales.html", index_href="../i.html", docs_href="../d.html")
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / "out" / "sales.html"
    # the notebook body goes in as Markup: nbconvert's HTML, not escaped a second time
    assert "<p>The month's revenue.</p>" in page and "<table><tr><td>42</td></tr></table>" in page
    assert len(re.findall(r'<img[^>]+src="data:image/svg\+xml;base64,', page)) == 1
    assert "def secret" not in page and "import os" not in page and "In&nbsp;[" not in page
    header = page.split('<header class="page">', 1)[1].split("</header>", 1)[0]
    assert header == (
        "<b>duckbook</b> · Sales &lt;script&gt;alert(1)&lt;/script&gt; · run <code>r1</code>\n"
        "· data through 2019-08-10 (1 day(s))"
    )
    assert "<script>" not in page
    assert '<a href="../i.html">All reports</a>' in page and '<a href="../d.html">Data dictionary' in page
    assert "<code>50_report_sales.ipynb</code>" in page
    assert f"<title>{META['title'].replace('<', '&lt;').replace('>', '&gt;')}</title>" in page
    assert _urls(page) == []
    assert not list(out.parent.glob(".*.tmp")), "the temp file is renamed away"


def test_report_page_without_header_metadata_falls_back(tmp_path):
    nb = write_notebook(tmp_path / "50_report_plain.ipynb", meta=None)
    page = site.render_html(nb, tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "<title>50_report_plain</title>" in page
    assert "run <code>?</code>\n· data through n/a (n/a)" in page
    assert site.read_meta(nb) == {}


def test_read_meta_returns_what_header_recorded(notebook):
    assert site.read_meta(notebook) == META


def test_index_lists_pages_sorted_escaped_with_the_last_run(tmp_path):
    out = site.write_index(tmp_path, PAGES, run_id="r2", status="failed")
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / "index.html"
    assert page.index('href="a.html"') < page.index('href="b.html"')
    assert "B &lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    assert 'Last run <code>r2</code>: <span class="status-failed">failed</span>' in page
    assert "<td>2019-08-10</td><td>1 day(s) old on 2019-08-11</td>" in page
    assert '<a href="docs/index.html">Data dictionary' in page
    assert _urls(page) == []


def test_index_is_an_entry_point_with_descriptions_states_and_links(tmp_path):
    stale = dataclasses.replace(PAGES[1], status="stale")
    page = site.write_index(tmp_path, [PAGES[0], stale], run_id="r2", status="success").read_text(encoding="utf-8")
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert (
        '<a href="b.html"><b>B &lt;script&gt;x&lt;/script&gt;</b></a><br><span class="description">Sales &lt;b&gt;.</span>'
        in rows
    )
    assert '<a href="a.html"><b>A</b></a></td>' in rows  # no description: no empty line
    assert '<td class="status-stale">stale</td>' in rows and '<td class="status-current">current</td>' in rows
    assert '<a href="runs.html">Runs: history, timings and errors</a>' in page
    assert '<a href="docs/index.html">Data dictionary and lineage</a></p>' in page
    assert "The last run failed" not in page
    failed = site.write_index(tmp_path, [PAGES[0], stale], run_id="r3", status="failed").read_text(encoding="utf-8")
    assert "The last run failed and published nothing" in failed
    assert '<td class="status-failed">failed</td>' in failed and '<td class="status-stale">stale</td>' in failed
    assert "fresh</td>" not in failed
    empty = site.write_index(tmp_path, [], run_id="r0", status="success").read_text(encoding="utf-8")
    assert "No report has been published yet" in empty and "<table>" not in empty


def test_pages_round_trip_through_index_json(tmp_path):
    site.write_index(tmp_path, PAGES, run_id="r2", status="success")
    raw = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert raw == [dataclasses.asdict(p) for p in PAGES]
    # backward compatible: the keys of older versions first, in their order, then the added ones
    assert list(raw[1]) == ["file", "title", "run_id", "data_date", "freshness", "status", "description"]
    assert site.published_pages(tmp_path) == PAGES


def test_published_pages_reads_older_entries_with_defaults(tmp_path):
    entry = {"file": "a.html", "title": "A", "run_id": "r0", "data_date": "2019-01-01", "extra": 1}
    (tmp_path / "index.json").write_text(json.dumps([entry]), encoding="utf-8")
    assert site.published_pages(tmp_path) == [site.Page("a.html", "A", "r0", "2019-01-01", "n/a", "success", "")]


@pytest.mark.parametrize("content", [None, "{not json", '[{"title": "no file"}]'])
def test_published_pages_is_empty_without_a_readable_index(tmp_path, content):
    if content is not None:
        (tmp_path / "index.json").write_text(content, encoding="utf-8")
    assert site.published_pages(tmp_path) == []


def test_page_from_notebook_takes_the_header_and_the_description(notebook):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    page = site.Page.from_notebook(nb, file="sales.html", run_id="r9", default_title="50_report_sales")
    assert page == site.Page(
        "sales.html", META["title"], "r9", META["data_date"], META["freshness"], "success", "The month's revenue."
    )
    bare = site.Page.from_notebook({"cells": []}, file="x.html", run_id="r9", default_title="50_report_x")
    assert (bare.title, bare.data_date, bare.description) == ("50_report_x", "n/a", "")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "# Data quality\nWhat needs *attention* after a run:\nchecks, `ops.quarantine`. Then history.",
            "What needs attention after a run: checks, ops.quarantine.",
        ),
        ("# Title only", ""),
        ("# T\n\nSee [the docs](docs/index.html) first! More.", "See the docs first!"),
        ("No title, one sentence without a stop", "No title, one sentence without a stop"),
        ("# T\n" + "word " * 100, ("word " * 100)[:199].rstrip() + "…"),
    ],
)
def test_description_is_the_first_sentence_of_the_first_markdown_cell(source, expected):
    code = {"cell_type": "code", "source": "x = 1", "outputs": []}
    nb = {"cells": [code, {"cell_type": "markdown", "source": source}, {"cell_type": "markdown", "source": "Later."}]}
    assert site.description(nb) == expected


def test_page_from_dict_needs_file_title_and_run_id():
    with pytest.raises(TypeError, match="file"):
        site.Page.from_dict({"title": "A", "run_id": "r"})


def test_write_atomic_creates_the_directory_and_replaces_the_file(tmp_path):
    target = tmp_path / "a" / "b.html"
    site.write_atomic(target, "one")
    site.write_atomic(target, "two")
    assert target.read_text(encoding="utf-8") == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.html"]


def test_templates_autoescape_and_fail_on_a_missing_variable():
    common = {"index_href": "index.html", "docs_href": "docs/index.html"}
    page = site.render_page(
        "index.html.j2", pages=[site.Page('x.html"', "<i>", "r")], run_id="r", status="ok", **common
    )
    assert 'href="x.html&#34;"' in page and "&lt;i&gt;" in page
    with pytest.raises(jinja2.UndefinedError, match="run_id"):
        site.render_page("index.html.j2", pages=[], status="ok", **common)


def test_every_page_kind_is_the_shared_shell(notebook, tmp_path, warehouse):
    """Report, index, docs and runs page and a failed stage's notebook all come from
    base.html.j2: same head, CSS, header bar and footer links, self-contained (no URL to fetch)."""
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    failed = runs.render_failed_notebook(write_notebook(tmp_path / "runs" / "r1" / "30_marts.ipynb"))
    assert failed is not None
    pages = {
        "runs": runs.write_runs_page(tmp_path, [], generated_at=dt.datetime(2024, 1, 2)).read_text(encoding="utf-8"),
        "failed notebook": failed.read_text(encoding="utf-8"),
        "report": site.render_html(notebook, tmp_path / "sales.html").read_text(encoding="utf-8"),
        "index": site.write_index(tmp_path, PAGES, run_id="r", status="success").read_text(encoding="utf-8"),
        "docs": docs.render(warehouse, docs.Descriptions()),
    }
    base = (TEMPLATES / "base.html.j2").read_text(encoding="utf-8")
    css = base.split("<style>\n", 1)[1].split("{% block style %}", 1)[0]
    for kind, page in pages.items():
        assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'), kind
        assert css in page, kind
        assert '<header class="page"><b>duckbook</b> · ' in page, kind
        footer = r'<footer class="page"><a href="[^"]*index.html">All reports</a> · <a href="[^"]*index.html">'
        assert re.search(footer, page), kind
        assert page.endswith("</footer>\n</body></html>\n"), kind
        assert _urls(page) == [], kind
        assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", page), kind


def test_the_templates_ship_with_the_package():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["duckbook"]
    shipped = {p.name for g in globs for p in (ROOT / "lib" / "duckbook").glob(g)}
    assert shipped == {
        "base.html.j2",
        "report.html.j2",
        "index.html.j2",
        "docs.html.j2",
        "runs.html.j2",
        "notebook.html.j2",
    }
    assert shipped == {p.name for p in TEMPLATES.iterdir()}
