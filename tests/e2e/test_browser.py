"""The published pages in a real headless browser (Debian's chromium via Playwright): every
chart renders, no console errors, no network request, no PII. Screenshots are kept in
tests/artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "tests" / "artifacts" / "screenshots"
PAGES = {
    "index": 0,
    "overview": 5,
    "customers": 3,
    "quality": 1,
    "runs": 0,
    "docs/index": 0,
}  # page -> charts (SVG images)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed: run `make browser` (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_offline_without_errors(run, browser, name):
    path = Path(run["reports"]) / f"{name}.html"
    assert path.stat().st_size < 1_000_000
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(path.as_uri(), wait_until="load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name.replace('/', '_')}.png"), full_page=True)
    assert problems == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], "network request from a published page"
    charts = page.eval_on_selector_all(
        "img[src^='data:image/svg+xml']", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])"
    )
    assert len(charts) == PAGES[name]
    assert all(done and w > 100 and h > 100 for done, w, h in charts), charts
    if name == "docs/index":
        box = page.eval_on_selector(
            ".lineage svg",
            "e => { const b = e.getBBox(); return [b.width, b.height, e.querySelectorAll('path').length]; }",
        )
        assert box[0] > 500 and box[1] > 100 and box[2] >= 20, box
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert all(not h.startswith(("http:", "https:", "//")) for h in links)
    page.close()


def test_no_customer_name_is_published(run):
    """PII: not one customer name of the sample appears on any published page, docs included."""
    with open(ROOT / "data" / "sample" / "raw_customers.csv", newline="") as f:
        names = {row["name"] for row in csv.DictReader(f)}
    for name in PAGES:
        text = (Path(run["reports"]) / f"{name}.html").read_text()
        leaked = [n for n in names if n in text]
        assert leaked == [], f"{name}.html shows customer names: {leaked[:3]}"
