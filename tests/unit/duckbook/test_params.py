"""duckbook.params: identifiers, tokens, dates, typed coercion and validation of NAME=VALUE pairs."""

from __future__ import annotations

import datetime as dt

import pytest

from duckbook.params import (
    ParameterError,
    coerce,
    parse_date,
    parse_timestamp,
    split_assignments,
    validate,
    validate_identifier,
    validate_token,
)

# --- validate_identifier -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["marts", "_private", "stg_orders2", "A"])
def test_validate_identifier_accepts(value):
    assert validate_identifier("schema", value) == value


@pytest.mark.parametrize("value", ["", "2fast", "x; drop table y", "a-b", "a.b", "class", "a b", "é"])
def test_validate_identifier_rejects(value):
    with pytest.raises(ParameterError, match=r"^schema: .* is not a valid identifier \(letters, digits and _ only\)$"):
        validate_identifier("schema", value)


def test_validate_identifier_extra_characters():
    assert validate_identifier("table", "raw.orders", extra=".") == "raw.orders"
    assert validate_identifier("table", "a-b.c", extra=".-") == "a-b.c"
    with pytest.raises(ParameterError, match=r"letters, digits and _ and \. only"):
        validate_identifier("table", "raw/orders", extra=".")


def test_validate_identifier_rejects_non_strings():
    with pytest.raises(ParameterError, match="^schema: 3 "):
        validate_identifier("schema", 3)


# --- validate_token ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["20240101T000000Z-ab12cd", "a", "0", "run_1.v2-x", "a" * 128])
def test_validate_token_accepts(value):
    assert validate_token("run_id", value) == value


@pytest.mark.parametrize("value", ["", "-a", ".hidden", "_x", "a/b", "../etc", "a b", "a" * 129, "a\n"])
def test_validate_token_rejects(value):
    with pytest.raises(ParameterError, match=r"^run_id: .* must be letters, digits"):
        validate_token("run_id", value)


def test_validate_token_rejects_non_strings():
    with pytest.raises(ParameterError, match="^run_id: None"):
        validate_token("run_id", None)


# --- parse_date / parse_timestamp ----------------------------------------------------------


def test_parse_date():
    assert parse_date("run_date", "2024-02-29") == dt.date(2024, 2, 29)
    assert parse_date("run_date", "today") == dt.date.today()
    assert parse_date("run_date", " Yesterday") == dt.date.today() - dt.timedelta(days=1)


def test_a_relative_date_parameter_reaches_the_notebook_as_an_iso_date():
    assert coerce("run_date", "yesterday", "str") == (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert coerce("run_date", "2024-01-02", "str") == "2024-01-02"


@pytest.mark.parametrize("value", ["2023-02-29", "tomorrow", "", None])
def test_parse_date_rejects(value):
    with pytest.raises(
        ParameterError, match=r"^run_date: .* is not a date \(expected YYYY-MM-DD, today or yesterday\)$"
    ):
        parse_date("run_date", value)


def test_parse_timestamp_naive_and_aware():
    assert parse_timestamp("cutoff_at", "2024-01-02T03:04:05") == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert parse_timestamp("cutoff_at", "2024-01-02") == dt.datetime(2024, 1, 2)
    # an offset is converted to naive UTC
    assert parse_timestamp("cutoff_at", "2024-01-02T03:00:00+02:00") == dt.datetime(2024, 1, 2, 1, 0)
    assert parse_timestamp("cutoff_at", "2024-01-02T03:00:00Z") == dt.datetime(2024, 1, 2, 3, 0)


@pytest.mark.parametrize("value", ["2024-13-01T00:00:00", "noon", "", None])
def test_parse_timestamp_rejects(value):
    with pytest.raises(ParameterError, match=r"^cutoff_at: .* is not a timestamp"):
        parse_timestamp("cutoff_at", value)


# --- coerce --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "type_name", "expected"),
    [
        ("3", "int", 3),
        ("-7", "int", -7),
        ("2.5", "float", 2.5),
        ("4", "float", 4.0),
        ("true", "bool", True),
        ("Yes", "bool", True),
        (" 1 ", "bool", True),
        ("false", "bool", False),
        ("no", "bool", False),
        ("0", "bool", False),
        ("hello", "str", "hello"),
        ("hello", "", "hello"),
        ("hello", " str ", "hello"),
    ],
)
def test_coerce_values(raw, type_name, expected):
    value = coerce("p", raw, type_name)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("raw", "type_name"), [("3.5", "int"), ("x", "int"), ("abc", "float"), ("maybe", "bool")])
def test_coerce_rejects_bad_values(raw, type_name):
    with pytest.raises(ParameterError, match=rf"^p: '{raw}' is not a valid {type_name}$"):
        coerce("p", raw, type_name)


def test_coerce_rejects_types_that_cannot_come_from_the_command_line():
    with pytest.raises(
        ParameterError, match=r"^p: the notebook declares type 'list', which cannot be set from the command line$"
    ):
        coerce("p", "[1, 2]", "list")


def test_coerce_checks_date_and_timestamp_names():
    assert coerce("run_date", "2024-01-31", "str") == "2024-01-31"  # stays a string
    assert coerce("cutoff_at", "2024-01-31T10:00:00", "str") == "2024-01-31T10:00:00"
    assert coerce("run_date", "", "str") == ""  # empty means "not given"
    with pytest.raises(ParameterError, match=r"^run_date: '2024-01-32' is not a date"):
        coerce("run_date", "2024-01-32", "str")
    with pytest.raises(ParameterError, match=r"^cutoff_at: 'later' is not a timestamp"):
        coerce("cutoff_at", "later", "str")


# --- validate ------------------------------------------------------------------------------

DECLARED = {
    "10_ingest.ipynb": {"run_date": "str", "years": "int"},
    "20_staging.ipynb": {"threads": "int", "strict": "bool", "years": "int"},
}


def test_validate_types_every_value():
    assert validate({"years": "2", "strict": "no", "run_date": "2024-01-01"}, DECLARED) == {
        "years": 2,
        "strict": False,
        "run_date": "2024-01-01",
    }


def test_validate_nothing_given():
    assert validate({}, DECLARED) == {}


def test_validate_unknown_name_lists_declared_names():
    with pytest.raises(ParameterError) as exc:
        validate({"yeras": "2"}, DECLARED)
    assert str(exc.value) == (
        "invalid parameter(s):\n- -p: unknown parameter 'yeras'; did you mean years? choose from: run_date, strict, threads, years"
    )


def test_validate_bad_type():
    with pytest.raises(ParameterError, match=r"- years: 'two' is not a valid int"):
        validate({"years": "two"}, DECLARED)


def test_validate_reports_every_error_at_once():
    given = {"years": "two", "bogus": "1", "x-y": "1", "class": "1", "run_date": "2024-99-01", "strict": "yes"}
    with pytest.raises(ParameterError) as exc:
        validate(given, DECLARED)
    lines = str(exc.value).splitlines()
    assert lines[0] == "invalid parameter(s):"
    assert lines[1:] == [
        "- years: 'two' is not a valid int",
        "- -p: unknown parameter 'bogus'; choose from: run_date, strict, threads, years",
        "- 'x-y' is not a valid parameter name",
        "- 'class' is not a valid parameter name",
        "- run_date: '2024-99-01' is not a date (expected YYYY-MM-DD, today or yesterday)",
    ]


def test_validate_first_declaration_of_a_name_wins():
    declared = {"a.ipynb": {"n": "int"}, "b.ipynb": {"n": "str"}}
    assert validate({"n": "5"}, declared) == {"n": 5}


# --- split_assignments ---------------------------------------------------------------------


def test_split_assignments():
    assert split_assignments(["a=1", " b =x", "c=", "d=e=f"]) == {"a": "1", "b": "x", "c": "", "d": "e=f"}
    assert split_assignments([]) == {}


def test_split_assignments_later_pair_wins():
    assert split_assignments(["a=1", "a=2"]) == {"a": "2"}


def test_split_assignments_rejects_pair_without_equals():
    with pytest.raises(ParameterError, match=r"^parameter 'years' must be written NAME=VALUE$"):
        split_assignments(["a=1", "years"])


def test_parameter_error_is_a_value_error():
    assert issubclass(ParameterError, ValueError)
