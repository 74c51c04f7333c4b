"""The two kinds of check and what they share.

A :class:`RowCheck` returns the rows of its table that break its rule: the toolkit counts them
and keeps a sample of their keys. An :class:`AggregateCheck` observes one value (a row count,
hours since the newest row, a difference of totals) in a unit. Either is judged against
``error_if`` / ``warn_if`` thresholds; unset, the severity decides (error: ``error_if "> 0"``;
warn: ``warn_if "> 0"``). Checks say only what "bad" means, as Ibis expressions, so they run on
any Ibis backend; :mod:`duckbook.quality.evaluate` runs them.

>>> import ibis
>>> bad = lambda tables: tables["t"].filter(tables["t"].x <= 0)
>>> check = RowCheck(name="positive__t", table="t", description="x > 0", failing=bad)
>>> check.thresholds
('>0', None)
>>> check.failing({"t": ibis.memtable({"x": [1, -1]})}).count().to_pyarrow().as_py()
1
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping
from typing import ClassVar, Literal

import ibis.expr.types as ir

from duckbook.errors import ProjectError

Severity = Literal["error", "warn"]
#: Every table a check may read, by the name the check gives it (its table, its references).
Tables = Mapping[str, ir.Table]


class CheckDeclarationError(ProjectError):
    """A check is declared wrongly: an unknown type or argument, a missing argument, a value of the
    wrong kind, a bad threshold. The message names the file, table, column and check when known."""


_THRESHOLD = re.compile(r"^\s*(>=|>|<=|<)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def parse_threshold(text: object, *, allow_pct: bool = True) -> tuple[str, float, bool]:
    """Split a threshold into (operator, limit, is a percentage).

    Raises :class:`CheckDeclarationError` listing the accepted forms.

    >>> parse_threshold("> 10"), parse_threshold(">= 1.5%")
    (('>', 10.0, False), ('>=', 1.5, True))
    """
    m = _THRESHOLD.match(str(text))
    if not m or (m.group(3) and not allow_pct):
        raise CheckDeclarationError(
            f"bad threshold {text!r}: use '> N', '>= N', '< N', '<= N'" + (" or '> p%'" if allow_pct else "")
        )
    return m.group(1), float(m.group(2)), bool(m.group(3))


def exceeds(threshold: str | None, value: float, total: int | None) -> bool:
    """Whether ``value`` crosses ``threshold`` (no threshold: never); a percentage threshold
    compares ``value`` as a share of ``total`` rows (no rows: 0 %).

    >>> exceeds("> 10%", 2, 10), exceeds("> 10%", 1, 10), exceeds(None, 5, None)
    (True, False, False)
    """
    if threshold is None:
        return False
    op, limit, pct = parse_threshold(threshold)
    if pct:
        value = 100.0 * value / total if total else 0.0
    return _COMPARE[op](value, limit)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Check:
    """What every check has: a name, the table it guards, a severity and thresholds.

    Build a :class:`RowCheck` or an :class:`AggregateCheck`; this base only holds what they share.
    ``references`` are the other tables the check reads (a relationship's parent, a history
    table): whoever runs the check supplies them alongside ``table``.
    """

    name: str
    table: str
    description: str
    column: str | None = None
    severity: Severity = "error"
    # on the failing row count ("> 0", "> 10") or share of the table's rows ("> 1%") for row
    # checks, on the observed value for aggregate checks
    error_if: str | None = None
    warn_if: str | None = None
    key: tuple[str, ...] = ()  # columns shown in the sample of failing rows
    references: tuple[str, ...] = ()

    _allow_pct: ClassVar[bool] = False  # a percentage needs rows to be a share of

    def __post_init__(self) -> None:
        if type(self) is Check:
            raise TypeError("Check is the shared base: build a RowCheck or an AggregateCheck")
        if self.severity not in ("error", "warn"):
            raise CheckDeclarationError(f"check {self.name}: severity must be error or warn, not {self.severity!r}")
        for text in (self.error_if, self.warn_if):
            if text is not None:
                parse_threshold(text, allow_pct=self._allow_pct)

    @property
    def thresholds(self) -> tuple[str | None, str | None]:
        """(error_if, warn_if) with the severity's default filled in."""
        if self.error_if is None and self.warn_if is None:
            return (">0", None) if self.severity == "error" else (None, ">0")
        return self.error_if, self.warn_if


@dataclasses.dataclass(frozen=True, kw_only=True)
class RowCheck(Check):
    """A rule each row of ``table`` must follow: ``failing(tables)`` returns the rows breaking it
    (``tables`` holds ``table`` and the ``references`` by name)."""

    failing: Callable[[Tables], ir.Table]

    _allow_pct: ClassVar[bool] = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class AggregateCheck(Check):
    """A value observed on ``table`` (``observe(tables)``, in ``unit``), judged by thresholds.
    A null observation (nothing to observe, e.g. an empty table) fails an error check and warns
    a warn check."""

    observe: Callable[[Tables], ir.Scalar]
    unit: str  # what the observed value is in, for display ("rows", "hours"; "" for plain numbers)
