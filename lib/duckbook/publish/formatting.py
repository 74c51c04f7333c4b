"""Numbers, labels, periods and colours for people: what a report's tables and headline cards show.

Pure functions (no polars, no IPython), so the same strings reach the HTML page and the text
output nbval compares. A column's format is declared (:data:`Format`), never guessed from its
name; its label defaults to :func:`label` of the name.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import decimal
import math
from typing import Literal, get_args

from duckbook.errors import UserError

#: How a column's values are shown. ``percent`` and ``change`` take fractions (0.123 -> 12.3%);
#: ``change`` is signed (a growth rate); ``month`` takes any day of the month.
Format = Literal["currency", "percent", "change", "integer", "number", "month", "date", "text"]
FORMATS: tuple[str, ...] = get_args(Format)
#: Formats whose cells are right-aligned numbers (tabular figures).
NUMERIC = frozenset({"currency", "percent", "change", "integer", "number"})
#: What a missing value (None, NaN) shows.
MISSING = "–"
_DECIMALS = {"currency": 2, "percent": 1, "change": 1, "integer": 0, "number": 2}
#: Words of a column name shown otherwise by :func:`label`.
WORDS = {"pct": "%", "mom": "vs previous month", "id": "ID", "qty": "quantity"}


class FormatError(UserError, ValueError):
    """A column format or a column named for formatting does not exist."""


@dataclasses.dataclass(frozen=True)
class Column:
    """How one column is shown: its :data:`Format`, its label (default :func:`label` of the
    name) and the digits after the decimal point (default: 2 for currency and numbers, 1 for
    percents, 0 for integers)."""

    format: Format = "text"
    label: str | None = None
    decimals: int | None = None

    def __post_init__(self) -> None:
        check_format(self.format)


def check_format(fmt: str) -> Format:
    """``fmt`` if it is one of :data:`FORMATS`, else :class:`FormatError` listing them."""
    if fmt not in FORMATS:
        raise FormatError(f"unknown column format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt  # type: ignore[return-value]


def label(name: str) -> str:
    """A readable label for a column name: words split on ``_``, :data:`WORDS` expanded, the
    first letter capitalised.

    >>> label("average_order_value"), label("growth_%"), label("revenue_growth_mom"), label("food_revenue_pct")
    ('Average order value', 'Growth %', 'Revenue growth vs previous month', 'Food revenue %')
    """
    text = " ".join(WORDS.get(word, word) for word in name.split("_") if word)
    return text[:1].upper() + text[1:]


def is_missing(value: object) -> bool:
    """None, a float NaN or a decimal NaN."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, decimal.Decimal) and value.is_nan()


def format_value(value: object, fmt: Format, *, decimals: int | None = None) -> str:
    """``value`` as a person reads it in a ``fmt`` column (:data:`MISSING` when missing).

    Examples
    --------
    >>> format_value(1234.5, "currency"), format_value(-0.004, "currency"), format_value(-12, "currency")
    ('$1,234.50', '$0.00', '-$12.00')
    >>> format_value(0.1234, "percent"), format_value(0.131, "change"), format_value(-0.04, "change")
    ('12.3%', '+13.1%', '-4.0%')
    >>> format_value(1234567, "integer"), format_value(2.5, "number", decimals=1), format_value(None, "integer")
    ('1,234,567', '2.5', '–')
    >>> format_value(dt.date(2019, 8, 11), "month"), format_value("2019-08-11T10:00:00", "date")
    ('Aug 2019', '2019-08-11')
    """
    if is_missing(value):
        return MISSING
    if fmt == "text":
        return ("yes" if value else "no") if isinstance(value, bool) else str(value)
    if fmt in ("month", "date"):
        day = as_date(value)
        return f"{calendar.month_abbr[day.month]} {day.year}" if fmt == "month" else day.isoformat()
    digits = _DECIMALS[check_format(fmt)] if decimals is None else decimals
    number = decimal.Decimal(str(value))
    if fmt in ("percent", "change"):
        number *= 100
    number = number.quantize(decimal.Decimal(1).scaleb(-digits), rounding=decimal.ROUND_HALF_UP)  # as people round
    sign = "-" if number < 0 else ("+" if fmt == "change" and number > 0 else "")
    text = f"{abs(number):,.{digits}f}"
    return {"currency": f"{sign}${text}", "percent": f"{sign}{text}%", "change": f"{sign}{text}%"}.get(
        fmt, f"{sign}{text}"
    )


def as_date(value: object) -> dt.date:
    """A date from a date, a datetime or ISO text (its first 10 characters).

    >>> as_date(dt.datetime(2019, 8, 11, 23, 0)), as_date("2019-08-01")
    (datetime.date(2019, 8, 11), datetime.date(2019, 8, 1))
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FormatError(f"{value!r} is not a date (expected a date, datetime or YYYY-MM-DD text)") from None


def month_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def previous_month(day: dt.date) -> dt.date:
    """The first day of the month before ``day``'s."""
    return month_start(month_start(day) - dt.timedelta(days=1))


@dataclasses.dataclass(frozen=True)
class Coverage:
    """The days the data covers (``first_day`` to ``last_day``, both included): which months it
    covers only in part, and which month-over-month changes are real.

    Examples
    --------
    >>> c = Coverage(dt.date(2019, 7, 22), dt.date(2019, 9, 30))
    >>> [m.isoformat() for m in c.months()], [c.partial(m) for m in c.months()]
    (['2019-07-01', '2019-08-01', '2019-09-01'], [True, False, False])
    >>> c.change_is_real(dt.date(2019, 8, 1)), c.change_is_real(dt.date(2019, 9, 1)), c.latest_complete()
    (False, True, datetime.date(2019, 9, 1))
    >>> c.note(dt.date(2019, 7, 1))
    'partial: data from 2019-07-22'
    """

    first_day: dt.date
    last_day: dt.date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise FormatError(f"coverage ends ({self.last_day}) before it starts ({self.first_day})")

    @classmethod
    def of(cls, first: object, last: object) -> Coverage:
        """The coverage from the first and last timestamps (or dates, ISO text) in the data."""
        return cls(as_date(first), as_date(last))

    def months(self) -> list[dt.date]:
        """The first day of every month from the first to the last, in order."""
        months, month = [], month_start(self.first_day)
        while month <= self.last_day:
            months.append(month)
            month = month_end(month) + dt.timedelta(days=1)
        return months

    def partial(self, month: object) -> bool:
        """Whether the data covers ``month`` (any day of it) only in part: the first month when
        the data starts after its 1st, the last when it ends before its last day."""
        start = month_start(as_date(month))
        starts_late = start == month_start(self.first_day) and self.first_day.day != 1
        ends_early = start == month_start(self.last_day) and self.last_day != month_end(self.last_day)
        return starts_late or ends_early

    def note(self, month: object) -> str | None:
        """Why ``month`` is partial (``"partial: data from ..."``, ``"... through ..."``), else None."""
        start = month_start(as_date(month))
        if not self.partial(start):
            return None
        first = self.first_day if start == month_start(self.first_day) else start
        last = self.last_day if start == month_start(self.last_day) else month_end(start)
        if first == start:
            return f"partial: data through {last}"
        return f"partial: data from {first}" + (f" to {last}" if last != month_end(start) else "")

    def change_is_real(self, month: object) -> bool:
        """Whether a change of ``month`` against the month before compares two whole months."""
        start = month_start(as_date(month))
        before = previous_month(start)
        return before >= month_start(self.first_day) and not self.partial(start) and not self.partial(before)

    def latest_complete(self) -> dt.date | None:
        """The last month the data covers whole (None if none)."""
        return next((m for m in reversed(self.months()) if not self.partial(m)), None)


Grain = Literal["daily", "weekly", "monthly"]


def grain_for(first: object, last: object, *, max_points: int = 62) -> Grain:
    """The finest of daily, weekly, monthly that draws at most ``max_points`` points over the
    span from ``first`` to ``last`` (a dense chart is unreadable and heavy).

    >>> grain_for("2019-07-22", "2019-08-11"), grain_for("2018-09-01", "2019-08-31"), grain_for("2016-09-01", "2019-08-31")
    ('daily', 'weekly', 'monthly')
    """
    days = (as_date(last) - as_date(first)).days + 1
    if days <= max_points:
        return "daily"
    return "weekly" if math.ceil(days / 7) + 1 <= max_points else "monthly"


#: The heat scale of :func:`heat`: white to dark blue (Vega's "blues" ends).
_LOW, _HIGH = (247, 251, 255), (8, 48, 107)


def heat(value: object, low: float, high: float) -> tuple[str, str]:
    """The background and text colour of a heat-map cell: ``value`` placed between ``low``
    (white) and ``high`` (dark blue), clipped; the text white where the background is dark
    (WCAG relative luminance), else near-black.

    >>> heat(0.0, 0.0, 1.0), heat(1.0, 0.0, 1.0), heat(5, 0, 1)[0], heat(None, 0, 1)
    (('#f7fbff', '#1f2328'), ('#08306b', '#ffffff'), '#08306b', ('#ffffff', '#57606a'))
    """
    if is_missing(value):
        return "#ffffff", "#57606a"
    span = high - low
    share = 0.0 if span <= 0 else min(max((float(value) - low) / span, 0.0), 1.0)  # type: ignore[arg-type]
    rgb = [round(a + (b - a) * share) for a, b in zip(_LOW, _HIGH, strict=True)]
    channels = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    # white text reads better than black below ~0.18 luminance (equal contrast ratios)
    text = "#ffffff" if luminance < 0.18 else "#1f2328"
    return "#{:02x}{:02x}{:02x}".format(*rgb), text
