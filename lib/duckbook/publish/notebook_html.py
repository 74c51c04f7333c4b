"""The HTML body of a report page: an executed notebook's markdown and outputs, without code.

It writes what nbconvert's ``basic`` template writes with the input and the prompts excluded (the
same cell ``div``s and classes, the same output priority, markdown through mistune with the same
heading anchors), in a few milliseconds and without importing nbconvert, which costs the runner
a second or more per run.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from html import escape
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from markupsafe import Markup

#: The first of these a display output holds is shown (nbconvert's HTML priority, less the
#: interactive types a self-contained page cannot run).
PRIORITY = ("text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "text/plain")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NO_ALT = "No description has been provided for this image"


def body(nb: Mapping[str, Any]) -> Markup:
    """The page body of ``nb`` (a notebook as a JSON dict): markdown cells rendered, code cells
    reduced to their outputs.

    Examples
    --------
    >>> nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": "## Sales"},
    ...     {"cell_type": "code", "id": "b", "metadata": {}, "source": "print(1)",
    ...      "outputs": [{"output_type": "stream", "name": "stdout", "text": "1 < 2\\n"}]}]}
    >>> print(body(nb))  # doctest: +NORMALIZE_WHITESPACE
    <div class="cell border-box-sizing text_cell rendered" id="cell-id=a"><div class="inner_cell">
    <div class="text_cell_render border-box-sizing rendered_html">
    <h2 id="Sales">Sales<a class="anchor-link" href="#Sales"></a></h2>
    </div>
    </div>
    </div>
    <div class="cell border-box-sizing code_cell rendered" id="cell-id=b">
    <div class="output_wrapper">
    <div class="output">
    <div class="output_area">
    <div class="output_subarea output_stream output_stdout output_text">
    <pre>1 &lt; 2
    </pre>
    </div>
    </div>
    </div>
    </div>
    </div>
    """
    return Markup("".join(_cells(nb)))


def _cells(nb: Mapping[str, Any]) -> Iterator[str]:
    for cell in nb.get("cells", []):
        kind = cell.get("cell_type")
        tags = "".join(f" celltag_{tag}" for tag in cell.get("metadata", {}).get("tags", []))
        anchor = f' id="{escape("cell-id=" + cell["id"])}"' if cell.get("id") else ""
        if kind == "markdown":
            yield (
                f'<div class="cell border-box-sizing text_cell rendered{escape(tags)}"{anchor}><div class="inner_cell">\n'
                f'<div class="text_cell_render border-box-sizing rendered_html">\n{markdown(_text(cell["source"]))}\n'
                "</div>\n</div>\n</div>\n"
            )
        elif kind == "code":
            yield f'<div class="cell border-box-sizing code_cell rendered{escape(tags)}"{anchor}>\n'
            outputs = [html for html in map(_output, cell.get("outputs", [])) if html is not None]
            if outputs:
                areas = "".join(f'<div class="output_area">\n{html}\n</div>\n' for html in outputs)
                yield f'<div class="output_wrapper">\n<div class="output">\n{areas}</div>\n</div>\n'
            yield "</div>\n"


def _output(output: Mapping[str, Any]) -> str | None:
    """One output as nbconvert's basic template shows it (None for one it does not show)."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name", "stdout")
        return f'<div class="output_subarea output_stream output_{name} output_text">\n<pre>{_plain(output["text"])}</pre>\n</div>'
    if kind == "error":
        lines = "\n".join(_plain(line) for line in output.get("traceback", []))
        return f'<div class="output_subarea output_text output_error">\n<pre>\n{lines}\n</pre>\n</div>'
    if kind not in ("display_data", "execute_result"):
        return None
    data, extra = output.get("data", {}), " output_execute_result" if kind == "execute_result" else ""
    mime = next((m for m in PRIORITY if m in data), None)
    if mime is None:
        return None
    value = _text(data[mime])
    if mime == "text/html":
        return f'<div class="output_html rendered_html output_subarea{extra}">{value}</div>'
    if mime == "text/markdown":
        return f'<div class="output_markdown rendered_html output_subarea{extra}">\n{markdown(value)}\n</div>'
    if mime == "image/svg+xml":
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        return (
            f'<div class="output_svg output_subarea{extra}">\n'
            f'<img alt="{_NO_ALT}" src="data:image/svg+xml;base64,{encoded}"/>\n</div>'
        )
    if mime in ("image/png", "image/jpeg"):
        size = output.get("metadata", {}).get(mime, {})
        attrs = "".join(f' {k}="{escape(str(size[k]))}"' for k in ("width", "height") if k in size)
        alt = escape(str(size.get("alt", _NO_ALT)))
        div = "output_png" if mime == "image/png" else "output_jpeg"
        src = f"data:{mime};base64,{value.strip()}"
        return f'<div class="{div} output_subarea{extra}">\n<img alt="{alt}" src="{src}"{attrs}/>\n</div>'
    return f'<div class="output_text output_subarea{extra}">\n<pre>{_plain(value)}</pre>\n</div>'


def _text(value: str | list[str]) -> str:
    """nbformat keeps multi-line strings as one string or a list of lines."""
    return "".join(value) if isinstance(value, list) else value


def _plain(text: str) -> str:
    """Terminal text as HTML: escaped, ANSI colour codes dropped."""
    return escape(_ANSI.sub("", _text(text)), quote=False)


def markdown(source: str) -> str:
    """Markdown as nbconvert renders a markdown cell: mistune with tables, strikethrough, task
    lists, definition lists and bare URLs; raw HTML kept; headings get an id and an empty anchor.

    >>> markdown("# A · b\\n`x` *y*")
    '<h1 id="A-%C2%B7-b">A · b<a class="anchor-link" href="#A-%C2%B7-b"></a></h1><p><code>x</code> <em>y</em></p>'
    """
    return str(_markdown()(source)).removesuffix("\n")


def _markdown() -> Any:
    global _PARSER
    if _PARSER is None:
        import mistune

        class Renderer(mistune.HTMLRenderer):
            def heading(self, text: str, level: int, **attrs: Any) -> str:
                return _anchor(super().heading(text, level, **attrs))

        plugins = ["strikethrough", "table", "url", "task_lists", "def_list"]
        _PARSER = mistune.create_markdown(escape=False, renderer=Renderer(escape=False), plugins=plugins)
    return _PARSER


_PARSER: Any = None


def _anchor(html: str) -> str:
    """A heading with nbconvert's id (its text, spaces as ``-``, URL-quoted) and an anchor link."""
    try:
        heading = ElementTree.fromstring(html)
    except ElementTree.ParseError:
        return html
    link = quote("".join(heading.itertext()).replace(" ", "-"), safe="?/:@!$&'()*+,;=")
    heading.set("id", link)
    ElementTree.SubElement(heading, "a", {"class": "anchor-link", "href": "#" + link})
    return ElementTree.tostring(heading, encoding="unicode", short_empty_elements=False)
