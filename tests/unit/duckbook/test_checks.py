"""duckbook.checks: every check type passing and failing, statuses, samples and raising."""

from __future__ import annotations

import ibis
import pytest

from duckbook.quality.checks import (
    SAMPLE_SIZE,
    CheckFailed,
    accepted_values,
    count_rows,
    expression,
    not_null,
    raise_for_failures,
    relationship,
    run_checks,
    unique,
)
from tests.unit.helpers import rows


@pytest.fixture
def tables():
    return {
        "customers": ibis.memtable({"customer_id": ["c1", "c2", "c3"], "customer_type": ["new", "returning", None]}),
        "orders": ibis.memtable(
            {
                "order_id": ["o1", "o2", "o3", "o4", "o5"],
                "customer_id": ["c1", "c2", "c9", None, "c8"],
                "subtotal": [10, 20, 30, 40, 50],
                "tax": [1, 2, 3, 4, None],
                "total": [11, 22, 30, 44, 50],
            }
        ),
        "lines": ibis.memtable(
            {
                "order_id": ["o1", "o1", "o2", "o2", "o2", None],
                "line_no": [1, 2, 1, 1, 2, 1],
            }
        ),
    }


def result(check, tables):
    (row,) = rows(run_checks([check], tables))
    return row


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


def test_failing_sample_is_limited_and_sorted():
    t = {"t": ibis.memtable({"k": [f"k{i}" for i in range(9, 0, -1)] * 2})}
    assert SAMPLE_SIZE == 5
    assert summary(unique("t", "k"), t) == (18, "fail", "k1; k2; k3; k4; k5")


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


# --- run_checks / raise_for_failures -------------------------------------------------------


def test_run_checks_reports_every_check_in_order(tables):
    checks = [
        not_null("orders", "order_id"),
        unique("lines", "order_id", "line_no"),
        relationship("orders", "customer_id", "customers", "customer_id", severity="warn"),
    ]
    got = rows(run_checks(checks, tables))
    assert got == [
        {
            "check_name": "not_null__orders__order_id",
            "table_name": "orders",
            "column_name": "order_id",
            "severity": "error",
            "description": "orders.order_id is never null",
            "failing_rows": 0,
            "observed": None,
            "threshold": "error if >0",
            "status": "pass",
            "failing_sample": "",
        },
        {
            "check_name": "unique__lines__order_id__line_no",
            "table_name": "lines",
            "column_name": "order_id, line_no",
            "severity": "error",
            "description": "lines.(order_id, line_no) is unique",
            "failing_rows": 2,
            "observed": None,
            "threshold": "error if >0",
            "status": "fail",
            "failing_sample": "o2, 1",
        },
        {
            "check_name": "relationship__orders__customer_id__customers",
            "table_name": "orders",
            "column_name": "customer_id",
            "severity": "warn",
            "description": "every orders.customer_id exists in customers.customer_id",
            "failing_rows": 2,
            "observed": None,
            "threshold": "warn if >0",
            "status": "warn",
            "failing_sample": "c8; c9",
        },
    ]


def test_run_checks_handles_many_checks():
    # All counts run as one union of per-check aggregates; with more than 128 checks the index
    # literal changes type (int8 -> int16) and the union must still work.
    t = {"t": ibis.memtable({"a": [1, None]})}
    results = rows(run_checks([not_null("t", "a")] * 130, t))
    assert [r["failing_rows"] for r in results] == [1] * 130


def test_count_rows():
    t = ibis.memtable({"a": [1, 2, 3]})
    assert count_rows([]) == []
    assert count_rows([t]) == [3]
    assert count_rows([t, t.filter(t.a > 1), t.filter(t.a > 5)]) == [3, 2, 0]


def test_raise_for_failures_lists_all_failing_error_checks(tables):
    checks = [
        not_null("customers", "customer_type"),  # fails
        relationship("orders", "customer_id", "customers", "customer_id"),  # fails
        unique("orders", "order_id"),  # passes
        unique("lines", "order_id", severity="warn"),  # warns
    ]
    with pytest.raises(CheckFailed) as exc:
        raise_for_failures(run_checks(checks, tables))
    assert str(exc.value) == (
        "2 error check(s) failed; nothing was published:\n"
        "- not_null__customers__customer_type: 1 failing row(s) in customers (error if >0)\n"
        "- relationship__orders__customer_id__customers: 2 failing row(s) in orders (error if >0) (e.g. c8; c9)"
    )


def test_raise_for_failures_ignores_warnings_and_passes(tables):
    checks = [unique("orders", "order_id"), unique("lines", "order_id", severity="warn")]
    raise_for_failures(run_checks(checks, tables))  # does not raise


def test_check_failed_is_a_runtime_error():
    assert issubclass(CheckFailed, RuntimeError)
