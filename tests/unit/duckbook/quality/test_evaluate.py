"""duckbook.quality.evaluate: results of every check in order, statuses against count, share
and value thresholds, samples of failing keys, and raising for failed error checks."""

from __future__ import annotations

import ibis
import pytest

from duckbook.errors import DuckbookError
from duckbook.quality.evaluate import SAMPLE_SIZE, CheckFailed, raise_for_failures, run_checks
from duckbook.quality.row_checks import in_range, not_null, regex, relationship, unique
from duckbook.quality.types import AggregateCheck
from tests.unit.helpers import rows


def result(check, tables):
    (row,) = rows(run_checks([check], tables))
    return row


def summary(check, tables):
    row = result(check, tables)
    return row["failing_rows"], row["status"], row["failing_sample"]


def outcome(check, tables):
    """(failing_rows, observed, threshold, status) of one check."""
    row = result(check, tables)
    return row["failing_rows"], row["observed"], row["threshold"], row["status"]


def ints(*values):
    return ibis.memtable({"x": list(values)}, schema={"x": "int64"})


def test_failing_sample_is_limited_and_sorted():
    t = {"t": ibis.memtable({"k": [f"k{i}" for i in range(9, 0, -1)] * 2})}
    assert SAMPLE_SIZE == 5
    assert summary(unique("t", "k"), t) == (18, "fail", "k1; k2; k3; k4; k5")


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


def test_check_failed_is_a_duckbook_error_and_a_runtime_error():
    assert issubclass(CheckFailed, DuckbookError)
    assert CheckFailed.exit_code == 1  # data broke a rule: not the user's input
    assert issubclass(CheckFailed, RuntimeError)


# --- thresholds ----------------------------------------------------------------------------


def test_error_if_count_threshold():
    check = in_range("t", "x", max=0, error_if="> 2")
    assert check.thresholds == ("> 2", None)
    assert outcome(check, {"t": ints(0, 1, 2)}) == (2, None, "error if > 2", "pass")
    assert outcome(check, {"t": ints(1, 2, 3)}) == (3, None, "error if > 2", "fail")


@pytest.mark.parametrize(("failing", "status"), [(1, "pass"), (2, "warn"), (4, "warn"), (5, "fail")])
def test_warn_band(failing, status):
    check = in_range("t", "x", max=0, error_if=">= 5", warn_if="> 1")
    t = {"t": ints(*([1] * failing + [0] * 3))}
    row = result(check, t)
    assert (row["failing_rows"], row["observed"], row["threshold"], row["status"]) == (
        failing,
        None,
        "error if >= 5; warn if > 1",
        status,
    )
    assert row["severity"] == "error"


def test_warn_if_alone_never_fails():
    check = in_range("t", "x", max=0, warn_if="> 1")
    row = result(check, {"t": ints(1, 1, 1)})
    assert (row["failing_rows"], row["threshold"], row["status"], row["severity"]) == (3, "warn if > 1", "warn", "warn")


@pytest.mark.parametrize(("failing", "observed", "status"), [(0, 0.0, "pass"), (2, 10.0, "pass"), (3, 15.0, "fail")])
def test_percentage_threshold_is_share_of_table_rows(failing, observed, status):
    # 20 rows: 2 failing is 10% (not above), 3 failing is 15%
    check = in_range("t", "x", max=0, error_if="> 10%")
    t = {"t": ints(*([1] * failing + [0] * (20 - failing)))}
    assert outcome(check, t) == (failing, observed, "error if > 10%", status)


def test_percentage_warn_band():
    check = regex("t", "x", "0", error_if="> 50%", warn_if=">= 25%")
    assert outcome(check, {"t": ints(1, 0, 0, 0, 0)}) == (1, 20.0, "error if > 50%; warn if >= 25%", "pass")
    assert outcome(check, {"t": ints(1, 1, 0, 0)}) == (2, 50.0, "error if > 50%; warn if >= 25%", "warn")
    assert outcome(check, {"t": ints(1, 1, 1, 0)}) == (3, 75.0, "error if > 50%; warn if >= 25%", "fail")


def test_percentage_threshold_on_an_empty_table_passes():
    check = in_range("t", "x", max=0, error_if="> 10%")
    assert outcome(check, {"t": ints(1).limit(0)}) == (0, None, "error if > 10%", "pass")


def test_percentage_totals_are_per_table():
    # the share is of the checked table's rows, not of another table's
    checks = [in_range("a", "x", max=0, error_if="> 10%"), in_range("b", "x", max=0, error_if="> 10%")]
    got = rows(run_checks(checks, {"a": ints(1, 0, 0, 0), "b": ints(*([1] + [0] * 19))}))
    assert [(r["table_name"], r["failing_rows"], r["observed"], r["status"]) for r in got] == [
        ("a", 1, 25.0, "fail"),
        ("b", 1, 5.0, "pass"),
    ]


@pytest.mark.parametrize(("n", "status"), [(50, "pass"), (51, "warn"), (100, "warn"), (101, "fail")])
def test_thresholds_on_an_observe_check(n, status):
    check = AggregateCheck(
        name="size__t",
        table="t",
        description="t size",
        observe=lambda t: t["t"].count(),
        error_if="> 100",
        warn_if="> 50",
        unit="rows",
    )
    failing = 0 if status == "pass" else 1
    assert outcome(check, {"t": ints(*range(n))}) == (
        failing,
        float(n),
        "error if > 100 rows; warn if > 50 rows",
        status,
    )


def test_observe_check_lower_bound_threshold():
    check = AggregateCheck(
        name="n", table="t", description="d", observe=lambda t: t["t"].count(), warn_if="<= 2", unit="rows"
    )
    assert outcome(check, {"t": ints(1, 2)}) == (1, 2.0, "warn if <= 2 rows", "warn")
    assert outcome(check, {"t": ints(1, 2, 3)}) == (0, 3.0, "warn if <= 2 rows", "pass")


def test_run_checks_does_not_mix_up_checks_with_the_same_name():
    checks = [in_range("t", "x", max=100, severity="warn"), in_range("t", "x", max=1000)]
    try:
        got = rows(run_checks(checks, {"t": ints(1, 50, 500, 5000)}))
    except ValueError:
        return
    assert [r["failing_rows"] for r in got] == [2, 1]  # today: [1, 1]


def test_aggregate_checks_on_several_tables_each_get_their_own_observation():
    def observing(name, table, observe):
        return AggregateCheck(name=name, table=table, description=name, observe=observe, error_if="> 2", unit="")

    empty = ibis.memtable({"x": []}, schema={"x": "int64"})
    checks = [
        observing("count_t", "t", lambda t: t["t"].count()),
        observing("max_u", "u", lambda t: t["u"].x.max()),
        observing("max_empty", "e", lambda t: t["e"].x.max()),  # null: nothing to observe
        observing("literal", "t", lambda t: ibis.literal(1.5)),
    ]
    got = rows(run_checks(checks, {"t": ints(1, 2, 3), "u": ints(1, 2), "e": empty}))
    assert [(r["check_name"], r["observed"], r["status"]) for r in got] == [
        ("count_t", 3.0, "fail"),
        ("max_u", 2.0, "pass"),
        ("max_empty", None, "fail"),
        ("literal", 1.5, "pass"),
    ]
