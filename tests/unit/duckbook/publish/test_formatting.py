"""Values, labels, periods and colours as a report shows them to people."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duckbook.errors import UserError
from duckbook.publish import formatting
from duckbook.publish.formatting import Column, Coverage, format_value, grain_for, heat, label

D = decimal.Decimal


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (1234.5, "currency", "$1,234.50"),
        (D("1234567.891"), "currency", "$1,234,567.89"),
        (-1234.5, "currency", "-$1,234.50"),
        (0.005, "currency", "$0.01"),  # half up, as people round (not to even)
        (-0.004, "currency", "$0.00"),  # no "-$0.00"
        (0.1234, "percent", "12.3%"),
        (-0.5, "percent", "-50.0%"),
        (1, "percent", "100.0%"),
        (0.131, "change", "+13.1%"),
        (-0.04, "change", "-4.0%"),
        (0.0, "change", "0.0%"),
        (1234567, "integer", "1,234,567"),
        (-1234, "integer", "-1,234"),
        (2.5, "integer", "3"),
        (1234.5678, "number", "1,234.57"),
        (dt.date(2019, 8, 11), "month", "Aug 2019"),
        (dt.datetime(2018, 12, 31, 23, 59), "month", "Dec 2018"),
        ("2019-08-11T10:00:00", "date", "2019-08-11"),
        ("a & b", "text", "a & b"),
        (True, "text", "yes"),
    ],
)
def test_values_are_formatted_for_people(value, fmt, expected):
    assert format_value(value, fmt) == expected


@pytest.mark.parametrize("missing", [None, float("nan"), D("NaN")])
@pytest.mark.parametrize("fmt", formatting.FORMATS)
def test_a_missing_value_is_a_dash_in_every_format(missing, fmt):
    assert format_value(missing, fmt) == "–"


def test_decimals_can_be_declared_per_column():
    assert format_value(0.12345, "percent", decimals=2) == "12.35%"
    assert format_value(12.5, "currency", decimals=0) == "$13"


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2))
def test_currency_always_reads_as_dollars_and_cents(amount):
    text = format_value(amount, "currency")
    assert text.lstrip("-").startswith("$")
    assert D(text.replace("$", "").replace(",", "")) == amount


def test_unknown_format_names_the_choices():
    with pytest.raises(UserError, match=r"unknown column format 'money': choose one of currency, percent, change"):
        Column("money")  # type: ignore[arg-type]
    with pytest.raises(formatting.FormatError, match="'August' is not a date"):
        format_value("August", "month")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("average_order_value", "Average order value"),
        ("growth_%", "Growth %"),
        ("revenue_growth_mom", "Revenue growth vs previous month"),
        ("product_id", "Product ID"),
        ("orders", "Orders"),
        ("__odd__name", "Odd name"),
    ],
)
def test_labels_are_readable(name, expected):
    assert label(name) == expected


def test_first_and_last_months_are_partial_when_the_data_does_not_cover_them():
    c = Coverage(dt.date(2019, 7, 22), dt.date(2019, 8, 11))
    assert [c.partial(m) for m in c.months()] == [True, True]
    assert c.note("2019-07-05") == "partial: data from 2019-07-22"
    assert c.note(dt.date(2019, 8, 1)) == "partial: data through 2019-08-11"
    assert c.latest_complete() is None
    assert not c.change_is_real(dt.date(2019, 8, 1))


def test_whole_months_are_not_partial_and_their_change_is_real():
    c = Coverage.of(dt.datetime(2018, 9, 1, 8), dt.datetime(2019, 8, 31, 20))
    assert len(c.months()) == 12 and not any(c.partial(m) for m in c.months())
    assert c.latest_complete() == dt.date(2019, 8, 1)
    assert c.change_is_real("2019-08-01") and not c.change_is_real("2018-09-01")  # the first has no month before


def test_a_single_partial_month_notes_both_ends():
    c = Coverage(dt.date(2019, 8, 5), dt.date(2019, 8, 20))
    assert c.months() == [dt.date(2019, 8, 1)]
    assert c.note(dt.date(2019, 8, 1)) == "partial: data from 2019-08-05 to 2019-08-20"


def test_the_month_after_a_partial_one_has_no_real_change():
    c = Coverage(dt.date(2019, 7, 22), dt.date(2019, 9, 30))
    assert [c.change_is_real(m) for m in c.months()] == [False, False, True]


def test_coverage_that_ends_before_it_starts_is_an_error():
    with pytest.raises(formatting.FormatError, match=r"coverage ends \(2019-01-01\) before it starts \(2019-02-01\)"):
        Coverage(dt.date(2019, 2, 1), dt.date(2019, 1, 1))


@pytest.mark.parametrize(
    ("first", "last", "grain"),
    [
        ("2019-07-22", "2019-08-11", "daily"),
        ("2019-01-01", "2019-03-03", "daily"),  # 62 days
        ("2019-01-01", "2019-03-04", "weekly"),
        ("2018-09-01", "2019-08-31", "weekly"),
        ("2017-09-01", "2019-08-31", "monthly"),
    ],
)
def test_the_chart_grain_keeps_points_apart(first, last, grain):
    assert grain_for(first, last) == grain


def test_heat_text_contrasts_with_its_background():
    assert heat(0.2, 0.2, 0.8) == ("#f7fbff", "#1f2328")
    background, text = heat(0.8, 0.2, 0.8)
    assert (background, text) == ("#08306b", "#ffffff")
    assert heat(0.5, 0.5, 0.5)[0] == "#f7fbff"  # no range: no division by zero
    assert heat(-1, 0, 1) == heat(0, 0, 1) and heat(2, 0, 1) == heat(1, 0, 1)  # clipped
    assert heat(float("nan"), 0, 1) == ("#ffffff", "#57606a")
