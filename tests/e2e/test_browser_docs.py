"""The docs site in headless chromium: search, the focus view, arrowheads, panels; offline and
without console errors. Screenshots go to tests/artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from duckbook.publish import lineage_graph
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401 (the module's browser fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed: run `make browser` (apt-get install chromium)"
    ),
]


@pytest.fixture
def docs_page(run, browser):  # noqa: F811
    """The docs page opened offline; after the test: no request but the page, no console error."""
    path = Path(run["reports"]) / "docs" / "index.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(path.as_uri(), wait_until="load")
    yield page, path
    assert all(u.startswith("file://") for u in requests), requests
    assert problems == []
    page.close()


def test_search_shows_matches_only_and_a_result_opens_the_panel(docs_page):
    page, _ = docs_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs.png"))
    assert page.locator("section.table:visible").count() == 0  # panels open on demand
    page.fill("#search", "lifetime")
    results = page.locator("#search-results li")
    names = results.locator("a").all_text_contents()
    assert len(names) >= 3 and all("lifetime" in text.lower() for text in results.all_inner_texts())
    assert "marts.customers.lifetime_spend" in names and "marts.orders" not in names
    assert re.fullmatch(r"\d+ match(es)?", page.text_content("#search-count") or "")
    page.screenshot(path=str(ARTIFACTS / "docs_search.png"))
    page.fill("#search", "order_total")
    assert all("order_total" in n for n in results.locator("a").all_text_contents())
    results.locator("a", has_text="marts.orders.order_total").first.click()
    assert page.evaluate("location.hash") == "#marts.orders"
    panel = page.locator('section.table[id="marts.orders"]')
    assert panel.is_visible() and "Compiled SQL" in panel.inner_text()
    assert page.locator("section.table:visible").count() == 1
    page.fill("#search", "zzz-no-such-thing")
    assert results.count() == 0 and page.text_content("#search-count") == "0 matches"


def test_focus_view_shows_only_upstream_and_downstream(docs_page):
    page, path = docs_page
    edges = page.eval_on_selector_all("path.edge", "ps => ps.map(p => [p.dataset.from, p.dataset.to])")
    assert len(edges) >= 40
    nodes = page.locator(".lineage a.node")
    total = nodes.count()
    assert page.locator(".lineage a.node:visible").count() == total
    assert page.eval_on_selector("marker#arrow", "m => m.querySelector('path').getBBox().width") == 8
    markers = page.eval_on_selector_all("path.edge", "ps => ps.map(p => getComputedStyle(p).markerEnd)")
    assert set(markers) == {'url("#arrow")'}  # every edge ends in the arrowhead
    expected = lineage_graph.neighbourhood([tuple(e) for e in edges], "marts.orders")
    page.goto(path.as_uri() + "#focus=marts.orders")
    page.wait_for_function("document.querySelector('.lineage a.node.off') !== null")
    visible = set(page.eval_on_selector_all(".lineage a.node:not(.off)", "ns => ns.map(n => n.dataset.id)"))
    assert visible == expected and len(visible) < total
    assert {"raw.raw_orders", "marts.order_items", "marts.customers", "metrics.monthly"} <= visible
    assert "marts.dim_location" not in visible and "report:customers" in visible
    shown = page.eval_on_selector_all(
        ".lineage path.edge:not(.off)", "ps => ps.map(p => [p.dataset.from, p.dataset.to])"
    )
    assert shown and all(a in expected and b in expected for a, b in shown)
    assert page.locator('section.table[id="marts.orders"]').is_visible()  # the panel comes with the focus
    assert page.input_value("#focus") == "marts.orders"
    page.locator(".lineage").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "docs_focus.png"))
    page.select_option("#focus", "staging.stg_locations")  # the select box focuses too
    page.wait_for_function("location.hash === '#focus=staging.stg_locations'")
    visible = set(page.eval_on_selector_all(".lineage a.node:not(.off)", "ns => ns.map(n => n.dataset.id)"))
    assert visible == lineage_graph.neighbourhood([tuple(e) for e in edges], "staging.stg_locations")
    assert "marts.orders" not in visible and "marts.dim_location" in visible
    page.click("#focus-clear")
    page.wait_for_function("document.querySelector('.lineage a.node.off') === null")
    page.click('.lineage a.node[data-id="marts.customers"]')  # clicking a box focuses on it
    page.wait_for_function("location.hash === '#focus=marts.customers'")
    assert page.locator(".lineage a.node:not(.off)").count() < total
