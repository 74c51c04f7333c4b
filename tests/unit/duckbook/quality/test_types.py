"""duckbook.quality.types: thresholds (parsing, defaults by severity, validation when a check is
built) and the two check kinds."""

from __future__ import annotations

import pytest

from duckbook.errors import ProjectError
from duckbook.quality.row_checks import in_range, not_null
from duckbook.quality.types import AggregateCheck, Check, CheckDeclarationError, RowCheck, exceeds, parse_threshold


def test_default_thresholds_follow_severity():
    assert not_null("t", "x").thresholds == (">0", None)
    assert not_null("t", "x", severity="warn").thresholds == (None, ">0")
    assert in_range("t", "x", min=0, warn_if="> 1").thresholds == (None, "> 1")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("> 10", (">", 10.0, False)),
        (">10", (">", 10.0, False)),
        (">= 0.5", (">=", 0.5, False)),
        ("  < -1  ", ("<", -1.0, False)),
        ("<=3", ("<=", 3.0, False)),
        ("> 1%", (">", 1.0, True)),
        (">= 12.5 %", (">=", 12.5, True)),
    ],
)
def test_parse_threshold_accepted_forms(text, parsed):
    assert parse_threshold(text) == parsed


@pytest.mark.parametrize(
    "text", ["", "10", "== 1", "!= 0", ">", "> x", "> 1e3", "> .5", "> 1%%", ">> 1", "=> 1", "> 1 2", None, 5]
)
def test_parse_threshold_rejects(text):
    with pytest.raises(ValueError, match="bad threshold"):
        parse_threshold(text)


def test_parse_threshold_error_message_lists_forms():
    with pytest.raises(ValueError) as exc:
        parse_threshold("== 1")
    assert str(exc.value) == "bad threshold '== 1': use '> N', '>= N', '< N', '<= N' or '> p%'"
    with pytest.raises(ValueError) as exc:
        parse_threshold("> 1%", allow_pct=False)
    assert str(exc.value) == "bad threshold '> 1%': use '> N', '>= N', '< N', '<= N'"


def test_check_construction_validates_thresholds():
    count = lambda t: t["t"].count()
    with pytest.raises(ValueError, match="bad threshold '> 1%'"):
        AggregateCheck(name="n", table="t", description="d", observe=count, unit="rows", error_if="> 1%")
    with pytest.raises(ValueError, match="bad threshold '> 1%'"):
        AggregateCheck(name="n", table="t", description="d", observe=count, unit="rows", warn_if="> 1%")
    with pytest.raises(ValueError, match="bad threshold 'over 3'"):
        in_range("t", "x", min=0, error_if="over 3")
    RowCheck(name="n", table="t", description="d", failing=lambda t: t["t"], error_if="> 1%")  # % is fine on rows


def test_check_construction_validates_severity():
    with pytest.raises(CheckDeclarationError) as exc:
        RowCheck(name="n", table="t", description="d", failing=lambda t: t["t"], severity="fatal")
    assert str(exc.value) == "check n: severity must be error or warn, not 'fatal'"


def test_the_base_check_is_not_a_check_kind():
    with pytest.raises(TypeError, match="build a RowCheck or an AggregateCheck"):
        Check(name="n", table="t", description="d")


def test_check_kinds_share_the_base_and_its_defaults():
    row = RowCheck(name="n", table="t", description="d", failing=lambda t: t["t"])
    value = AggregateCheck(name="m", table="t", description="d", observe=lambda t: t["t"].count(), unit="rows")
    assert isinstance(row, Check) and isinstance(value, Check)
    for check in (row, value):
        assert (check.column, check.severity, check.key, check.references) == (None, "error", (), ())
    with pytest.raises(TypeError):
        AggregateCheck(name="m", table="t", description="d", observe=lambda t: t["t"].count())  # unit is required


def test_declaration_errors_are_project_errors():
    # a bad declaration is a user error (exit 2), and still a ValueError for callers catching that
    assert issubclass(CheckDeclarationError, ProjectError)
    assert issubclass(CheckDeclarationError, ValueError)
    with pytest.raises(CheckDeclarationError):
        parse_threshold("lots")


@pytest.mark.parametrize(
    ("threshold", "value", "total", "crossed"),
    [
        (None, 100, None, False),
        ("> 2", 2, None, False),
        ("> 2", 3, None, True),
        (">= 2", 2, None, True),
        ("< 2", 1.5, None, True),
        ("<= 2", 2.5, None, False),
        ("> 10%", 1, 10, False),  # 10 % is not above 10 %
        ("> 10%", 2, 10, True),
        ("> 10%", 5, 0, False),  # no rows: 0 %
        ("> 10%", 5, None, False),
    ],
)
def test_exceeds(threshold, value, total, crossed):
    assert exceeds(threshold, value, total) is crossed
