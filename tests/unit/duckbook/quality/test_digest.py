"""The quality report's readable frames: verdict, checks not passing and since when, stale
sources, the compact history and quarantined lines with PII hidden."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from duckbook.quality import digest

T0 = dt.datetime(2019, 8, 1)


def at(run: int) -> dt.datetime:
    return T0 + dt.timedelta(days=run)


def check(name, status, *, table="orders", schema="marts", severity="error", run=3, **extra):
    """One check result as ops.check_results holds it, with its run (r<run>) and time."""
    return {
        "schema_name": schema,
        "table_name": table,
        "check_name": name,
        "severity": severity,
        "description": f"what {name} tests",
        "status": status,
        "failing_rows": 0 if status == "pass" else 5,
        "observed": None,
        "threshold": "error if >0",
        "run_id": f"r{run}",
        "at": at(run),
        **extra,
    }


def history(statuses: dict[str, str]) -> pl.DataFrame:
    """{check: "ppwW-"} -> one row per check per run (r1, r2, ...); "-" not checked in that run."""
    letters = {"p": "pass", "w": "warn", "f": "fail"}
    rows = [
        check(name, letters[c], run=i + 1) for name, runs in statuses.items() for i, c in enumerate(runs) if c != "-"
    ]
    return pl.DataFrame(rows)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pass"] * 143, "All 143 checks pass"),
        (["pass"] * 1500, "All 1,500 checks pass"),
        (["pass"], "The one check passes"),
        (["fail", "warn", "pass", "warn"], "3 checks need attention: 1 failed, 2 warned"),
        (["warn"], "1 check needs attention: 1 warned"),
        (["fail", "fail"], "2 checks need attention: 2 failed"),
        ([], "No check ran in this run"),
    ],
)
def test_verdict(statuses, expected):
    assert digest.verdict(statuses) == expected


def test_worst_status_colours_the_verdict():
    assert [digest.worst(s) for s in (["pass", "fail", "warn"], ["warn", "pass"], ["pass"], [])] == [
        "fail",
        "warn",
        "pass",
        "pass",
    ]


def test_not_passing_puts_failed_first_then_error_severity_then_table_and_check():
    checks = pl.DataFrame(
        [
            check("b_warn", "warn", table="a_table", severity="warn"),
            check("z_fail", "fail", table="z_table"),
            check("a_warn_of_error_check", "warn", table="z_table", severity="error"),
            check("a_fail", "fail", table="z_table"),
            check("passes", "pass"),
        ]
    )
    out = digest.not_passing(checks, checks, "r3")
    assert out.columns == list(digest.NOT_PASSING_COLUMNS)
    assert out.select("Status", "Check").rows() == [
        ("failed", "a_fail"),
        ("failed", "z_fail"),
        ("warned", "a_warn_of_error_check"),
        ("warned", "b_warn"),
    ]
    assert out.row(0, named=True)["Table"] == "marts.z_table"
    assert out.row(0, named=True)["What it tests"] == "what a_fail tests"
    assert out.row(0, named=True)["Result"] == "5 failing rows (error if >0)"


def test_since_when_counts_the_runs_in_a_row_that_checked_it():
    h = history({"came_back": "pwfw-", "never_passed": "www-w", "fixed": "wwwwp", "first_time": "ppppw"})
    streaks = {r["check_name"]: r for r in digest.streaks(h).iter_rows(named=True)}
    assert set(streaks) == {"came_back", "never_passed", "first_time"}  # "fixed" passes now
    assert (streaks["came_back"]["runs"], streaks["came_back"]["since_run"], streaks["came_back"]["ever_passed"]) == (
        3,
        "r2",
        True,
    )
    assert (streaks["never_passed"]["runs"], streaks["never_passed"]["since_run"]) == (4, "r1")
    assert not streaks["never_passed"]["ever_passed"]
    assert streaks["first_time"]["runs"] == 1
    latest = digest.latest(h)
    shown = {r["Check"]: r for r in digest.not_passing(latest, h, "r5").iter_rows(named=True)}
    assert shown["came_back"]["Not passing for"] == "3 runs in a row"
    assert shown["came_back"]["Since run"] == "r2"
    assert shown["never_passed"]["Not passing for"] == "4 runs in a row (every run recorded)"
    assert shown["first_time"]["Not passing for"] == "1 run (first time)"
    assert shown["first_time"]["Since run"] == "this run"


def test_streaks_of_an_empty_history_are_empty_with_their_columns():
    out = digest.streaks(pl.DataFrame([check("x", "pass")]).clear())
    assert out.height == 0 and out.columns == [*digest.KEY, "runs", "since_run", "since_at", "ever_passed"]


def test_latest_keeps_each_checks_newest_result_and_coverage_says_which_ran():
    h = history({"a": "pw", "b": "p-"})
    latest = digest.latest(h)
    assert dict(latest.select("check_name", "run_id").rows()) == {"a": "r2", "b": "r1"}
    assert digest.coverage(latest, "r2").startswith("1 of the 2 checks ran in run r2")
    assert digest.coverage(latest.filter(pl.col("check_name") == "a"), "r2") == ""
    assert digest.coverage(latest, "r9").startswith("0 of the 2 checks ran in run r9")


def test_compact_history_lists_only_checks_that_did_not_pass_and_collapses_the_rest():
    h = history({"ok_1": "ppppp", "ok_2": "pp-pp", "flaky": "pwppp", "broken": "ppff-"})
    table, line = digest.compact_history(h)
    assert line == "2 checks passed every time they ran in the last 5 runs."
    assert table.rows() == [  # by status in the newest run (broken was not checked in it), then name
        ("marts.orders", "flaky", "· W · · ·", "1 of 5"),
        ("marts.orders", "broken", "· · F F –", "2 of 4"),
    ]
    assert table.columns == ["Table", "Check", "Runs, oldest first", "Not passing"]


def test_compact_history_of_one_run_and_of_all_passing():
    table, line = digest.compact_history(history({"ok": "p"}))
    assert table.height == 0 and line == "1 check passed in the last run."
    table, line = digest.compact_history(history({"bad": "w"}))
    assert table.height == 1 and line == ""


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"failing_rows": 1234567, "observed": None, "threshold": "error if >0"},
            "1,234,567 failing rows (error if >0)",
        ),
        ({"failing_rows": 1, "observed": None, "threshold": "error if >0"}, "1 failing row (error if >0)"),
        ({"failing_rows": 12, "observed": 2.5, "threshold": "warn if >1%"}, "12 failing rows, 2.5% (warn if >1%)"),
        (
            {"failing_rows": 1, "observed": 4.256, "threshold": "warn if >3 std devs"},
            "observed 4.26 (warn if >3 std devs)",
        ),
    ],
)
def test_result_in_words(row, expected):
    assert digest.result({"check_name": "c", **row}) == expected


def test_freshness_result_is_in_days_against_both_thresholds():
    row = {"check_name": "freshness__t__at", "observed": 100.0, "threshold": "error if >96 hours; warn if >48 hours"}
    assert digest.result(row) == "4.2 days old (error after 4.0 days; warn after 2.0 days)"
    years = {**row, "observed": 2645.0 * 24}
    assert digest.result(years) == "2,645.0 days old (error after 4.0 days; warn after 2.0 days)"


def test_stale_sources_in_days_and_a_line_for_the_fresh_ones():
    checks = pl.DataFrame(
        [
            check("freshness__orders__ordered_at", "warn", observed=77.0, threshold="warn if >48 hours"),
            check(
                "freshness__raw_orders__ordered_at",
                "pass",
                table="raw_orders",
                schema="raw",
                observed=12.0,
                threshold="error if >96 hours; warn if >48 hours",
            ),
            check("not_null__orders__id", "fail"),
        ]
    )
    stale, line = digest.stale_sources(checks)
    assert stale.rows(named=True) == [
        {
            "Table": "marts.orders",
            "Newest data": "3.2 days old",
            "Warn after": "2.0 days",
            "Error after": "–",
            "Status": "warned",
        }
    ]
    assert line == "Fresh (within their thresholds): raw.raw_orders 0.5 days old."
    none, line = digest.stale_sources(checks.filter(pl.col("status") == "fail"))
    assert none.height == 0 and none.columns == stale.columns and line == ""


def test_every_check_failed_first_and_where_its_result_comes_from():
    checks = pl.DataFrame([check("b", "pass", run=2), check("a", "pass"), check("c", "warn")])
    out = digest.every_check(checks, "r3")
    assert out.select("Check", "Status", "Checked in").rows() == [
        ("c", "warned", "this run"),
        ("a", "passed", "this run"),
        ("b", "passed", "r2"),
    ]


def test_trend_counts_checks_per_status_per_run():
    out = digest.trend(history({"a": "pw", "b": "pf", "c": "pp"}))
    assert out.rows() == [
        ("r1", "2019-08-02 00:00", "passed", 3),
        ("r2", "2019-08-03 00:00", "failed", 1),
        ("r2", "2019-08-03 00:00", "passed", 1),
        ("r2", "2019-08-03 00:00", "warned", 1),
    ]


def groups(**example):
    return pl.DataFrame(
        {
            "source_table": ["raw_orders", "raw_customers", "raw_other"],
            "file": ["2019-08-11/raw_orders.csv", "raw_customers.csv", None],
            "reason_code": ["invalid_int64", "wrong_column_count", "nul_byte"],
            "reason": ["invalid_int64:subtotal", "expected 2 fields, found 3", None],
            "rows": [1234, 1, 2],
            "first_line": [17, 9, 3],
            "example": [example.get("orders", "o1,x"), example.get("customers", "c9,Jane Secretname,x"), "q,\\0"],
        }
    )


def test_quarantine_hides_every_line_of_a_source_not_shown():
    out = digest.quarantine(groups(), shown={"raw_orders"})
    assert out.rows() == [
        ("raw_customers", "raw_customers.csv", "expected 2 fields, found 3", "1", digest.HIDDEN),
        ("raw_orders", "2019-08-11/raw_orders.csv", "invalid_int64:subtotal", "1,234", "line 17: o1,x"),
        ("raw_other", "", "nul_byte", "2", digest.HIDDEN),  # not a declared PII-free source: hidden too
    ]
    assert "Secretname" not in str(out.rows())
    assert all(v == digest.HIDDEN for v in digest.quarantine(groups(), shown=()).get_column("Example (first line)"))


def test_quarantine_cuts_a_long_line():
    out = digest.quarantine(groups(orders="x" * 500), shown={"raw_orders"})
    example = out.filter(pl.col("Source") == "raw_orders").item(0, "Example (first line)")
    assert example == "line 17: " + "x" * 120 + "…"


def test_frames_keep_their_columns_when_empty():
    assert digest.quarantine(groups().clear(), shown=()).columns == [
        "Source",
        "File",
        "Reason",
        "Rows",
        "Example (first line)",
    ]
    assert digest.not_passing(pl.DataFrame([check("a", "pass")]), pl.DataFrame([check("a", "pass")]), "r3").height == 0
