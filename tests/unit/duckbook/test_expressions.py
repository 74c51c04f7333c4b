"""duckbook.expressions: safe Python-syntax expressions translated to Ibis, and what they refuse."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from duckbook.expressions import ExpressionError, names, to_ibis


@pytest.fixture
def t():
    return ibis.memtable(
        {
            "id": [1, 2, 3, 4],
            "a": [1, 5, None, -3],
            "b": [2.0, 0.5, 4.0, None],
            "s": ["x", "y", "z", None],
            "flag": [True, False, True, None],
            "at": [
                dt.datetime(2024, 1, 1, 9),
                dt.datetime(2024, 1, 2),
                dt.datetime(2024, 2, 1),
                dt.datetime(2024, 3, 1),
            ],
        }
    )


def values(t, text):
    """``text`` evaluated on every row of ``t``, in ``id`` order."""
    return t.order_by("id").select(v=to_ibis(text, t)).v.to_pyarrow().to_pylist()


def ids(t, text):
    """The ``id`` of the rows ``text`` keeps as a filter."""
    return sorted(t.filter(to_ibis(text, t)).id.to_pyarrow().to_pylist())


# --- translation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + 1", [2, 6, None, -2]),
        ("a - b", [-1.0, 4.5, None, None]),
        ("a * 2", [2, 10, None, -6]),
        ("a / 2", [0.5, 2.5, None, -1.5]),
        ("a % 2", [1, 1, None, -1]),  # DuckDB keeps the dividend's sign
        ("-a", [-1, -5, None, 3]),
        ("(a + 1) * 2", [4, 12, None, -4]),
        ("3", [3, 3, 3, 3]),
    ],
)
def test_arithmetic(t, text, expected):
    assert values(t, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a == 5", [2]),
        ("a != 5", [1, 4]),  # null is neither equal nor unequal
        ("a < 1", [4]),
        ("a <= 1", [1, 4]),
        ("a > 1", [2]),
        ("a >= 1", [1, 2]),
        ("b > a", [1]),  # two columns
        ("s == 'y'", [2]),
    ],
)
def test_comparisons(t, text, expected):
    assert ids(t, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a >= 1 and s == 'x'", [1]),
        ("a >= 5 or s == 'z'", [2, 3]),
        ("not flag", [2]),
        ("flag", [1, 3]),
        ("not (a > 1)", [1, 4]),
        ("a > 0 and b > 0 and s != 'y'", [1]),  # a chain of three
        ("a == 1 or a == 5 or a == -3", [1, 2, 4]),
    ],
)
def test_boolean_operators(t, text, expected):
    assert ids(t, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s in ('x', 'z')", [1, 3]),
        ("s in ['y']", [2]),  # a list works like a tuple
        ("s not in ('x', 'z')", [2]),  # null is not "not in" either
        ("a in (1, -3)", [1, 4]),
        ("s is None", [4]),
        ("a is None", [3]),
        ("a is not None", [1, 2, 4]),
    ],
)
def test_membership_and_null_checks(t, text, expected):
    assert ids(t, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("coalesce(a, 0)", [1, 5, 0, -3]),
        ("coalesce(b, a, 7)", [2.0, 0.5, 4.0, -3.0]),
        ("abs(a)", [1, 5, None, 3]),
        ("round(b / 3, 2)", [0.67, 0.17, 1.33, None]),
        ("round(b + 0.25)", [2.0, 1.0, 4.0, None]),  # no digits: to a whole number
    ],
)
def test_functions(t, text, expected):
    assert values(t, text) == expected


def test_a_timestamp_compares_with_an_iso_string(t):
    assert ids(t, "at >= '2024-01-02'") == [2, 3, 4]
    assert ids(t, "at < '2024-01-01 10:00:00'") == [1]
    assert ids(t, "at == '2024-02-01'") == [3]


def test_a_name_to_value_mapping_can_stand_for_the_table():
    """Metric formulas refer to other metrics' columns, given as a mapping."""
    t = ibis.memtable({"revenue": [10.0, 0.0], "orders": [4, 0]})
    expr = to_ibis("revenue / orders", {"revenue": t.revenue, "orders": t.orders})
    assert t.select(v=expr).v.to_pyarrow().to_pylist()[0] == 2.5
    with pytest.raises(ExpressionError, match=r"unknown name 'cost'.*available: orders, revenue"):
        to_ibis("revenue - cost", {"revenue": t.revenue, "orders": t.orders})


def test_surrounding_whitespace_is_ignored(t):
    assert ids(t, "  a == 5\n") == [2]


# --- refusals ---------------------------------------------------------------------------------


def test_an_unknown_name_lists_the_available_names(t):
    with pytest.raises(ExpressionError) as excinfo:
        to_ibis("amount > 1", t)
    message = str(excinfo.value)
    assert "unknown name 'amount'" in message
    assert "available: a, at, b, flag, id, s" in message


@pytest.mark.parametrize(
    "text",
    [
        "len(s)",  # a function that is not allowed
        "print(a)",
        "__import__('os').system('true')",
        "a.abs()",  # attribute access
        "s.upper",
        "(lambda: 1)()",
        "lambda x: x",
        "s[0]",  # subscript
        "[a, b]",
        "{'k': a}",
        "a if flag else b",
        "a ** 2",  # operators outside the allowed set
        "a // 2",
        "a & 1",
        "~flag",
        "1 < a < 5",  # chained comparisons
        "a in b",  # 'in' needs a literal tuple
        "a is b",
        "round(b, ndigits=1)",  # keyword arguments
        "f'{a}'",
        "b'x'",
    ],
)
def test_disallowed_constructs_are_refused(t, text):
    with pytest.raises(ExpressionError):
        to_ibis(text, t)


def test_the_refusal_names_the_offending_part(t):
    with pytest.raises(ExpressionError, match=r"not allowed in an expression: 'len\(s\)'"):
        to_ibis("a > 1 and len(s) > 1", t)
    with pytest.raises(ExpressionError, match=r"'in' needs a tuple of literals"):
        to_ibis("a in b", t)


@pytest.mark.parametrize("text", ["a >", "a = 1", "(a + 1", "", "import os", "a; b"])
def test_syntax_errors_are_expression_errors(t, text):
    with pytest.raises(ExpressionError, match="cannot parse expression"):
        to_ibis(text, t)


def test_expression_error_is_a_value_error():
    assert issubclass(ExpressionError, ValueError)


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("order_total >= 20", {"order_total"}),
        (
            "customer_order_number == 1 and location_name in ('Brooklyn', 'Chicago')",
            {"customer_order_number", "location_name"},
        ),
        ("coalesce(a, b) + abs(c) - round(d, 2)", {"a", "b", "c", "d"}),  # function names are not names
        ("(revenue - revenue_prev) / revenue_prev", {"revenue", "revenue_prev"}),
        ("1 + 2", set()),
        ("x is None", {"x"}),
    ],
)
def test_names(text, expected):
    assert names(text) == expected


def test_names_of_a_syntax_error_is_an_expression_error():
    with pytest.raises(ExpressionError):
        names("a >")
