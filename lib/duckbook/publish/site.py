"""What the runner publishes: executed report notebooks as self-contained HTML pages, and
``reports/index.html`` (with ``index.json``, the machine-readable list of pages).

Every page is rendered from the Jinja templates in ``templates/`` (one shell, ``base.html.j2``,
with inline CSS, a header bar and a footer), autoescaped; only HTML built by trusted code
(the notebook body of :mod:`duckbook.publish.notebook_html`, SVG) is passed in as :class:`~markupsafe.Markup`. Pages are written
to a temp file and renamed, so a reader never sees half a page.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from duckbook.publish.page import META_KEY


@dataclasses.dataclass(frozen=True)
class Page:
    """A published report as the index lists it; ``reports/index.json`` holds these as dicts."""

    file: str
    title: str
    run_id: str
    data_date: str = "n/a"
    freshness: str = "n/a"
    status: str = "success"  #: success | stale (not rebuilt though its inputs changed)
    description: str = ""  #: one line: the first sentence of the notebook's first markdown cell

    @classmethod
    def from_dict(cls, entry: Mapping[str, object]) -> Page:
        """The page an ``index.json`` entry describes (keys this class does not know are ignored).

        Raises
        ------
        TypeError
            If ``file``, ``title`` or ``run_id`` is missing.

        Examples
        --------
        >>> Page.from_dict({"file": "a.html", "title": "A", "run_id": "r1"})
        Page(file='a.html', title='A', run_id='r1', data_date='n/a', freshness='n/a', status='success', description='')
        """
        return cls(**{f.name: str(entry[f.name]) for f in dataclasses.fields(cls) if f.name in entry})

    @classmethod
    def from_notebook(cls, nb: Mapping[str, Any], *, file: str, run_id: str, default_title: str) -> Page:
        """The page of an executed report notebook (a JSON dict): title, data date and freshness
        from its header metadata (:func:`notebook_meta`), its :func:`description`."""
        meta = notebook_meta(nb)
        return cls(
            file=file,
            title=meta.get("title", default_title),
            run_id=run_id,
            data_date=meta.get("data_date", "n/a"),
            freshness=meta.get("freshness", "n/a"),
            description=description(nb),
        )


def description(nb: Mapping[str, Any], *, limit: int = 200) -> str:
    """A report's one-line description: the first sentence of its first markdown cell after the
    title, without markdown emphasis and links ("" if there is none); cut after ``limit`` characters.

    Examples
    --------
    >>> description({"cells": [{"cell_type": "markdown", "source": "# Sales\\nThe *month's* revenue. By day."}]})
    "The month's revenue."
    """
    cell = next((c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"), None)
    if cell is None:
        return ""
    lines = [line.strip() for line in "".join(cell.get("source", "")).splitlines() if not line.startswith("#")]
    paragraph = " ".join(itertools.takewhile(bool, itertools.dropwhile(lambda line: not line, lines)))
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", paragraph).replace("*", "").replace("`", "")
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("duckbook.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails the render, not the page
        keep_trailing_newline=True,
    )


def render_page(template: str, /, **context: Any) -> str:
    """Render one of the page templates in ``duckbook/publish/templates``.

    Parameters
    ----------
    template
        The template's file name, e.g. ``"report.html.j2"``; it extends ``base.html.j2``, which
        needs ``index_href`` and ``docs_href`` (the footer's links).
    **context
        The template's variables. Strings are escaped; pass :class:`~markupsafe.Markup` for HTML
        that must go in as is.

    Raises
    ------
    jinja2.UndefinedError
        If the template uses a variable ``context`` does not give.
    """
    return _environment().get_template(template).render(**context)


def read_meta(nb_path: Path) -> dict[str, str]:
    """The header metadata a report notebook recorded with :func:`duckbook.publish.page.header`
    ({} if none)."""
    return notebook_meta(json.loads(Path(nb_path).read_text(encoding="utf-8")))


def notebook_meta(nb: Mapping[str, Any]) -> dict[str, str]:
    """:func:`read_meta` of a notebook already read (a JSON dict)."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if META_KEY in output.get("metadata", {}):
                return dict(output["metadata"][META_KEY])
    return {}


def render_html(
    nb_path: Path, out_path: Path, *, index_href: str = "index.html", docs_href: str = "docs/index.html"
) -> Path:
    """Render an executed report notebook file to a self-contained page: :func:`render_notebook`."""
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    return render_notebook(nb, Path(nb_path).name, out_path, index_href=index_href, docs_href=docs_href)


def render_notebook(
    nb: Mapping[str, Any],
    name: str,
    out_path: Path,
    *,
    index_href: str = "index.html",
    docs_href: str = "docs/index.html",
) -> Path:
    """Render an executed report notebook to a self-contained page.

    No code, no prompts; inline CSS and SVG charts; a header with the run id, data date and
    freshness the notebook recorded; a footer linking to the index and the docs.

    Parameters
    ----------
    nb
        The executed notebook (a JSON dict, as :func:`json.loads` reads an ``.ipynb``).
    name
        The notebook's file name (the footer names it; the title without header metadata).
    out_path
        The page to write (atomically).
    index_href, docs_href
        Where the footer's links point, relative to the page.

    Returns
    -------
    Path
        ``out_path``.
    """
    from duckbook.publish import notebook_html

    meta = notebook_meta(nb)
    page = render_page(
        "report.html.j2",
        title=meta.get("title", Path(name).stem),
        run_id=meta.get("run_id", "?"),
        data_date=meta.get("data_date", "n/a"),
        freshness=meta.get("freshness", "n/a"),
        body=notebook_html.body(nb),  # the notebook's outputs and markdown, charts included
        notebook=name,
        index_href=index_href,
        docs_href=docs_href,
    )
    write_atomic(out_path, page)
    return out_path


def write_index(reports_dir: Path, pages: Sequence[Page], *, run_id: str, status: str) -> Path:
    """Write ``reports/index.html`` listing ``pages`` (by file name) under a line naming the last
    run and its status, and ``reports/index.json`` with the pages as dicts.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    html, index_json = index_texts(pages, run_id=run_id, status=status)
    out = reports_dir / "index.html"
    write_atomic(out, html)
    write_atomic(reports_dir / "index.json", index_json)
    return out


def index_texts(pages: Sequence[Page], *, run_id: str, status: str) -> tuple[str, str]:
    """The text of ``index.html`` and ``index.json`` listing ``pages`` (see :func:`write_index`)."""
    html = render_page(
        "index.html.j2",
        pages=sorted(pages, key=lambda p: p.file),
        run_id=run_id,
        status=status,
        index_href="index.html",
        docs_href="docs/index.html",
    )
    return html, json.dumps([dataclasses.asdict(p) for p in pages], indent=2)


def published_pages(reports_dir: Path) -> list[Page]:
    """The pages the last successful run published (from ``reports/index.json``; [] if it is
    missing or unreadable)."""
    try:
        entries = json.loads((reports_dir / "index.json").read_text(encoding="utf-8"))
        return [Page.from_dict(entry) for entry in entries]
    except (OSError, ValueError, TypeError):
        return []


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and a rename, so a
    reader sees the old file or the new one, never half of one (creates the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
