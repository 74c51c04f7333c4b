"""duckbook.quality.row_checks: every row check type passing and failing at its boundaries, its
name, description and references; the ingest reconciliation."""

from __future__ import annotations

import datetime as dt
import re

import ibis
import pytest

from duckbook.quality.evaluate import run_checks
from duckbook.quality.row_checks import (
    accepted_values,
    column_type,
    date_window,
    expression,
    in_range,
    ingest_reconciliation,
    not_null,
    regex,
    relationship,
    required_columns,
    unique,
)
from duckbook.quality.types import CheckDeclarationError, RowCheck
from tests.unit.helpers import check_outcome, check_result

NOW = dt.datetime(2024, 1, 31, 23, 59, 59)


result, outcome = check_result, check_outcome


def ints(*values):
    return ibis.memtable({"x": list(values)}, schema={"x": "int64"})


def summary(check, tables):
    row = result(check, tables)
    return row["failing_rows"], row["status"], row["failing_sample"]


# --- not_null ------------------------------------------------------------------------------


def test_not_null_pass(tables):
    assert summary(not_null("orders", "order_id"), tables) == (0, "pass", "")


def test_not_null_fail(tables):
    check = not_null("customers", "customer_type")
    assert check.name == "not_null__customers__customer_type"
    assert summary(check, tables) == (1, "fail", "")  # not_null has no key, so no sample


def test_not_null_warn(tables):
    assert summary(not_null("orders", "customer_id", severity="warn"), tables) == (1, "warn", "")


# --- unique --------------------------------------------------------------------------------


def test_unique_single_pass(tables):
    assert summary(unique("orders", "order_id"), tables) == (0, "pass", "")


def test_unique_single_fail_counts_every_copy_and_ignores_nulls(tables):
    # order_id: o1 x2, o2 x3, NULL x1 -> 5 failing rows, the null is not a duplicate
    check = unique("lines", "order_id")
    assert check.name == "unique__lines__order_id"
    assert summary(check, tables) == (5, "fail", "o1; o2")


def test_unique_composite_pass(tables):
    ok = {"t": ibis.memtable({"a": ["x", "x", "y"], "b": [1, 2, 1]})}
    assert summary(unique("t", "a", "b"), ok) == (0, "pass", "")


def test_unique_composite_fail(tables):
    check = unique("lines", "order_id", "line_no")
    assert check.name == "unique__lines__order_id__line_no"
    row = result(check, tables)
    assert row["column_name"] == "order_id, line_no"
    assert (row["failing_rows"], row["status"], row["failing_sample"]) == (2, "fail", "o2, 1")


def test_unique_warn(tables):
    assert summary(unique("lines", "order_id", severity="warn"), tables)[:2] == (5, "warn")


# --- accepted_values -----------------------------------------------------------------------


def test_accepted_values_pass_nulls_allowed(tables):
    assert summary(accepted_values("customers", "customer_type", ["new", "returning"]), tables) == (0, "pass", "")


def test_accepted_values_fail(tables):
    check = accepted_values("customers", "customer_type", ["new"])
    assert check.name == "accepted_values__customers__customer_type"
    assert check.description == "customers.customer_type in ['new']"
    assert summary(check, tables) == (1, "fail", "")


def test_accepted_values_warn(tables):
    assert summary(accepted_values("customers", "customer_type", [], severity="warn"), tables) == (2, "warn", "")


# --- relationship --------------------------------------------------------------------------


def test_relationship_pass(tables):
    assert summary(relationship("lines", "order_id", "orders", "order_id"), tables) == (0, "pass", "")


def test_relationship_fail_lists_orphans_and_ignores_nulls(tables):
    check = relationship("orders", "customer_id", "customers", "customer_id")
    assert check.name == "relationship__orders__customer_id__customers"
    assert summary(check, tables) == (2, "fail", "c8; c9")


def test_relationship_with_differently_named_field(tables):
    t = {**tables, "people": ibis.memtable({"id": ["c1", "c2", "c8", "c9"]})}
    assert summary(relationship("orders", "customer_id", "people", "id"), t) == (0, "pass", "")


def test_relationship_warn(tables):
    check = relationship("orders", "customer_id", "customers", "customer_id", severity="warn")
    assert summary(check, tables) == (2, "warn", "c8; c9")


# --- expression ----------------------------------------------------------------------------


def total_rule(t):
    return t.total == t.subtotal + t.tax


def test_expression_fail_null_counts_as_passing(tables):
    # o3: 30 != 33 fails; o5 has a null tax, so the rule is null and passes
    check = expression("orders", "total_is_subtotal_plus_tax", total_rule, "total = subtotal + tax")
    assert check.name == "total_is_subtotal_plus_tax__orders"
    row = result(check, tables)
    assert (row["failing_rows"], row["status"], row["failing_sample"], row["column_name"]) == (1, "fail", "", None)
    assert row["description"] == "total = subtotal + tax"


def test_expression_pass(tables):
    check = expression("orders", "total_at_least_subtotal", lambda t: t.total >= t.subtotal, "total >= subtotal")
    assert summary(check, tables) == (0, "pass", "")


def test_expression_with_where_only_looks_at_matching_rows(tables):
    check = expression("orders", "r", total_rule, "d", where=lambda t: t.subtotal > 30)
    assert summary(check, tables) == (0, "pass", "")
    check = expression("orders", "r", total_rule, "d", where=lambda t: t.subtotal >= 30)
    assert summary(check, tables) == (1, "fail", "")


def test_expression_warn(tables):
    assert summary(expression("orders", "r", total_rule, "d", severity="warn"), tables) == (1, "warn", "")


# --- in_range ------------------------------------------------------------------------------


@pytest.fixture
def numbers():
    return {"t": ints(0, 5, 10, None)}


def test_range_pass_bounds_are_inclusive_and_nulls_pass(numbers):
    check = in_range("t", "x", min=0, max=10)
    assert (check.name, check.column, check.description) == ("range__t__x__min_0__max_10", "x", "t.x within [0, 10]")
    assert outcome(check, numbers) == (0, None, "error if >0", "pass")


@pytest.mark.parametrize(
    ("bounds", "failing"),
    [({"min": 1}, 1), ({"max": 9}, 1), ({"min": 1, "max": 9}, 2), ({"min": 0.5, "max": 9.5}, 2), ({"min": 11}, 3)],
)
def test_range_fail(numbers, bounds, failing):
    assert outcome(in_range("t", "x", **bounds), numbers) == (failing, None, "error if >0", "fail")


def test_range_warn_and_description_of_one_bound(numbers):
    check = in_range("t", "x", max=9, severity="warn")
    assert check.description == "t.x within [None, 9]"
    assert outcome(check, numbers) == (1, None, "warn if >0", "warn")


# --- regex ---------------------------------------------------------------------------------


def test_regex_pass_full_match_nulls_pass():
    t = {"t": ibis.memtable({"sku": ["JAF-001", "BEV-123", None]}, schema={"sku": "string"})}
    check = regex("t", "sku", "(JAF|BEV)-[0-9]{3}")
    assert (check.name, check.description) == ("regex__t__sku", "t.sku matches /(JAF|BEV)-[0-9]{3}/")
    assert outcome(check, t) == (0, None, "error if >0", "pass")


def test_regex_fail_must_match_the_whole_value():
    # "JAF-0012" and "xJAF-001" contain a match but do not match as a whole
    t = {"t": ibis.memtable({"sku": ["JAF-001", "JAF-0012", "xJAF-001", "jaf-001"]})}
    assert outcome(regex("t", "sku", "(JAF|BEV)-[0-9]{3}"), t) == (3, None, "error if >0", "fail")


def test_regex_anchors_the_whole_alternation():
    # anchored as ^(?:a|b)$, not ^a|b$ (which would accept "ab" and "ba")
    t = {"t": ibis.memtable({"c": ["a", "b", "ab", "ba"]})}
    assert outcome(regex("t", "c", "a|b"), t) == (2, None, "error if >0", "fail")


def test_regex_non_string_column_is_matched_as_text():
    assert outcome(regex("t", "x", "[0-9]"), {"t": ints(1, 5, 10, None)}) == (1, None, "error if >0", "fail")


def test_regex_bad_pattern_fails_at_declaration():
    with pytest.raises(re.error):
        regex("t", "c", "(a")


def test_regex_pattern_the_engine_cannot_run_fails_at_declaration():
    t = {"t": ibis.memtable({"c": ["ab"]})}
    try:
        check = regex("t", "c", "(?=a)ab")
    except (ValueError, re.error):
        return
    run_checks([check], t)  # raises duckdb InvalidInputException: invalid perl operator: (?=


# --- date_window ---------------------------------------------------------------------------


@pytest.fixture
def dates():
    d = [dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 1, 31), None]
    return {"t": ibis.memtable({"d": d}, schema={"d": "date"})}


def test_date_window_pass_bounds_inclusive(dates):
    check = date_window("t", "d", after="2024-01-01", not_after=dt.date(2024, 1, 31))
    assert check.name == "date_window__t__d"
    assert check.description == "t.d between 2024-01-01 and 2024-01-31"
    assert outcome(check, dates) == (0, None, "error if >0", "pass")


def test_date_window_after_fail(dates):
    check = date_window("t", "d", after="2024-01-02")
    assert check.description == "t.d between 2024-01-02 and -"
    assert outcome(check, dates) == (1, None, "error if >0", "fail")


def test_date_window_not_after_fail(dates):
    assert outcome(date_window("t", "d", not_after="2024-01-30"), dates) == (1, None, "error if >0", "fail")
    assert outcome(date_window("t", "d", after="2024-01-02", not_after="2024-01-30"), dates)[0] == 2


def test_date_window_run_time_on_a_date_column_compares_days(dates):
    # the run's time (end of 2024-01-31) as not_after: a date of that day is not in the future
    assert outcome(date_window("t", "d", not_after=NOW), dates) == (0, None, "error if >0", "pass")
    assert outcome(date_window("t", "d", not_after=NOW - dt.timedelta(days=1)), dates)[0] == 1


def test_date_window_timestamp_column():
    ts = [dt.datetime(2024, 1, 31, 23, 59, 59), dt.datetime(2024, 2, 1, 0, 0, 0)]
    t = {"t": ibis.memtable({"ts": ts}, schema={"ts": "timestamp"})}
    assert outcome(date_window("t", "ts", not_after=NOW), t) == (1, None, "error if >0", "fail")
    assert outcome(date_window("t", "ts", not_after=NOW, severity="warn"), t) == (1, None, "warn if >0", "warn")
    assert outcome(date_window("t", "ts", not_after=NOW + dt.timedelta(seconds=1)), t) == (
        0,
        None,
        "error if >0",
        "pass",
    )


# --- column_type ---------------------------------------------------------------------------


@pytest.fixture
def typed():
    t = ibis.memtable({"i": [1], "s": ["a"], "p": [1.5]}).cast({"p": "decimal(16,2)"})
    return {"t": t}


@pytest.mark.parametrize(
    ("column", "expected"), [("i", "int64"), ("s", "string"), ("p", "decimal(16,2)"), ("i", "!int64")]
)
def test_column_type_pass(typed, column, expected):
    # nullability is not part of the comparison: "!int64" matches a nullable int64 column
    assert outcome(column_type("t", column, expected), typed) == (0, None, "error if >0", "pass")


@pytest.mark.parametrize(
    ("column", "expected"),
    [("i", "int32"), ("s", "int64"), ("p", "decimal(18,2)"), ("p", "float64"), ("missing", "int64")],
)
def test_column_type_fail(typed, column, expected):
    check = column_type("t", column, expected)
    assert check.name == f"type__t__{column}"
    assert outcome(check, typed) == (1, None, "error if >0", "fail")


def test_column_type_warn_and_description(typed):
    check = column_type("t", "i", "string", severity="warn")
    assert check.description == "t.i is string"
    assert outcome(check, typed) == (1, None, "warn if >0", "warn")


# --- required_columns ----------------------------------------------------------------------


def test_required_columns_pass():
    check = required_columns("t", ["a", "b"])
    assert (check.name, check.column, check.description) == ("required_columns__t", None, "t has columns a, b")
    assert outcome(check, {"t": ibis.memtable({"a": [1], "b": [2], "c": [3]})}) == (0, None, "error if >0", "pass")


def test_required_columns_fail_one_row_per_missing_column_named_in_sample():
    check = required_columns("t", ["z", "a", "y"])
    row = result(check, {"t": ibis.memtable({"a": [1, 2, 3]})})
    assert (row["failing_rows"], row["observed"], row["threshold"], row["status"]) == (2, None, "error if >0", "fail")
    assert row["failing_sample"] == "y; z"


def test_required_columns_warn():
    assert outcome(required_columns("t", ["b"], severity="warn"), {"t": ibis.memtable({"a": [1]})}) == (
        1,
        None,
        "warn if >0",
        "warn",
    )


def test_relationship_to_its_own_table():
    emp = ibis.memtable(
        {"id": [1, 2, 3, 4], "manager_id": [None, 1, 9, 7]}, schema={"id": "int64", "manager_id": "int64"}
    )
    row = result(relationship("emp", "manager_id", "emp", "id"), {"emp": emp})
    assert (row["failing_rows"], row["status"], row["failing_sample"]) == (2, "fail", "7; 9")  # today: 3, '1; 7; 9'


def test_date_window_run_bound_is_the_given_now(dates):
    check = date_window("t", "d", not_after="run", now=dt.datetime(2024, 1, 30, 12))
    assert check.description == "t.d between - and 2024-01-30 12:00:00"
    assert outcome(check, dates) == (1, None, "error if >0", "fail")


def test_expression_from_text_and_where_text(tables):
    check = expression("orders", "r", "total == subtotal + tax", where="subtotal >= 30")
    assert (check.name, check.description) == ("r__orders", "total == subtotal + tax")
    assert summary(check, tables) == (1, "fail", "")


def test_expression_rule_given_as_a_function_needs_a_description():
    with pytest.raises(CheckDeclarationError, match="expression r: describe a rule given as a function"):
        expression("orders", "r", total_rule)


# --- names, columns and keys --------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "name", "column", "key"),
    [
        (not_null("t", "a", severity="warn"), "not_null__t__a", "a", ()),
        (unique("t", "a", "b"), "unique__t__a__b", "a, b", ("a", "b")),
        (accepted_values("t", "a", ["x"]), "accepted_values__t__a", "a", ()),
        (relationship("t", "a", "p", "id"), "relationship__t__a__p", "a", ("a",)),
        (expression("t", "positive", "a > 0"), "positive__t", None, ()),
        (in_range("t", "a", max=9), "range__t__a__max_9", "a", ()),
        (regex("t", "a", "[a-z]+"), "regex__t__a", "a", ()),
        (date_window("t", "a", after="2024-01-01"), "date_window__t__a", "a", ()),
        (column_type("t", "a", "int64"), "type__t__a", "a", ()),
        (required_columns("t", ["a", "b"]), "required_columns__t", None, ("missing_column",)),
    ],
)
def test_every_type_names_its_check_type_table_column(check, name, column, key):
    assert (check.name, check.table, check.column, check.key) == (name, "t", column, key)


# --- references ----------------------------------------------------------------------------


def test_references_are_the_other_tables_a_check_reads():
    assert relationship("orders", "customer_id", "customers", "customer_id").references == ("customers",)
    only_their_table = [
        not_null("t", "x"),
        unique("t", "x", "y"),
        accepted_values("t", "x", [1]),
        expression("t", "r", "x > 0"),
        in_range("t", "x", min=0),
        regex("t", "x", "a"),
        date_window("t", "x", after="2024-01-01"),
        column_type("t", "x", "int64"),
        required_columns("t", ["x"]),
        ingest_reconciliation(),
    ]
    assert [c.references for c in only_their_table] == [()] * len(only_their_table)
    assert all(isinstance(c, RowCheck) for c in only_their_table)


# --- ingest_reconciliation -----------------------------------------------------------------


def test_ingest_reconciliation_passes_when_every_row_is_landed_or_quarantined():
    check = ingest_reconciliation()
    assert (check.name, check.table) == ("rows_reconcile__ingest_manifest", "ingest_manifest")
    manifest = ibis.memtable({"rows_read": [10, 5], "rows_landed": [8, 5], "rows_quarantined": [2, 0]})
    assert outcome(check, {"ingest_manifest": manifest}) == (0, None, "error if >0", "pass")


def test_ingest_reconciliation_fails_when_a_row_is_lost():
    manifest = ibis.memtable(
        {"batch_id": ["b1", "b2"], "rows_read": [10, 5], "rows_landed": [9, 5], "rows_quarantined": [0, 0]}
    )
    assert outcome(ingest_reconciliation(), {"ingest_manifest": manifest}) == (1, None, "error if >0", "fail")
    assert ingest_reconciliation("manifest").table == "manifest"
