"""duckbook.quality.aggregate_checks: row counts, freshness, volume and totals_match observed and
judged at their thresholds' boundaries, with their names, units and references."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pytest

from duckbook.quality.aggregate_checks import freshness, row_count, totals_match, volume
from duckbook.quality.evaluate import run_checks
from duckbook.quality.registry import HISTORY
from duckbook.quality.types import AggregateCheck, CheckDeclarationError
from tests.unit.helpers import check_outcome, check_result

NOW = dt.datetime(2024, 1, 31, 23, 59, 59)


result, outcome = check_result, check_outcome


def ints(*values):
    return ibis.memtable({"x": list(values)}, schema={"x": "int64"})


# --- row_count -----------------------------------------------------------------------------


def test_row_count_min():
    check = row_count("t", min=3)
    assert (check.name, check.description) == ("row_count_min__t", "t has at least 3 rows")
    assert outcome(check, {"t": ints(1, 2, 3)}) == (0, 3.0, "error if <3 rows", "pass")
    assert outcome(check, {"t": ints(1, 2)}) == (1, 2.0, "error if <3 rows", "fail")
    assert outcome(row_count("t", min=1), {"t": ints(1).limit(0)}) == (1, 0.0, "error if <1 rows", "fail")


def test_row_count_max():
    check = row_count("t", max=3)
    assert check.description == "t has at most 3 rows"
    assert outcome(check, {"t": ints(1, 2, 3)}) == (0, 3.0, "error if >3 rows", "pass")
    assert outcome(check, {"t": ints(1, 2, 3, 4)}) == (1, 4.0, "error if >3 rows", "fail")


def test_row_count_warn():
    assert outcome(row_count("t", min=3, severity="warn"), {"t": ints(1, 2)}) == (1, 2.0, "warn if <3 rows", "warn")


@pytest.mark.parametrize("bounds", [{}, {"min": 1, "max": 5}])
def test_row_count_needs_exactly_one_bound(bounds):
    with pytest.raises(ValueError, match="row_count takes min or max"):
        row_count("t", **bounds)


# --- freshness -----------------------------------------------------------------------------

FRESH_NOW = dt.datetime(2024, 1, 10, 12, 0, 0)


def stamps(*newest):
    return {"t": ibis.memtable({"ts": [dt.datetime(2023, 1, 1), *newest]}, schema={"ts": "timestamp"})}


@pytest.fixture
def fresh():
    return freshness("t", "ts", now=FRESH_NOW, warn_after_hours=12, error_after_hours=24)


def test_freshness_declaration(fresh):
    assert (fresh.name, fresh.column, fresh.severity, fresh.unit) == ("freshness__t__ts", "ts", "error", "hours")
    assert fresh.description == "newest t.ts is recent (warn after 12 h, error after 24 h)"
    only_warn = freshness("t", "ts", now=FRESH_NOW, warn_after_hours=48)
    assert (only_warn.severity, only_warn.description) == ("warn", "newest t.ts is recent (warn after 48 h)")


@pytest.mark.parametrize(
    ("newest", "failing", "observed", "status"),
    [
        (dt.datetime(2024, 1, 10, 6, 0, 0), 0, 6.0, "pass"),
        (dt.datetime(2024, 1, 10, 0, 0, 0), 0, 12.0, "pass"),  # exactly at the warn SLA
        (dt.datetime(2024, 1, 9, 23, 0, 0), 1, 13.0, "warn"),
        (dt.datetime(2024, 1, 9, 12, 0, 0), 1, 24.0, "warn"),  # exactly at the error SLA
        (dt.datetime(2024, 1, 9, 11, 0, 0), 1, 25.0, "fail"),
    ],
)
def test_freshness_by_hours(fresh, newest, failing, observed, status):
    assert outcome(fresh, stamps(newest)) == (failing, observed, "error if >24 hours; warn if >12 hours", status)


def test_freshness_on_a_date_column_counts_from_midnight():
    t = {"t": ibis.memtable({"d": [dt.date(2024, 1, 9)]}, schema={"d": "date"})}
    check = freshness("t", "d", now=FRESH_NOW, warn_after_hours=48)
    assert check.severity == "warn"
    assert outcome(check, t) == (0, 36.0, "warn if >48 hours", "pass")


def test_freshness_warn_only():
    check = freshness("t", "ts", now=FRESH_NOW, warn_after_hours=12)
    assert outcome(check, stamps(dt.datetime(2024, 1, 1))) == (1, 228.0, "warn if >12 hours", "warn")


def test_freshness_error_only():
    check = freshness("t", "ts", now=FRESH_NOW, error_after_hours=24)
    assert check.severity == "error"
    assert outcome(check, stamps(dt.datetime(2024, 1, 9, 11, 0, 0))) == (1, 25.0, "error if >24 hours", "fail")


def test_freshness_empty_table_fails_or_warns(fresh):
    empty = {"t": stamps()["t"].limit(0)}
    assert outcome(fresh, empty) == (1, None, "error if >24 hours; warn if >12 hours", "fail")
    warn_only = freshness("t", "ts", now=FRESH_NOW, warn_after_hours=12)
    assert outcome(warn_only, empty) == (1, None, "warn if >12 hours", "warn")
    # only nulls: nothing to observe either
    nulls = {"t": ibis.memtable({"ts": [None]}, schema={"ts": "timestamp"})}
    assert outcome(fresh, nulls) == (1, None, "error if >24 hours; warn if >12 hours", "fail")


def test_freshness_needs_an_sla():
    with pytest.raises(ValueError, match="warn_after_hours and/or error_after_hours"):
        freshness("t", "ts", now=FRESH_NOW)


# --- volume --------------------------------------------------------------------------------

# five runs of s.t: mean 10, sample standard deviation 2; another table's runs must not count
PAST = [8, 12, 8, 12, 10]


def history(counts=PAST, name="s.t"):
    return ibis.memtable(
        {"table": [name] * len(counts) + ["s.other"] * 3, "rows": [*counts, 1000, 1, 5000]},
        schema={"table": "string", "rows": "int64"},
    )


def with_rows(n, hist=None):
    tables = {"t": ibis.memtable({"a": list(range(n))}, schema={"a": "int64"})}
    if hist is not None:
        tables[HISTORY] = hist
    return tables


def vol(**kw):
    return volume("t", history=HISTORY, qualified_name="s.t", **kw)


def test_volume_declaration():
    check = vol()
    assert (check.name, check.severity, check.unit, check.warn_if, check.error_if) == (
        "volume__t",
        "warn",
        "std devs",
        ">3.0",
        None,
    )
    assert check.description == "t row count within 3.0 std devs of the last runs (after 5 runs)"


@pytest.mark.parametrize(("n", "observed"), [(10, 0.0), (16, 3.0), (4, 3.0), (13, 1.5)])
def test_volume_normal_count_passes(n, observed):
    # 16 and 4 are exactly k = 3 sample std devs away: the threshold is strict
    assert outcome(vol(), with_rows(n, history())) == (0, observed, "warn if >3.0 std devs", "pass")


@pytest.mark.parametrize(("n", "observed"), [(17, 3.5), (3, 3.5), (0, 5.0)])
def test_volume_count_k_std_devs_away_warns(n, observed):
    assert outcome(vol(), with_rows(n, history())) == (1, observed, "warn if >3.0 std devs", "warn")


def test_volume_error_severity_and_k():
    check = vol(k=2, severity="error")
    assert (check.error_if, check.warn_if) == (">2", None)
    assert outcome(check, with_rows(15, history())) == (1, 2.5, "error if >2 std devs", "fail")
    assert outcome(check, with_rows(14, history())) == (0, 2.0, "error if >2 std devs", "pass")


@pytest.mark.parametrize("declare", [lambda s: row_count("t", max=1, severity=s), lambda s: vol(severity=s)])
def test_one_threshold_checks_put_it_on_their_severitys_side_and_refuse_another(declare):
    assert (declare("error").error_if, declare("error").warn_if) == (declare("warn").warn_if, None)
    with pytest.raises(CheckDeclarationError, match=r"severity must be error or warn, not 'fatal'"):
        declare("fatal")


def test_volume_insufficient_history_passes_with_observed_zero():
    # four runs of s.t (plus three of another table) are fewer than min_runs = 5
    assert outcome(vol(), with_rows(100, history(PAST[:4]))) == (0, 0.0, "warn if >3.0 std devs", "pass")
    # with min_runs = 4 the same history is enough
    assert outcome(vol(min_runs=4), with_rows(100, history(PAST[:4])))[3] == "warn"
    # five runs but min_runs 6
    assert outcome(vol(min_runs=6), with_rows(100, history())) == (0, 0.0, "warn if >3.0 std devs", "pass")
    # no run of this table at all
    assert outcome(vol(), with_rows(100, history(PAST, name="s.elsewhere"))) == (
        0,
        0.0,
        "warn if >3.0 std devs",
        "pass",
    )


def test_volume_history_table_missing_passes():
    assert outcome(vol(), with_rows(100)) == (0, 0.0, "warn if >3.0 std devs", "pass")


def test_volume_constant_history_still_detects_a_change():
    assert outcome(vol(), with_rows(1000, history([10] * 5)))[3] == "warn"


# --- totals_match --------------------------------------------------------------------------


@pytest.fixture
def totals():
    return {
        "daily": ibis.memtable(
            {"revenue": [10.0, 5.5, None], "orders": [2, 1, 0]}, schema={"revenue": "decimal(16,2)", "orders": "int64"}
        ),
        "marts.order_items": ibis.memtable(
            {"product_price": [6.0, 4.0, 5.5, None]}, schema={"product_price": "decimal(16,2)"}
        ),
        "marts.orders": ibis.memtable({"order_id": ["o1", "o2", "o2", "o3", None]}),
    }


def test_totals_match_declaration():
    check = totals_match("daily", "orders", "marts.orders", "order_id", to_agg="count_distinct")
    assert isinstance(check, AggregateCheck)
    assert (check.name, check.column, check.references, check.unit, check.thresholds) == (
        "totals_match__daily__orders__orders",
        "orders",
        ("marts.orders",),
        "",
        (">0", None),
    )
    assert check.description == "sum of daily.orders = count_distinct of marts.orders.order_id"


def test_totals_match_passes_when_sums_are_equal_nulls_counting_as_zero(totals):
    check = totals_match("daily", "revenue", "marts.order_items", "product_price")
    assert outcome(check, totals) == (0, 0.0, "error if >0", "pass")


@pytest.mark.parametrize(
    ("column", "to_column", "agg", "to_agg", "observed"),
    [
        ("orders", "order_id", "sum", "count_distinct", 0.0),  # 3 orders, o1..o3 (the null is no order)
        ("orders", "order_id", "sum", "count", 1.0),  # 4 non-null ids
        ("orders", "order_id", "count", "count_distinct", 0.0),  # 3 daily rows
        ("revenue", "order_id", "count", "count", 2.0),  # 2 non-null revenues vs 4 ids
    ],
)
def test_totals_match_aggregations(totals, column, to_column, agg, to_agg, observed):
    to = "marts.orders"
    check = totals_match("daily", column, to, to_column, agg=agg, to_agg=to_agg)
    assert outcome(check, totals) == (
        0 if observed == 0 else 1,
        observed,
        "error if >0",
        "pass" if observed == 0 else "fail",
    )


def test_totals_match_fails_with_the_absolute_difference(totals):
    totals["marts.order_items"] = ibis.memtable({"product_price": [20.0]}, schema={"product_price": "decimal(16,2)"})
    check = totals_match("daily", "revenue", "marts.order_items", "product_price")
    assert outcome(check, totals) == (1, 4.5, "error if >0", "fail")
    empty = {**totals, "daily": totals["daily"].limit(0)}  # nothing summed is 0, not null
    assert outcome(check, empty) == (1, 20.0, "error if >0", "fail")


def test_totals_match_tolerance_and_warn(totals):
    # decimals, so that the difference is exactly 0.1 (15.50 of daily revenue)
    totals["marts.order_items"] = ibis.memtable(
        {"product_price": [Decimal("15.60")]}, schema={"product_price": "decimal(16,2)"}
    )
    within = totals_match("daily", "revenue", "marts.order_items", "product_price", error_if="> 0.1")
    assert outcome(within, totals) == (0, 0.1, "error if > 0.1", "pass")
    beyond = totals_match("daily", "revenue", "marts.order_items", "product_price", error_if="> 0.05")
    assert outcome(beyond, totals)[3] == "fail"
    warn = totals_match("daily", "revenue", "marts.order_items", "product_price", severity="warn")
    assert outcome(warn, totals)[2:] == ("warn if >0", "warn")


def test_totals_match_names_a_reference_that_was_not_supplied(totals):
    check = totals_match("daily", "revenue", "order_items", "product_price")
    with pytest.raises(LookupError, match=r"check totals_match__daily__revenue__order_items reads table 'order_items'"):
        run_checks([check], totals)


def test_totals_match_rejects_an_unknown_aggregation():
    with pytest.raises(CheckDeclarationError, match="to_agg must be one of sum, count, count_distinct, not 'avg'"):
        totals_match("daily", "revenue", "marts.orders", "order_id", to_agg="avg")


def test_references_are_the_other_tables_a_check_reads():
    assert volume("t", history=HISTORY, qualified_name="s.t").references == (HISTORY,)
    assert totals_match("a", "x", "s.b", "y").references == ("s.b",)
    assert row_count("t", min=1).references == ()
    assert freshness("t", "x", now=NOW, warn_after_hours=1).references == ()
