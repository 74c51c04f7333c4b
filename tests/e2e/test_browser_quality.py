"""The quality page and the reports index in a real headless browser (Debian's chromium via
Playwright): the verdict comes before any table, every check is collapsed in a <details>, no
PII value shows, no network request. A second run on the sample with defects (a quarantined
customer line carrying a name, a quarantined order line, stale data) shows the not-passing state.
Screenshots go to tests/artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, duckbook
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401 (the browser fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed: run `make browser` (apt-get install chromium)"
    ),
]
SECRET = "Quentin Quarantined-Secretname"
VERDICT_FIRST = """() => {
    const verdict = document.querySelector('.verdict'), table = document.querySelector('table');
    return !!verdict && !!table && !!(verdict.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING);
}"""


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with a broken customer line (a name in it) and a broken order line, run on a
    day long after its newest order: the freshness checks warn. Returns the reports directory."""
    base = tmp_path_factory.mktemp("quality-defects")
    src = base / "src"
    shutil.copytree(ROOT / "data" / "sample", src)
    with (src / "raw_customers.csv").open("a", encoding="utf-8") as f:
        f.write(f"c-broken,{SECRET},one field too many\n")
    with (src / "raw_orders.csv").open("a", encoding="utf-8") as f:
        f.write("o-broken,c1,not a time,s1,1,2,3\n")
    reports = base / "reports"
    args = ["--warehouse", str(base / "warehouse"), "--reports-dir", str(reports)]
    proc = duckbook("run", *args, "-p", f"source_dir={src}", "-p", "run_date=2019-09-30")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return reports


def sample_names() -> list[str]:
    with (ROOT / "data" / "sample" / "raw_customers.csv").open(encoding="utf-8") as f:
        return [row["name"] for row in csv.DictReader(f)]


def open_page(browser, path: Path, shot: str):  # noqa: F811
    assert path.stat().st_size < 1_000_000
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    assert problems == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], "network request from a published page"
    return page


def assert_collapsed_details(page) -> None:
    details = page.query_selector_all("details")
    assert len(details) == 1
    assert details[0].evaluate("d => d.open") is False
    assert details[0].query_selector("summary").inner_text().startswith("Every check (")
    assert not details[0].query_selector("table").is_visible()


def test_quality_page_of_a_clean_run(run, browser):  # noqa: F811
    page = open_page(browser, Path(run["reports"]) / "quality.html", "quality_clean")
    verdict = page.inner_text(".verdict")
    assert verdict.startswith("All ") and verdict.endswith(" checks pass")
    assert page.evaluate(VERDICT_FIRST)
    assert "Every check passed." in page.inner_text("main")
    assert_collapsed_details(page)
    html = page.content()
    assert [name for name in sample_names() if name in html] == []
    page.close()


def test_quality_page_leads_with_what_is_not_passing_and_hides_pii(defects, browser):  # noqa: F811
    page = open_page(browser, defects / "quality.html", "quality_not_passing")
    assert page.inner_text(".verdict") == "2 checks need attention: 2 warned"
    assert page.evaluate(VERDICT_FIRST)
    tables = page.query_selector_all("table")
    first = tables[0].inner_text()  # the checks not passing, the first table of the page
    assert "freshness__orders__ordered_at" in first and "freshness__raw_orders__ordered_at" in first
    assert "days old (warn after 2.0 days)" in first and "1 run" in first
    text = page.inner_text("main")
    assert "Stale sources" in text and "Newest data" in text
    quarantine = next(t.inner_text() for t in tables if "Example (first line)" in t.inner_text())
    customers = next(line for line in quarantine.splitlines() if line.startswith("raw_customers"))
    orders = next(line for line in quarantine.splitlines() if line.startswith("raw_orders"))
    assert "PII, hidden" in customers and "o-broken,c1,not a time" in orders
    html = page.content()
    assert SECRET not in html and "Secretname" not in html
    assert [name for name in sample_names() if name in html] == []
    assert_collapsed_details(page)
    page.close()


def test_index_is_the_entry_point(run, browser):  # noqa: F811
    reports = Path(run["reports"])
    page = open_page(browser, reports / "index.html", "index_entry_point")
    rows = page.query_selector_all("tbody tr")
    assert len(rows) == 3
    for row in rows:
        title = row.query_selector("td.report a")
        assert (reports / title.get_attribute("href")).is_file()
        assert len(row.query_selector(".description").inner_text()) > 20
        assert row.query_selector("td:nth-child(2)").inner_text() == "current"
    assert "What needs attention after this run" in page.inner_text("tbody")
    links = page.eval_on_selector_all(".links a", "els => els.map(e => e.getAttribute('href'))")
    assert links == ["runs.html", "docs/index.html"]
    assert all((reports / href).is_file() for href in links)
    page.close()
