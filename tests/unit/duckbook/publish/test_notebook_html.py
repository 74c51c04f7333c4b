"""A report page's body: what nbconvert's basic template shows of a notebook, without its code."""

from __future__ import annotations

import base64

import nbformat

from duckbook.publish import notebook_html


def _cell(*outputs: dict[str, object], tags: tuple[str, ...] = ()) -> dict[str, object]:
    cell = nbformat.v4.new_code_cell("secret_code()", outputs=list(outputs))
    cell.metadata["tags"] = list(tags)
    return dict(cell)


def _body(*cells: dict[str, object]) -> str:
    return str(notebook_html.body({"cells": list(cells)}))


def test_display_priority_html_over_svg_over_png_over_text():
    both = nbformat.v4.new_output("display_data", data={"text/html": "<b>h</b>", "text/plain": "p"})
    svg = nbformat.v4.new_output("execute_result", data={"image/svg+xml": "<svg/>", "text/plain": "p"})
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBO\n", "text/plain": "p"})
    png.metadata = {"image/png": {"width": 10}}
    text = nbformat.v4.new_output("display_data", data={"text/plain": "\x1b[31m<red>\x1b[0m"})
    page = _body(_cell(both, svg, png, text, tags=("parameters",)))
    assert "secret_code" not in page and "celltag_parameters" in page
    assert '<div class="output_html rendered_html output_subarea"><b>h</b></div>' in page
    encoded = base64.b64encode(b"<svg/>").decode()
    assert '<div class="output_svg output_subarea output_execute_result">\n<img alt="' in page
    assert f'src="data:image/svg+xml;base64,{encoded}"/>' in page
    assert (
        '<img alt="No description has been provided for this image" src="data:image/png;base64,iVBO" width="10"/>'
        in page
    )
    assert "<pre>&lt;red&gt;</pre>" in page  # escaped, colour codes dropped
    assert page.count('<div class="output_area">') == 4


def test_markdown_cells_and_outputs_render_with_heading_anchors():
    md = dict(
        nbformat.v4.new_markdown_cell("## Top *x* · y\n\n### Bad <b>\n\n| a |\n|---|\n| 1 |\n\nsee https://x.test")
    )
    shown = nbformat.v4.new_output("display_data", data={"text/markdown": "**bold**", "text/plain": "b"})
    page = _body(md, _cell(shown))
    link = "Top-x-%C2%B7-y"
    assert f'<h2 id="{link}">Top <em>x</em> · y<a class="anchor-link" href="#{link}"></a></h2>' in page
    assert "<h3>Bad <b></h3>" in page  # not well-formed: left as it is, as nbconvert does
    assert "<table>" in page and '<a href="https://x.test">https://x.test</a>' in page
    assert '<div class="output_markdown rendered_html output_subarea">\n<p><strong>bold</strong></p>\n</div>' in page


def test_streams_errors_and_empty_cells():
    out = nbformat.v4.new_output("stream", name="stderr", text=["a <\n", "b\n"])
    err = nbformat.v4.new_output("error", ename="E", evalue="v", traceback=["\x1b[0;31mE\x1b[0m: v <x>"])
    page = _body(_cell(out, err), _cell(), {"cell_type": "raw", "source": "raw text", "metadata": {}})
    assert '<div class="output_subarea output_stream output_stderr output_text">\n<pre>a &lt;\nb\n</pre>' in page
    assert '<div class="output_subarea output_text output_error">\n<pre>\nE: v &lt;x&gt;\n</pre>' in page
    assert page.count('<div class="cell border-box-sizing code_cell rendered" id="cell-id=') == 2
    assert "raw text" not in page
