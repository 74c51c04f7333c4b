"""duckbook.checks, the newer catalogue: range, regex, date windows, column types, required
columns, row counts, freshness and volume; error/warn thresholds (counts, percentages, observed
values); checks declared in YAML (load_checks); and the Jaffle Shop's declared checks (for_schema).

Every case asserts failing_rows, observed, threshold text and status exactly, with inputs at the
inclusive/exclusive boundaries so an off-by-one in a check's logic fails a test.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import textwrap

import ibis
import pytest
import yaml

from duckbook.quality.checks import (
    HISTORY,
    Check,
    column_type,
    date_window,
    freshness,
    in_range,
    load_checks,
    not_null,
    parse_threshold,
    regex,
    relationship,
    required_columns,
    row_count,
    run_checks,
    volume,
)
from jaffle_shop import checks as jaffle_checks
from tests.unit.helpers import rows

NOW = dt.datetime(2024, 1, 31, 23, 59, 59)


def result(check, tables):
    (row,) = rows(run_checks([check], tables))
    return row


def outcome(check, tables):
    """(failing_rows, observed, threshold, status) of one check."""
    row = result(check, tables)
    return row["failing_rows"], row["observed"], row["threshold"], row["status"]


def ints(*values):
    return ibis.memtable({"x": list(values)}, schema={"x": "int64"})


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


# --- thresholds ----------------------------------------------------------------------------


def test_error_if_count_threshold():
    check = in_range("t", "x", max=0, error_if="> 2")
    assert check.thresholds == ("> 2", None)
    assert outcome(check, {"t": ints(0, 1, 2)}) == (2, None, "error if > 2", "pass")
    assert outcome(check, {"t": ints(1, 2, 3)}) == (3, None, "error if > 2", "fail")


def test_default_thresholds_follow_severity():
    assert not_null("t", "x").thresholds == (">0", None)
    assert not_null("t", "x", severity="warn").thresholds == (None, ">0")
    assert in_range("t", "x", min=0, warn_if="> 1").thresholds == (None, "> 1")


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
    check = Check(
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
    check = Check(name="n", table="t", description="d", observe=lambda t: t["t"].count(), warn_if="<= 2")
    assert outcome(check, {"t": ints(1, 2)}) == (1, 2.0, "warn if <= 2 rows", "warn")
    assert outcome(check, {"t": ints(1, 2, 3)}) == (0, 3.0, "warn if <= 2 rows", "pass")


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
        Check(name="n", table="t", description="d", observe=count, error_if="> 1%")
    with pytest.raises(ValueError, match="bad threshold '> 1%'"):
        Check(name="n", table="t", description="d", observe=count, warn_if="> 1%")
    with pytest.raises(ValueError, match="bad threshold 'over 3'"):
        in_range("t", "x", min=0, error_if="over 3")
    with pytest.raises(ValueError, match="give failing"):
        Check(name="n", table="t", description="d")
    with pytest.raises(ValueError, match="give failing"):
        Check(name="n", table="t", description="d", observe=count, failing=lambda t: t["t"])
    Check(name="n", table="t", description="d", failing=lambda t: t["t"], error_if="> 1%")  # % is fine on rows


def test_run_checks_does_not_mix_up_checks_with_the_same_name():
    checks = [in_range("t", "x", max=100, severity="warn"), in_range("t", "x", max=1000)]
    try:
        got = rows(run_checks(checks, {"t": ints(1, 50, 500, 5000)}))
    except ValueError:
        return
    assert [r["failing_rows"] for r in got] == [2, 1]  # today: [1, 1]


def test_relationship_to_its_own_table():
    emp = ibis.memtable(
        {"id": [1, 2, 3, 4], "manager_id": [None, 1, 9, 7]}, schema={"id": "int64", "manager_id": "int64"}
    )
    row = result(relationship("emp", "manager_id", "emp", "id"), {"emp": emp})
    assert (row["failing_rows"], row["status"], row["failing_sample"]) == (2, "fail", "7; 9")  # today: 3, '1; 7; 9'


# --- load_checks ---------------------------------------------------------------------------


def write(tmp_path, text, name="checks.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def describe(checks):
    return [(c.name, c.table, c.column, c.severity, c.error_if, c.warn_if) for c in checks]


def test_load_checks_sources_primary_keys(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          raw_people:
            file: people.csv
            primary_key: [id]
            columns:
              id: {type: string}
          raw_supplies:
            primary_key: [id, sku]
            checks:
              - {type: volume, k: 2, min_runs: 3}
          raw_notes:
            file: notes.csv
    """,
    )
    got = load_checks([path], now=NOW)
    assert list(got) == ["raw.raw_people", "raw.raw_supplies", "raw.raw_notes"]
    assert describe(got["raw.raw_people"]) == [
        ("not_null__raw_people__id", "raw_people", "id", "error", None, None),
        ("unique__raw_people__id", "raw_people", "id", "error", None, None),
    ]
    assert describe(got["raw.raw_supplies"]) == [
        ("not_null__raw_supplies__id", "raw_supplies", "id", "error", None, None),
        ("not_null__raw_supplies__sku", "raw_supplies", "sku", "error", None, None),
        ("unique__raw_supplies__id__sku", "raw_supplies", "id, sku", "error", None, None),
        ("volume__raw_supplies", "raw_supplies", None, "warn", None, ">2"),
    ]
    assert got["raw.raw_notes"] == []
    # the composite key is unique as a pair
    t = {"raw_supplies": ibis.memtable({"id": ["s1", "s1", "s2"], "sku": ["a", "b", "a"]})}
    assert rows(run_checks(got["raw.raw_supplies"][:3], t), "check_name")[2]["failing_rows"] == 0


MODELS = """
    models:
      shop.orders:
        description: Orders.
        checks:
          - {type: row_count, min: 2}
          - type: expression
            name: total_ok
            expr: total == subtotal + tax
            where: "status != 'void'"
          - {type: freshness, column: loaded_at, warn_after_hours: 24, error_after_hours: 48}
          - {type: volume, k: 2, min_runs: 3}
          - {type: required_columns, columns: [order_id, total, discount]}
          - {type: unique, columns: [customer_id, status]}
        columns:
          order_id:
            description: Order id.
            checks: [not_null, unique]
          status:
            checks:
              - {type: accepted_values, values: [open, void]}
          customer_id:
            checks:
              - {type: relationship, to: customers, field: id}
          total:
            checks:
              - {type: range, min: 0, max: 44}
              - {type: type, expected: int64}
          code:
            checks:
              - {type: regex, pattern: '[A-Z]{2}-[0-9]+'}
          ordered_at:
            checks:
              - {type: date_window, after: '2024-01-01', not_after: run}
      shop.customers:
        columns:
          id: {checks: [not_null]}
          name: {description: no checks}
      shop.empty: {description: nothing declared}
"""


def shop_tables():
    ts = dt.datetime
    orders = ibis.memtable(
        {
            "order_id": [1, 2, 3, 3],
            "status": ["open", "void", "open", "lost"],
            "customer_id": ["c1", "c2", "c9", None],
            "subtotal": [10, 20, 30, 40],
            "tax": [1, 2, 3, 4],
            # o2 is void (its wrong total is not checked); o3's total is wrong; 99 > 44 is out of range
            "total": [11, 99, 30, 44],
            "code": ["AB-1", "AB-12", "ab-1", "AB-"],
            "ordered_at": [ts(2024, 1, 1), ts(2024, 1, 31, 23, 59, 59), ts(2023, 12, 31, 23, 59, 59), ts(2024, 2, 1)],
            "loaded_at": [ts(2024, 1, 30, 11, 59, 59), ts(2024, 1, 1), ts(2024, 1, 1), ts(2024, 1, 1)],
        },
        schema={
            "order_id": "int64",
            "status": "string",
            "customer_id": "string",
            "subtotal": "int64",
            "tax": "int64",
            "total": "int64",
            "code": "string",
            "ordered_at": "timestamp",
            "loaded_at": "timestamp",
        },
    )
    customers = ibis.memtable({"id": ["c1", "c2"]})
    # three earlier runs of shop.orders: mean 10, sd 2 -> 4 rows now is 3 std devs away (> k = 2)
    log = ibis.memtable({"table": ["shop.orders"] * 3 + ["shop.customers"] * 3, "rows": [10, 12, 8, 4, 4, 4]})
    return {"orders": orders, "customers": customers, HISTORY: log}


def test_load_checks_models_every_type(tmp_path):
    got = load_checks([write(tmp_path, MODELS)], now=NOW)
    assert list(got) == ["shop.orders", "shop.customers", "shop.empty"]
    assert got["shop.empty"] == []
    assert describe(got["shop.customers"]) == [("not_null__customers__id", "customers", "id", "error", None, None)]
    results = rows(run_checks(got["shop.orders"], shop_tables()))
    summary = [
        (
            r["check_name"],
            r["column_name"],
            r["failing_rows"],
            r["observed"],
            r["threshold"],
            r["status"],
            r["failing_sample"],
        )
        for r in results
    ]
    assert summary == [
        ("row_count_min__orders", None, 0, 4.0, "error if <2 rows", "pass", ""),
        ("total_ok__orders", None, 1, None, "error if >0", "fail", ""),
        ("freshness__orders__loaded_at", "loaded_at", 1, 36.0, "error if >48 hours; warn if >24 hours", "warn", ""),
        ("volume__orders", None, 1, 3.0, "warn if >2 std devs", "warn", ""),
        ("required_columns__orders", None, 1, None, "error if >0", "fail", "discount"),
        ("unique__orders__customer_id__status", "customer_id, status", 0, None, "error if >0", "pass", ""),
        ("not_null__orders__order_id", "order_id", 0, None, "error if >0", "pass", ""),
        ("unique__orders__order_id", "order_id", 2, None, "error if >0", "fail", "3"),
        ("accepted_values__orders__status", "status", 1, None, "error if >0", "fail", ""),
        ("relationship__orders__customer_id__customers", "customer_id", 1, None, "error if >0", "fail", "c9"),
        ("range__orders__total__min_0__max_44", "total", 1, None, "error if >0", "fail", ""),
        ("type__orders__total", "total", 0, None, "error if >0", "pass", ""),
        ("regex__orders__code", "code", 2, None, "error if >0", "fail", ""),
        ("date_window__orders__ordered_at", "ordered_at", 2, None, "error if >0", "fail", ""),
    ]
    descriptions = {r["check_name"]: r["description"] for r in results}
    assert descriptions["total_ok__orders"] == "total == subtotal + tax"  # the rule is the default description
    assert (
        descriptions["date_window__orders__ordered_at"]
        == "orders.ordered_at between 2024-01-01 and 2024-01-31 23:59:59"
    )


def test_load_checks_expression_where_is_applied(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            checks:
              - {type: expression, name: r, expr: a > 0}
              - {type: expression, name: r_where, expr: a > 0, where: "b in ('x', 'y') and a is not None"}
    """,
    )
    checks = load_checks([path], now=NOW)["s.t"]
    t = {"t": ibis.memtable({"a": [1, -1, -2, None], "b": ["x", "z", "y", "x"]}, schema={"a": "int64", "b": "string"})}
    assert [(r["check_name"], r["failing_rows"]) for r in rows(run_checks(checks, t))] == [
        ("r__t", 2),
        ("r_where__t", 1),
    ]


def test_load_checks_not_after_run_uses_the_given_now(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            columns:
              d:
                checks: [{type: date_window, not_after: run}]
    """,
    )
    t = {"t": ibis.memtable({"d": [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]}, schema={"d": "date"})}
    at_end_of_january = load_checks([path], now=NOW)["s.t"]
    assert outcome(at_end_of_january[0], t) == (1, None, "error if >0", "fail")
    a_day_later = load_checks([path], now=NOW + dt.timedelta(days=1))["s.t"]
    assert outcome(a_day_later[0], t) == (0, None, "error if >0", "pass")


def test_load_checks_freshness_uses_the_given_now(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            checks: [{type: freshness, column: ts, warn_after_hours: 1}]
    """,
    )
    t = {"t": ibis.memtable({"ts": [dt.datetime(2024, 1, 31, 20, 59, 59)]}, schema={"ts": "timestamp"})}
    assert outcome(load_checks([path], now=NOW)["s.t"][0], t) == (1, 3.0, "warn if >1 hours", "warn")


def test_load_checks_severity_threshold_and_description_overrides(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            checks:
              - {type: row_count, min: 10, severity: warn}
              - {type: volume, severity: error}
              - {type: required_columns, columns: [x, y], severity: warn, description: has x and y}
            columns:
              x:
                checks:
                  - {type: not_null, severity: warn}
                  - {type: unique, error_if: "> 2", description: x mostly unique}
                  - {type: accepted_values, values: [1], error_if: "> 50%", warn_if: "> 0"}
                  - {type: range, max: 2, severity: warn, warn_if: "> 1"}
                  - {type: regex, pattern: '[0-4]', error_if: ">= 3"}
                  - {type: type, expected: string, severity: warn}
              d:
                checks:
                  - {type: date_window, after: 2020-01-01, severity: warn}
              y:
                checks:
                  - {type: relationship, to: u, field: id, severity: warn}
                  - {type: expression, name: y_pos, expr: y > 0, severity: warn, warn_if: "> 10%"}
    """,
    )
    checks = load_checks([path], now=NOW)["s.t"]
    assert describe(checks) == [
        ("row_count_min__t", "t", None, "warn", None, "<10"),
        ("volume__t", "t", None, "error", ">3.0", None),
        ("required_columns__t", "t", None, "warn", None, None),
        ("not_null__t__x", "t", "x", "warn", None, None),
        ("unique__t__x", "t", "x", "error", "> 2", None),
        ("accepted_values__t__x", "t", "x", "error", "> 50%", "> 0"),
        ("range__t__x__max_2", "t", "x", "warn", None, "> 1"),
        ("regex__t__x", "t", "x", "error", ">= 3", None),
        ("type__t__x", "t", "x", "warn", None, None),
        ("date_window__t__d", "t", "d", "warn", None, None),
        ("relationship__t__y__u", "t", "y", "warn", None, None),
        ("y_pos__t", "t", None, "warn", None, "> 10%"),
    ]
    by_name = {c.name: c for c in checks}
    assert by_name["required_columns__t"].description == "has x and y"
    assert by_name["unique__t__x"].description == "x mostly unique"
    assert by_name["y_pos__t"].description == "y > 0"
    d = [dt.date(2019, 12, 31), dt.date(2020, 1, 1), dt.date(2021, 1, 1), None]
    t = {
        "t": ibis.memtable(
            {"x": [1, 1, 1, 5], "y": [1, -1, 7, None], "d": d}, schema={"x": "int64", "y": "int64", "d": "date"}
        )
    }
    t["u"] = ibis.memtable({"id": [1, 5]}, schema={"id": "int64"})
    got = {r["check_name"]: (r["failing_rows"], r["threshold"], r["status"]) for r in rows(run_checks(checks, t))}
    assert got == {
        "row_count_min__t": (1, "warn if <10 rows", "warn"),
        "volume__t": (0, "error if >3.0 std devs", "pass"),
        "required_columns__t": (0, "warn if >0", "pass"),
        "not_null__t__x": (0, "warn if >0", "pass"),
        "unique__t__x": (3, "error if > 2", "fail"),
        "accepted_values__t__x": (1, "error if > 50%; warn if > 0", "warn"),  # 1 of 4 rows: 25%
        "range__t__x__max_2": (1, "warn if > 1", "pass"),
        "regex__t__x": (1, "error if >= 3", "pass"),
        "type__t__x": (1, "warn if >0", "warn"),
        "date_window__t__d": (1, "warn if >0", "warn"),
        "relationship__t__y__u": (2, "warn if >0", "warn"),
        "y_pos__t": (1, "warn if > 10%", "warn"),  # 1 of 4 rows: 25%
    }


ERRORS = [
    # (column or None, check item, message fragment)
    ("a", "{type: nope}", "unknown check type 'nope'"),
    ("a", "{type: not_null, foo: 1}", "unknown argument(s) ['foo'] for not_null"),
    ("a", "{type: expression, name: n, expr: a > 0, wher: a > 1}", "unknown argument(s) ['wher'] for expression"),
    ("a", "{type: range, minimum: 0}", "unknown argument(s) ['minimum'] for range"),
    ("a", "{type: accepted_values}", "'values'"),
    ("a", "{type: relationship, to: u}", "'field'"),
    ("a", "{type: regex}", "'pattern'"),
    ("a", "{type: type}", "'expected'"),
    (None, "{type: required_columns}", "'columns'"),
    (None, "{type: expression, expr: a > 1}", "'name'"),
    (None, "{type: expression, name: n}", "'expr'"),
    ("a", "{severity: warn}", "'type'"),
    ("a", "{type: regex, pattern: '(a'}", "missing ), unterminated subpattern"),
    ("a", "{type: regex, pattern: '[z-a]'}", "bad character range"),
    ("a", "{type: not_null, error_if: '== 1'}", "bad threshold '== 1'"),
    ("a", "{type: not_null, warn_if: 'lots'}", "bad threshold 'lots'"),
    (None, "{type: row_count, min: 1, error_if: '> 1%'}", "bad threshold '> 1%'"),
    (None, "{type: volume, warn_if: '> 5%'}", "bad threshold '> 5%'"),
    (None, "{type: row_count, min: 1, max: 3}", "row_count takes min or max"),
    (None, "{type: row_count}", "row_count takes min or max"),
    ("a", "{type: freshness}", "freshness needs warn_after_hours and/or error_after_hours"),
]


@pytest.mark.parametrize(("column", "item", "message"), ERRORS)
def test_load_checks_errors_name_file_table_and_check(tmp_path, column, item, message):
    if column:
        text = f"models:\n  s.t:\n    columns:\n      {column}:\n        checks:\n          - {item}\n"
    else:
        text = f"models:\n  s.t:\n    checks:\n      - {item}\n"
    path = write(tmp_path, text)
    parsed = yaml.safe_load(item)
    where = f"s.t.{column}" if column else "s.t"
    with pytest.raises(ValueError) as exc:
        load_checks([path], now=NOW)
    error = str(exc.value)
    assert error.startswith(f"{path}: {where}: bad check {parsed!r}: "), error
    assert message in error


def test_load_checks_error_in_sources_and_second_file(tmp_path):
    good = write(tmp_path, "models:\n  s.t:\n    checks: [{type: row_count, min: 1}]\n", "good.yml")
    bad = write(tmp_path, "sources:\n  raw_x:\n    primary_key: [id]\n    checks: [{type: volume, kk: 3}]\n", "bad.yml")
    with pytest.raises(ValueError) as exc:
        load_checks([good, bad], now=NOW)
    assert (
        str(exc.value)
        == f"{bad}: raw.raw_x: bad check {{'type': 'volume', 'kk': 3}}: unknown argument(s) ['kk'] for volume"
    )


def test_load_checks_merges_files_and_empty_file(tmp_path):
    a = write(tmp_path, "models:\n  s.t:\n    checks: [{type: row_count, min: 1}]\n", "a.yml")
    b = write(tmp_path, "models:\n  s.t:\n    columns: {x: {checks: [not_null]}}\n", "b.yml")
    empty = write(tmp_path, "", "empty.yml")
    assert [c.name for c in load_checks([a, b, empty], now=NOW)["s.t"]] == ["row_count_min__t", "not_null__t__x"]
    assert load_checks([empty], now=NOW) == {}


def test_load_checks_rejects_unknown_severity(tmp_path):
    path = write(
        tmp_path, "models:\n  s.t:\n    columns:\n      a:\n        checks: [{type: not_null, severity: erorr}]\n"
    )
    with pytest.raises(ValueError, match=r"s\.t\.a: bad check"):
        load_checks([path], now=NOW)


def test_load_checks_model_name_without_schema(tmp_path):
    path = write(tmp_path, "models:\n  orders:\n    description: no schema\n")
    with pytest.raises(ValueError, match="orders"):
        load_checks([path], now=NOW)


def test_load_checks_table_level_column_check_needs_a_column(tmp_path):
    path = write(tmp_path, "models:\n  s.t:\n    checks: [not_null]\n")
    with pytest.raises(ValueError, match=r"s\.t: bad check 'not_null'"):
        load_checks([path], now=NOW)


def test_load_checks_unknown_expected_type(tmp_path):
    path = write(
        tmp_path, "models:\n  s.t:\n    columns:\n      a:\n        checks: [{type: type, expected: notatype}]\n"
    )
    with pytest.raises(ValueError, match=r"s\.t\.a: bad check"):
        load_checks([path], now=NOW)


@pytest.mark.parametrize("item", ["{type: range}", "{type: date_window}"])
def test_load_checks_bound_checks_need_a_bound(tmp_path, item):
    path = write(tmp_path, f"models:\n  s.t:\n    columns:\n      a:\n        checks: [{item}]\n")
    with pytest.raises(ValueError, match=r"s\.t\.a: bad check"):
        load_checks([path], now=NOW)


def test_load_checks_gives_each_declared_check_a_unique_name(tmp_path):
    path = write(
        tmp_path,
        "models:\n  s.t:\n    checks:\n      - {type: row_count, min: 1}\n      - {type: row_count, max: 10}\n",
    )
    try:
        names = [c.name for c in load_checks([path], now=NOW)["s.t"]]
    except ValueError:
        return
    assert len(set(names)) == len(names), names


# --- jaffle_shop.checks.for_schema ---------------------------------------------------------

RUN_DATE = dt.date(2024, 1, 31)


@pytest.fixture(scope="module")
def schemas():
    return {s: jaffle_checks.for_schema(s, RUN_DATE) for s in ("raw", "staging", "marts", "metrics", "ops")}


def test_for_schema_raw_reconciliation_and_primary_keys(schemas):
    raw = schemas["raw"]
    assert raw[0].name == "rows_reconcile__ingest_manifest"
    names = {c.name for c in raw}
    for table, key in [
        ("raw_customers", ["id"]),
        ("raw_orders", ["id"]),
        ("raw_items", ["id"]),
        ("raw_products", ["sku"]),
        ("raw_stores", ["id"]),
        ("raw_supplies", ["id", "sku"]),
    ]:
        assert {f"not_null__{table}__{k}" for k in key} <= names, table
        assert f"unique__{table}__{'__'.join(key)}" in names, table
    assert {c.table for c in raw} == {
        "ingest_manifest",
        "raw_customers",
        "raw_orders",
        "raw_items",
        "raw_products",
        "raw_stores",
        "raw_supplies",
    }
    assert {c.name for c in raw if c.name.startswith("volume__")} == {"volume__raw_orders", "volume__raw_items"}


def test_for_schema_raw_reconciliation_runs(schemas):
    manifest = ibis.memtable({"rows_read": [10, 10], "rows_landed": [8, 8], "rows_quarantined": [2, 1]})
    assert outcome(schemas["raw"][0], {"ingest_manifest": manifest}) == (1, None, "error if >0", "fail")


def test_for_schema_marts_relationships_to_every_dimension(schemas):
    rels = {
        c.name: c.description
        for c in schemas["marts"]
        if c.table == "fct_order_items" and c.name.startswith("relationship__")
    }
    assert rels == {
        "relationship__fct_order_items__date_key__dim_date": "every fct_order_items.date_key exists in dim_date.date_key",
        "relationship__fct_order_items__customer_key__dim_customer": "every fct_order_items.customer_key exists in dim_customer.customer_key",
        "relationship__fct_order_items__product_key__dim_product": "every fct_order_items.product_key exists in dim_product.product_key",
        "relationship__fct_order_items__location_key__dim_location": "every fct_order_items.location_key exists in dim_location.location_key",
    }


def test_for_schema_marts_fact_orphan_is_caught(schemas):
    check = next(c for c in schemas["marts"] if c.name == "relationship__fct_order_items__product_key__dim_product")
    t = {
        "fct_order_items": ibis.memtable({"product_key": ["p1", "p9", "-1"]}),
        "dim_product": ibis.memtable({"product_key": ["p1", "-1"]}),
    }
    row = result(check, t)
    assert (row["failing_rows"], row["status"], row["failing_sample"]) == (1, "fail", "p9")


@pytest.mark.parametrize("schema", ["raw", "staging", "marts", "metrics"])
def test_for_schema_check_names_are_unique(schemas, schema):
    names = [c.name for c in schemas[schema]]
    assert names, schema
    assert [n for n, k in collections.Counter(names).items() if k > 1] == []


def test_for_schema_only_its_schema(schemas):
    assert schemas["ops"] == []
    assert {c.table for c in schemas["metrics"]} == {
        "daily",
        "weekly",
        "monthly",
        "monthly_by_location",
        "monthly_by_product",
    }
    assert "reconcile" not in " ".join(c.name for c in schemas["staging"] + schemas["marts"])


def test_for_schema_time_checks_use_end_of_run_date(schemas):
    window = next(c for c in schemas["staging"] if c.name == "date_window__stg_orders__ordered_at")
    t = {
        "stg_orders": ibis.memtable(
            {"ordered_at": [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]}, schema={"ordered_at": "date"}
        )
    }
    assert outcome(window, t) == (1, None, "error if >0", "fail")
    fresh = next(c for c in schemas["marts"] if c.name == "freshness__orders__ordered_at")
    assert fresh.description == "the newest order is at most 2 days older than the run date"
    t = {"orders": ibis.memtable({"ordered_at": [dt.date(2024, 1, 29)]}, schema={"ordered_at": "date"})}
    assert outcome(fresh, t) == (1, pytest.approx(72 - 1 / 3600), "warn if >48 hours", "warn")


def test_models_yml_ops_descriptions_are_whole():
    models = yaml.safe_load((jaffle_checks.HERE / "models.yml").read_text(encoding="utf-8"))["models"]
    assert models["ops.quarantine"] == {
        "description": "Rows that broke their source contract, with reason, file, line and raw text."
    }
    assert models["ops.lineage"] == {"description": "Tables each table is built from, and the SQL it was built with."}
