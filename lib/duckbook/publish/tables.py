"""A report's formatted tables and headline cards (in the kernel): declared column formats,
pivots with "not open" months, heat-map grids, partial months flagged.

Each display object has an HTML form for the page and a plain text form (what nbval compares)
showing the same formatted strings. Cell colours are inline styles computed here, so the page
needs no script.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from duckbook.publish.formatting import (
    NUMERIC,
    Column,
    Coverage,
    Format,
    FormatError,
    as_date,
    check_format,
    format_value,
    heat,
    is_missing,
    label,
    month_start,
    previous_month,
)

if TYPE_CHECKING:
    import polars as pl


@dataclasses.dataclass(frozen=True)
class Cell:
    """One table cell: its formatted ``text``, right-aligned when ``numeric``; ``flag`` is a
    short tag after the text (``partial``) explained by ``title``; ``css`` extra classes,
    ``style`` an inline style (heat-map colours)."""

    text: str
    numeric: bool = False
    flag: str | None = None
    title: str | None = None
    css: str = ""
    style: str = ""

    @property
    def plain(self) -> str:
        """The cell in the text form: the text and its flag in parentheses."""
        return f"{self.text} ({self.flag})" if self.flag else self.text

    def html(self, tag: str = "td") -> str:
        classes = " ".join(c for c in ("num" if self.numeric else "text", self.css) if c)
        attrs = f" class='{classes}'"
        attrs += f" style='{html.escape(self.style)}'" if self.style else ""
        attrs += f" title='{html.escape(self.title)}'" if self.title else ""
        flag = f" <span class='flag'>{html.escape(self.flag)}</span>" if self.flag else ""
        return f"<{tag}{attrs}>{html.escape(self.text)}{flag}</{tag}>"


@dataclasses.dataclass(frozen=True)
class Grid:
    """A formatted table: ``header`` cells over ``rows`` of cells (see :class:`Cell`)."""

    header: Sequence[Cell]
    rows: Sequence[Sequence[Cell]]
    css: str = "report-table"

    def _repr_html_(self) -> str:
        head = "".join(c.html("th") for c in self.header)
        body = "".join("<tr>" + "".join(c.html() for c in row) + "</tr>" for row in self.rows)
        return f"<table class='{self.css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        lines = [list(self.header), *self.rows]
        widths = [max(len(row[i].plain) for row in lines) for i in range(len(self.header))]

        def line(row: Sequence[Cell]) -> str:
            cells = [
                c.plain.rjust(w) if h.numeric else c.plain.ljust(w)
                for c, h, w in zip(row, self.header, widths, strict=True)
            ]
            return "  ".join(cells).rstrip()

        return "\n".join([line(self.header), "  ".join("-" * w for w in widths), *map(line, self.rows)])


def table(df: pl.DataFrame, formats: Mapping[str, Format | Column], *, coverage: Coverage | None = None) -> Grid:
    """``df`` as a formatted table, its columns in order.

    Parameters
    ----------
    df
        The rows to show, in the order given.
    formats
        A :data:`~duckbook.publish.formatting.Format` or :class:`~duckbook.publish.formatting.Column`
        per column; a column not named here is shown by its type (text, integer, number, date).
    coverage
        The days the data covers: the rows of a partial month (the first ``month`` column) are
        flagged, and their ``change`` cells (and those of the month after) say ``partial``
        instead of a change that compares part of a month.

    Raises
    ------
    FormatError
        If ``formats`` names a column ``df`` does not have, or an unknown format.
    """
    columns = _columns(df, formats)
    month = next((name for name, col in columns.items() if col.format == "month"), None)
    header = [Cell(col.label or label(name), numeric=col.format in NUMERIC) for name, col in columns.items()]
    rows = []
    for record in df.iter_rows(named=True):
        real = coverage is None or month is None or coverage.change_is_real(record[month])
        row = []
        for name, col in columns.items():
            value = record[name]
            cell = Cell(format_value(value, col.format, decimals=col.decimals), numeric=col.format in NUMERIC)
            if coverage is not None and name == month and (note := coverage.note(value)):
                cell = dataclasses.replace(cell, flag="partial", title=note)
            elif col.format == "change" and not real and not is_missing(value):
                cell = dataclasses.replace(cell, text="partial", css="na", title="compares a partial month")
            row.append(cell)
        rows.append(row)
    return Grid(header, rows)


def _columns(df: pl.DataFrame, formats: Mapping[str, Format | Column]) -> dict[str, Column]:
    unknown = [name for name in formats if name not in df.columns]
    if unknown:
        raise FormatError(
            f"formats name column(s) {', '.join(unknown)} not in the table (columns: {', '.join(df.columns)})"
        )
    declared = {
        name: spec if isinstance(spec, Column) else Column(check_format(spec)) for name, spec in formats.items()
    }
    return {name: declared.get(name) or Column(_by_type(df.schema[name])) for name in df.columns}


def _by_type(dtype: pl.DataType) -> Format:
    """The format of an undeclared column: by its type, never by its name."""
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "number"
    return "date" if dtype.is_temporal() else "text"


def pivot(
    df: pl.DataFrame,
    *,
    rows: str,
    columns: str,
    value: str,
    fmt: Format,
    opened: Mapping[str, object] | None = None,
    coverage: Coverage | None = None,
    total: str | None = None,
) -> Grid:
    """A long table of months (``rows``, any day of the month) by ``columns`` pivoted: a row per
    month (headed "Month"), a column per ``columns`` value, the cells ``value`` formatted as ``fmt``.

    A cell without a value shows ``not open`` for a month before the column's opening (its date
    in ``opened``, else its first month with a value) and zero after it, never a blank.

    Parameters
    ----------
    opened
        The opening date of each ``columns`` value (e.g. a store's ``opened_date``).
    coverage
        The days the data covers: every month it spans gets a row, partial months flagged.
    total
        The label of a last column summing each row (None: no total).
    """
    for name in (rows, columns, value):
        if name not in df.columns:
            raise FormatError(f"pivot column {name!r} is not in the table (columns: {', '.join(df.columns)})")
    cells = {(month_start(as_date(r)), c): v for r, c, v in df.select(rows, columns, value).iter_rows()}
    firsts: dict[str, dt.date] = {}
    for (month, key), v in sorted(cells.items()):
        if not is_missing(v):
            firsts.setdefault(key, month)
    keys = sorted(firsts)
    # a value before the declared opening (a late opening date) still counts as open
    opening = {
        k: min(firsts[k], month_start(as_date(opened[k]))) if opened and k in opened else firsts[k] for k in keys
    }
    months = coverage.months() if coverage else sorted({m for m, _ in cells})
    numeric = fmt in NUMERIC
    header = [Cell("Month"), *(Cell(str(k), numeric=True) for k in keys)]
    header += [Cell(total, numeric=True)] if total else []
    grid = []
    for month in months:
        note = coverage.note(month) if coverage else None
        row = [Cell(format_value(month, "month"), flag="partial" if note else None, title=note)]
        present = [cells.get((month, k)) for k in keys]
        for k, v in zip(keys, present, strict=True):
            if is_missing(v) and month < opening[k]:
                why = f"opened {as_date(opened[k])}" if opened and k in opened else "before its first value"
                row.append(Cell("not open", numeric=numeric, css="not-open", title=why))
            else:
                row.append(Cell(format_value(0 if is_missing(v) else v, fmt), numeric=numeric))
        if total:
            shown: list[Any] = [v for v in present if not is_missing(v)]
            row.append(Cell(format_value(sum(shown), fmt), numeric=numeric))
        grid.append(row)
    return Grid(header, grid)


def heatmap(
    df: pl.DataFrame,
    *,
    rows: str,
    columns: str,
    value: str,
    fmt: Format = "percent",
    sizes: str | None = None,
    column_label: str = "{}",
    scale: tuple[float, float] | None = None,
    coverage: Coverage | None = None,
) -> Grid:
    """A grid of ``value`` by ``rows`` (months) and ``columns`` with each cell's background
    coloured by its value (white at ``scale[0]``, dark blue at ``scale[1]``; default the values'
    range) and its text colour chosen for contrast. Cells without a value stay empty.

    Parameters
    ----------
    sizes
        A column shown after the row label, its first value per row (e.g. a cohort's size).
    column_label
        The header of each column, ``{}`` its value (e.g. ``"Month {}"``).
    coverage
        The days the data covers: partial row months are flagged.
    """
    cells = {(month_start(as_date(r)), c): v for r, c, v in df.select(rows, columns, value).iter_rows()}
    values = [float(v) for v in cells.values() if not is_missing(v)]
    low, high = scale or ((min(values), max(values)) if values else (0.0, 1.0))
    size_of = dict(df.select(rows, sizes).iter_rows()) if sizes else {}
    keys = sorted({c for _, c in cells})
    header = [Cell(label(rows))] + ([Cell(label(sizes), numeric=True)] if sizes else [])
    header += [Cell(column_label.format(c), numeric=True) for c in keys]
    grid = []
    for month in sorted({m for m, _ in cells}):
        note = coverage.note(month) if coverage else None
        row = [Cell(format_value(month, "month"), flag="partial" if note else None, title=note)]
        if sizes:
            size = next(v for r, v in size_of.items() if month_start(as_date(r)) == month)
            row.append(Cell(format_value(size, "integer"), numeric=True))
        for c in keys:
            v = cells.get((month, c))
            if is_missing(v):
                row.append(Cell("", numeric=True, css="na"))
                continue
            background, text = heat(v, low, high)
            row.append(
                Cell(format_value(v, fmt), numeric=True, css="heat", style=f"background:{background};color:{text}")
            )
        grid.append(row)
    return Grid(header, grid, css="report-table heatmap")


@dataclasses.dataclass(frozen=True)
class Card:
    """A headline figure: its label, formatted value, change line and its direction
    (``up``, ``down``, ``flat`` or ``na`` when no change is shown)."""

    label: str
    value: str
    change: str
    direction: str


@dataclasses.dataclass(frozen=True)
class Headline:
    """A row of :class:`Card` s under a caption naming the month they show."""

    caption: str
    cards: Sequence[Card]

    def _repr_html_(self) -> str:
        cards = "".join(
            f"<div class='kpi'><div class='kpi-label'>{html.escape(c.label)}</div>"
            f"<div class='kpi-value'>{html.escape(c.value)}</div>"
            f"<div class='kpi-change {c.direction}'>{html.escape(c.change)}</div></div>"
            for c in self.cards
        )
        return f"<p class='kpi-caption'>{html.escape(self.caption)}</p><div class='kpis'>{cards}</div>"

    def __repr__(self) -> str:
        return "\n".join([self.caption, *(f"{c.label}: {c.value} ({c.change})" for c in self.cards)])


_ARROWS = {"up": "▲", "down": "▼", "flat": "="}


def headline(
    df: pl.DataFrame, figures: Mapping[str, Format | Column], *, coverage: Coverage, period: str = "period"
) -> Headline:
    """Headline cards for the latest complete month of a monthly table (the latest month, flagged
    partial, when none is complete), each with its change against the month before.

    A change is shown only between two whole months; a percent figure changes in points, the
    others in percent of the previous month (none when that was zero or missing).

    Parameters
    ----------
    df
        One row per month: ``period`` (any day of the month) and the ``figures`` columns.
    figures
        The columns shown, in order, with their format (or :class:`Column`).
    coverage
        The days the data covers.

    Raises
    ------
    FormatError
        If ``df`` has no rows, or lacks ``period`` or a figure.
    """
    if period not in df.columns:
        raise FormatError(f"headline period column {period!r} is not in the table (columns: {', '.join(df.columns)})")
    columns = _columns(df, figures)
    by_month = {month_start(as_date(r[period])): r for r in df.iter_rows(named=True)}
    if not by_month:
        raise FormatError("headline figures need at least one month: the monthly table is empty")
    complete = coverage.latest_complete()
    month = complete if complete in by_month else max(by_month)
    before = previous_month(month)
    caption = _caption(month, coverage)
    cards = []
    for name in figures:
        col = columns[name]
        value, prior = by_month[month][name], by_month.get(before, {}).get(name)
        change, direction = _change(value, prior, col.format, month, coverage)
        cards.append(
            Card(col.label or label(name), format_value(value, col.format, decimals=col.decimals), change, direction)
        )
    return Headline(caption, cards)


def _caption(month: dt.date, coverage: Coverage) -> str:
    name = format_value(month, "month")
    if coverage.partial(month):
        return f"{name} so far ({coverage.note(month)}): no complete month yet, so no change is shown"
    last = month_start(coverage.last_day)
    if last == month:
        return f"{name}, the latest month, against {format_value(previous_month(month), 'month')}"
    return f"{name}, the latest complete month ({format_value(last, 'month')} is {coverage.note(last)})"


def _change(value: object, prior: object, fmt: Format, month: dt.date, coverage: Coverage) -> tuple[str, str]:
    """The change line of a card and its direction."""
    before = format_value(previous_month(month), "month")
    if coverage.partial(month):
        return "partial month", "na"
    if not coverage.change_is_real(month):
        first = month_start(coverage.first_day) == month
        return ("first month of the data: no change" if first else f"{before} is partial: no change shown"), "na"
    if is_missing(value) or is_missing(prior):
        return f"no value for {before}", "na"
    now, then = float(value), float(prior)  # type: ignore[arg-type]
    if fmt == "percent":
        delta, text = now - then, f"{abs(now - then) * 100:.1f} pts"
    elif then == 0:
        return f"{before} was 0: no % change", "na"
    else:
        delta = (now - then) / abs(then)
        text = format_value(abs(delta), "percent")
    direction = "flat" if round(delta, 3) == 0 else ("up" if delta > 0 else "down")
    return f"{_ARROWS[direction]} {text} vs {before}", direction
