"""A report's formatted tables, pivots, heat maps and headline cards: HTML and text forms."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import polars as pl
import pytest

from duckbook.errors import UserError
from duckbook.publish import page, tables
from duckbook.publish.formatting import Column, Coverage

JUL, AUG, SEP, OCT = (dt.date(2019, m, 1) for m in (7, 8, 9, 10))
WHOLE = Coverage(JUL, dt.date(2019, 10, 31))  # four whole months


def cells(grid: tables.Grid) -> list[list[str]]:
    return [[c.plain for c in row] for row in grid.rows]


def monthly(**columns: list[object]) -> pl.DataFrame:
    months = [JUL, AUG, SEP, OCT][: len(next(iter(columns.values())))]
    return pl.DataFrame({"period": months, **columns})


def test_declared_formats_labels_and_alignment():
    df = pl.DataFrame(
        {"month": [JUL], "store": ["Brooklyn & co"], "revenue": [D("1234.5")], "share": [0.123], "n": [1200]}
    )
    grid = page.table(df, {"month": "month", "revenue": "currency", "share": Column("percent", "Food share")})
    assert [c.text for c in grid.header] == ["Month", "Store", "Revenue", "Food share", "N"]
    assert cells(grid) == [["Jul 2019", "Brooklyn & co", "$1,234.50", "12.3%", "1,200"]]
    html = grid._repr_html_()
    assert "<th class='text'>Store</th><th class='num'>Revenue</th>" in html
    assert "<td class='text'>Brooklyn &amp; co</td><td class='num'>$1,234.50</td>" in html


def test_undeclared_columns_are_shown_by_type_not_name():
    df = pl.DataFrame({"revenue_pct": [0.5], "count": [3], "day": [dt.date(2019, 8, 1)], "name": ["x"]})
    assert cells(tables.table(df, {})) == [["0.50", "3", "2019-08-01", "x"]]


def test_text_form_shows_the_formatted_values_aligned():
    df = pl.DataFrame({"product": ["tea", "doctor stew"], "revenue": [5.0, -1234.5]})
    assert repr(tables.table(df, {"revenue": "currency"})) == (
        "Product         Revenue\n-----------  ----------\ntea               $5.00\ndoctor stew  -$1,234.50"
    )


def test_partial_months_are_flagged_and_their_growth_is_not_presented_as_real():
    df = monthly(revenue=[100.0, 150.0, 160.0], growth=[None, 0.5, 0.0667])
    coverage = Coverage(dt.date(2019, 7, 22), dt.date(2019, 9, 30))
    grid = tables.table(df, {"period": "month", "revenue": "currency", "growth": "change"}, coverage=coverage)
    assert cells(grid) == [
        ["Jul 2019 (partial)", "$100.00", "–"],
        ["Aug 2019", "$150.00", "partial"],  # against a partial July
        ["Sep 2019", "$160.00", "+6.7%"],
    ]
    html = grid._repr_html_()
    assert "title='partial: data from 2019-07-22'>Jul 2019 <span class='flag'>partial</span>" in html
    assert "<td class='num na' title='compares a partial month'>partial</td>" in html


def test_formats_naming_a_missing_column_or_format_fail_with_the_choices():
    df = pl.DataFrame({"revenue": [1.0]})
    with pytest.raises(UserError, match=r"formats name column\(s\) revenu not in the table \(columns: revenue\)"):
        tables.table(df, {"revenu": "currency"})
    with pytest.raises(UserError, match="unknown column format 'dollars': choose one of currency"):
        tables.table(df, {"revenue": "dollars"})  # type: ignore[dict-item]


def test_pivot_shows_not_open_before_a_store_opened_mid_range_and_never_a_blank():
    df = pl.DataFrame(
        {
            "period": [JUL, AUG, SEP, SEP, OCT],
            "location": ["Philadelphia", "Philadelphia", "Philadelphia", "Brooklyn", "Brooklyn"],
            "revenue": [10.0, 20.0, 30.0, 5.0, 7.5],
        }
    )
    opened = {"Brooklyn": dt.datetime(2019, 9, 12), "Philadelphia": dt.datetime(2018, 9, 1)}
    grid = tables.pivot(
        df, rows="period", columns="location", value="revenue", fmt="currency", opened=opened, total="All locations"
    )
    assert [c.text for c in grid.header] == ["Month", "Brooklyn", "Philadelphia", "All locations"]
    assert cells(grid) == [
        ["Jul 2019", "not open", "$10.00", "$10.00"],
        ["Aug 2019", "not open", "$20.00", "$20.00"],
        ["Sep 2019", "$5.00", "$30.00", "$35.00"],
        ["Oct 2019", "$7.50", "$0.00", "$7.50"],  # open, no orders: zero, not blank
    ]
    assert "<td class='num not-open' title='opened 2019-09-12'>not open</td>" in grid._repr_html_()


def test_pivot_without_opening_dates_opens_a_column_at_its_first_value_and_covers_every_month():
    df = pl.DataFrame({"period": [JUL, OCT], "location": ["A", "B"], "orders": [3, 4]})
    coverage = Coverage(dt.date(2019, 7, 2), dt.date(2019, 10, 31))
    grid = tables.pivot(df, rows="period", columns="location", value="orders", fmt="integer", coverage=coverage)
    assert cells(grid) == [
        ["Jul 2019 (partial)", "3", "not open"],
        ["Aug 2019", "0", "not open"],
        ["Sep 2019", "0", "not open"],
        ["Oct 2019", "0", "4"],
    ]


def test_pivot_names_a_missing_column():
    with pytest.raises(UserError, match=r"pivot column 'store' is not in the table \(columns: period, orders\)"):
        tables.pivot(
            pl.DataFrame({"period": [JUL], "orders": [1]}),
            rows="period",
            columns="store",
            value="orders",
            fmt="integer",
        )


def test_heatmap_colours_cells_inline_and_leaves_unobserved_cells_empty():
    df = pl.DataFrame(
        {
            "cohort_month": [JUL, JUL, AUG],
            "months_since_first": [0, 1, 0],
            "retained": [1.0, 0.25, 1.0],
            "cohort_size": [80, 80, 1200],
        }
    )
    grid = tables.heatmap(
        df, rows="cohort_month", columns="months_since_first", value="retained", sizes="cohort_size",
        column_label="Month {}", scale=(0.0, 0.5),
    )  # fmt: skip
    assert [c.text for c in grid.header] == ["Cohort month", "Cohort size", "Month 0", "Month 1"]
    assert cells(grid) == [["Jul 2019", "80", "100.0%", "25.0%"], ["Aug 2019", "1,200", "100.0%", ""]]
    html = grid._repr_html_()
    assert html.startswith("<table class='report-table heatmap'>")
    styles = re.findall(r"style='background:(#[0-9a-f]{6});color:(#[0-9a-f]{6})'", html)
    assert styles[0] == ("#08306b", "#ffffff")  # 100% at the top of the scale: dark, white text
    assert styles[1][1] == "#1f2328"  # 25%: mid blue, dark text
    assert "<td class='num na'></td>" in html


def test_headline_shows_the_latest_whole_month_against_the_one_before():
    df = monthly(revenue=[D("100"), D("150"), D("120"), D("10")], share=[0.3, 0.4, 0.45, 0.5])
    coverage = Coverage(JUL, dt.date(2019, 10, 9))  # October is partial
    shown = tables.headline(df, {"revenue": "currency", "share": Column("percent", "Food share")}, coverage=coverage)
    assert shown.caption == "Sep 2019, the latest complete month (Oct 2019 is partial: data through 2019-10-09)"
    assert [(c.label, c.value, c.change, c.direction) for c in shown.cards] == [
        ("Revenue", "$120.00", "▼ 20.0% vs Aug 2019", "down"),
        ("Food share", "45.0%", "▲ 5.0 pts vs Aug 2019", "up"),  # a percent changes in points
    ]
    html = shown._repr_html_()
    assert "<div class='kpi-value'>$120.00</div><div class='kpi-change down'>▼ 20.0% vs Aug 2019</div>" in html
    assert repr(shown).splitlines()[1] == "Revenue: $120.00 (▼ 20.0% vs Aug 2019)"


def test_headline_against_a_zero_or_missing_previous_month_shows_no_change():
    df = monthly(revenue=[0.0, 150.0], orders=[None, 3])
    shown = tables.headline(
        df, {"revenue": "currency", "orders": "integer"}, coverage=Coverage(JUL, dt.date(2019, 8, 31))
    )
    assert [(c.change, c.direction) for c in shown.cards] == [
        ("Jul 2019 was 0: no % change", "na"),
        ("no value for Jul 2019", "na"),
    ]


def test_headline_of_a_single_partial_month_flags_it_and_shows_no_change():
    df = monthly(revenue=[99.5])
    shown = tables.headline(df, {"revenue": "currency"}, coverage=Coverage(dt.date(2019, 7, 22), dt.date(2019, 7, 30)))
    assert shown.caption == (
        "Jul 2019 so far (partial: data from 2019-07-22 to 2019-07-30): no complete month yet, so no change is shown"
    )
    assert [(c.value, c.change) for c in shown.cards] == [("$99.50", "partial month")]


def test_headline_of_a_single_whole_month_and_after_a_partial_one():
    one = tables.headline(monthly(orders=[5]), {"orders": "integer"}, coverage=Coverage(JUL, dt.date(2019, 7, 31)))
    assert one.cards[0].change == "first month of the data: no change"
    after = tables.headline(
        monthly(orders=[5, 6]), {"orders": "integer"}, coverage=Coverage(dt.date(2019, 7, 9), dt.date(2019, 8, 31))
    )
    assert (after.caption, after.cards[0].change) == (
        "Aug 2019, the latest month, against Jul 2019",
        "Jul 2019 is partial: no change shown",
    )


def test_headline_of_an_empty_table_or_without_its_period_fails_clearly():
    empty = pl.DataFrame({"period": [], "revenue": []}, schema={"period": pl.Date, "revenue": pl.Float64})
    with pytest.raises(UserError, match="headline figures need at least one month"):
        tables.headline(empty, {"revenue": "currency"}, coverage=WHOLE)
    with pytest.raises(
        UserError, match=r"headline period column 'month' is not in the table \(columns: period, revenue\)"
    ):
        tables.headline(monthly(revenue=[1.0]), {"revenue": "currency"}, coverage=WHOLE, period="month")
