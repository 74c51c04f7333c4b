"""The business report pages as a stakeholder sees them in Chromium: numbers formatted for
people and aligned, headline cards, pivots without blanks, the cohort heat map, partial months
flagged, no network request. Screenshots land in tests/artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401  (browser: the shared fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed: run `make browser` (apt-get install chromium)"
    ),
]

CURRENCY = re.compile(r"^-?\$[\d,]+\.\d{2}$")
#: Every table cell of the page: its text, class, horizontal alignment and background colour.
CELLS = """els => els.map(e => ({text: e.innerText.trim(), cls: e.className,
    align: getComputedStyle(e).textAlign, background: getComputedStyle(e).backgroundColor,
    header: e.closest('table').querySelector('thead').innerText, column: e.cellIndex,
    label: e.closest('table').querySelectorAll('thead th')[e.cellIndex].innerText.trim()}))"""


@pytest.fixture(scope="module")
def opened(run, browser):  # noqa: F811
    """Open a report page (name -> playwright page), failing on any request off the page."""
    pages = []

    def open_page(name: str):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((Path(run["reports"]) / f"{name}.html").as_uri(), wait_until="load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report_{name}.png"), full_page=True)
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], "network request from a report"
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


@pytest.mark.parametrize("name", ["overview", "customers"])
def test_numbers_are_formatted_and_aligned(opened, name):
    cells = opened(name).eval_on_selector_all(".report-table td", CELLS)
    assert cells
    for cell in cells:
        kind = "num" if "num" in cell["cls"].split() else "text"
        assert cell["align"] == ("right" if kind == "num" else "left"), cell
    money = [c["text"] for c in cells if re.search(r"Revenue|Gross profit|Average order value|Price|spend", c["label"])]
    shown = [t for t in money if t not in ("not open", "–", "partial")]
    assert shown and all(CURRENCY.match(t) for t in shown), shown
    percents = [c["text"] for c in cells if re.search(r"Share|Growth|Month \d", c["label"]) and c["text"]]
    assert percents and all(t.endswith("%") for t in percents if t not in ("–", "partial")), percents
    labels = opened(name).eval_on_selector_all(".report-table th", "els => els.map(e => e.innerText)")
    assert not [label for label in labels if "_" in label], labels  # readable labels, not column names


def test_overview_leads_with_headline_cards_and_their_change(opened):
    page = opened("overview")
    cards = page.eval_on_selector_all(
        ".kpi",
        "els => els.map(e => [e.querySelector('.kpi-label').innerText, e.querySelector('.kpi-value').innerText,"
        " e.querySelector('.kpi-change').innerText])",
    )
    assert [label for label, _, _ in cards] == [
        "Revenue",
        "Orders",
        "Average order value",
        "New customers",
        "Gross profit",
    ]
    assert CURRENCY.match(cards[0][1])
    # the sample's two months are both partial: no change is presented as real
    assert all(
        re.match(r"^(▲|▼|=) [\d.,]+(%| pts) vs \w{3} \d{4}$", change) or "partial" in change for *_, change in cards
    )
    first_table = page.eval_on_selector(".report-table", "e => e.getBoundingClientRect().top")
    assert page.eval_on_selector(".kpis", "e => e.getBoundingClientRect().top") < first_table


def test_overview_pivots_have_a_value_or_not_open_in_every_cell(opened):
    page = opened("overview")
    pivots = page.eval_on_selector_all(
        ".report-table",
        "ts => ts.filter(t => t.querySelector('thead').innerText.includes('All locations'))"
        ".map(t => [...t.querySelectorAll('tbody td')].map(td => td.innerText.trim()))",
    )
    assert len(pivots) == 2
    for cells in pivots:
        assert cells and all(cells), "a blank pivot cell"
        assert all(
            c == "not open" or re.match(r"^(\$[\d,]+\.\d{2}|[\d,]+)$", c) or re.match(r"^\w{3} \d{4}", c) for c in cells
        )


def test_partial_months_are_flagged(opened):
    page = opened("overview")
    flags = page.eval_on_selector_all(
        ".report-table .flag", "els => els.map(e => [e.innerText, e.parentElement.getAttribute('title')])"
    )
    assert flags and {text for text, _ in flags} == {"partial"}
    assert {title for _, title in flags} == {"partial: data from 2019-07-22", "partial: data through 2019-08-11"}
    growth = page.eval_on_selector_all(".report-table td.na", "els => els.map(e => e.innerText)")
    assert "partial" in growth  # August's growth against a partial July is not presented as real


def test_customers_cohort_grid_is_a_coloured_heat_map(opened):
    page = opened("customers")
    heat = page.eval_on_selector_all(".heatmap td.heat", CELLS)
    assert heat and all(c["text"].endswith("%") for c in heat)
    colours = {c["background"] for c in heat}
    assert all(c.startswith("rgb(") and c != "rgb(255, 255, 255)" for c in colours), colours
    flagged = page.eval_on_selector_all(".heatmap .flag", "els => els.map(e => e.innerText)")
    assert flagged == ["partial", "partial"]  # the sample's two cohort months are partial


def run_id(page) -> str:
    return page.inner_text(".run-meta code")


@pytest.mark.parametrize("name", ["overview", "customers"])
def test_header_says_how_to_reproduce_the_page(opened, name):
    page = opened(name)
    span = page.eval_on_selector("span.snapshot", "e => [e.getAttribute('data-duckbook-snapshot'), e.innerText]")
    # unknown while the run's report executes; the publication may fill it in
    assert span == ["", f"the snapshot run {run_id(page)} commits"] or span == [span[0], f"snapshot {span[0]}"], span
    assert page.inner_text(".reproduce").count(f"duckbook run --stage 50_report_{name} -p as_of=") == 1
