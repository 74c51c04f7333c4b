"""The quality report's frames, readable: pure transforms of check results into what an engineer on
call reads first (a verdict, the checks not passing and since when, stale sources, quarantined
lines with PII hidden) and a compact history. :mod:`duckbook.quality.summary` reads the ops
tables and calls these; every frame here has readable column labels and pre-formatted strings.

Check results are keyed by :data:`KEY`; ``history`` frames have one row per check per run with
``run_id``, ``at`` (when the run checked) and ``status`` (pass | warn | fail).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import polars as pl

#: What identifies a check across runs.
KEY = ["schema_name", "table_name", "check_name"]
#: How a quarantined line of a source with a PII column (or of an undeclared source) is shown.
HIDDEN = "PII, hidden"
#: A status as one character in the compact history, oldest run first.
GLYPHS = {"pass": "·", "warn": "W", "fail": "F", None: "–"}
_ORDER = {"fail": 0, "warn": 1, "pass": 2}
_PAST = {"fail": "failed", "warn": "warned", "pass": "passed"}
_STREAK_SCHEMA = pl.Schema(
    {
        **dict.fromkeys(KEY, pl.String()),
        "runs": pl.UInt32(),
        "since_run": pl.String(),
        "since_at": pl.Datetime("us"),
        "ever_passed": pl.Boolean(),
    }
)
_HOURS = re.compile(r"(error|warn) if >\s*([0-9.]+) hours")
_EXAMPLE_CHARS = 120  # a quarantined line is cut after this many characters


def verdict(statuses: Sequence[str]) -> str:
    """The page's first line: how many checks need attention, or that all pass.

    Examples
    --------
    >>> verdict(["pass", "warn", "fail", "warn"])
    '3 checks need attention: 1 failed, 2 warned'
    >>> verdict(["pass"] * 1143)
    'All 1,143 checks pass'
    >>> verdict(["warn"]), verdict([])
    ('1 check needs attention: 1 warned', 'No check ran in this run')
    """
    if not statuses:
        return "No check ran in this run"
    counts = {s: sum(1 for x in statuses if x == s) for s in ("fail", "warn")}
    bad = counts["fail"] + counts["warn"]
    if not bad:
        return "The one check passes" if len(statuses) == 1 else f"All {len(statuses):,} checks pass"
    parts = ", ".join(f"{n:,} {_PAST[s]}" for s, n in counts.items() if n)
    return f"{bad:,} check{_s(bad)} need{'s' if bad == 1 else ''} attention: {parts}"


def worst(statuses: Sequence[str]) -> str:
    """``fail`` if any check failed, else ``warn`` if any warned, else ``pass``.

    >>> worst(["pass", "warn"]), worst([])
    ('warn', 'pass')
    """
    return min(statuses, key=lambda s: _ORDER.get(s, 2), default="pass")


def latest(rows: pl.DataFrame) -> pl.DataFrame:
    """Each check's newest result among ``rows`` (check results with ``run_id`` and ``at``)."""
    return rows.sort("at").group_by(KEY, maintain_order=True).last()


def coverage(checks: pl.DataFrame, run_id: str) -> str:
    """A line saying how many of ``checks`` (newest results) ``run_id`` ran; "" when it ran all.

    >>> checks = pl.DataFrame({"run_id": ["r2", "r1", "r2"]})
    >>> coverage(checks, "r2")
    '2 of the 3 checks ran in run r2; the others stand as earlier runs left them (their tables did not change).'
    """
    ran = checks.filter(pl.col("run_id") == run_id).height
    if ran == checks.height:
        return ""
    return (
        f"{ran:,} of the {checks.height:,} checks ran in run {run_id}; the others stand as earlier runs left them "
        "(their tables did not change)."
    )


def streaks(history: pl.DataFrame) -> pl.DataFrame:
    """For each check whose newest result in ``history`` is not a pass: how many of the runs that
    checked it in a row have not passed it (up to its newest), the run the streak began in, and
    whether any earlier run recorded it passing.

    Returns
    -------
    pl.DataFrame
        :data:`KEY`, ``runs`` (int), ``since_run``, ``since_at``, ``ever_passed`` (bool); no row
        for a check whose newest result is a pass.
    """
    last_pass = history.filter(pl.col("status") == "pass").group_by(KEY).agg(last_pass=pl.col("at").max())
    streak = history.join(last_pass, on=KEY, how="left").filter(
        pl.col("last_pass").is_null() | (pl.col("at") > pl.col("last_pass"))
    )
    return (
        streak.sort("at")
        .group_by(KEY, maintain_order=True)
        .agg(
            runs=pl.len(),
            since_run=pl.col("run_id").first(),
            since_at=pl.col("at").first(),
            ever_passed=pl.col("last_pass").is_not_null().first(),
        )
        .cast(_STREAK_SCHEMA)
    )


def not_passing(checks: pl.DataFrame, history: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """The checks that warned or failed, failed ones first (then error severity, table, check),
    with their result and since when they have not passed (``this run`` when it is ``run_id``).

    ``checks`` holds each check's newest result (the ``ops.check_results`` columns and
    ``run_id``); ``history`` each check's status in the runs up to ``run_id`` (see
    :func:`streaks`).
    """
    bad = checks.filter(pl.col("status") != "pass").join(streaks(history), on=KEY, how="left")
    bad = bad.with_columns(
        _order=pl.col("status").replace_strict(_ORDER, default=2),
        _severity=(pl.col("severity") != "error").cast(pl.Int8),
    ).sort("_order", "_severity", "schema_name", "table_name", "check_name")
    rows = [
        {
            **_identity(r),
            "Not passing for": _streak(r.get("runs"), r.get("ever_passed")),
            "Since run": _since(r.get("since_run") or r["run_id"], run_id),
            "What it tests": r["description"] or "",
        }
        for r in bad.iter_rows(named=True)
    ]
    return _frame(rows, NOT_PASSING_COLUMNS)


def _identity(r: dict[str, Any]) -> dict[str, str]:
    """The first columns of a check's row on the page: status, table, check, severity, result."""
    return {
        "Status": _PAST.get(r["status"], r["status"]),
        "Table": _table(r),
        "Check": r["check_name"],
        "Severity": r["severity"],
        "Result": result(r),
    }


NOT_PASSING_COLUMNS = (
    "Status",
    "Table",
    "Check",
    "Severity",
    "Result",
    "Not passing for",
    "Since run",
    "What it tests",
)


def result(row: dict[str, object]) -> str:
    """What a check found, in words: failing rows, or the observed value (freshness in days),
    with its threshold.

    Examples
    --------
    >>> result({"check_name": "unique__t__k", "failing_rows": 1234, "observed": None, "threshold": "error if >0"})
    '1,234 failing rows (error if >0)'
    >>> result({"check_name": "freshness__t__at", "failing_rows": 1, "observed": 77.0, "threshold": "warn if >48 hours"})
    '3.2 days old (warn after 2.0 days)'
    >>> result({"check_name": "volume__t", "failing_rows": 1, "observed": 4.25, "threshold": "warn if >3 std devs"})
    'observed 4.25 (warn if >3 std devs)'
    """
    threshold = str(row.get("threshold") or "")
    observed = row.get("observed")
    if str(row["check_name"]).startswith("freshness__") and isinstance(observed, float):
        limits = "; ".join(f"{kind} after {days}" for kind, days in _hours_to_days(threshold).items())
        return f"{observed / 24:,.1f} days old" + (f" ({limits})" if limits else "")
    if isinstance(observed, float) and "%" not in threshold:  # an aggregate check's value
        return f"observed {observed:,.2f} ({threshold})"
    n = int(row.get("failing_rows") or 0)  # type: ignore[call-overload]
    share = f", {observed:.1f}%" if isinstance(observed, float) else ""
    return f"{n:,} failing row{_s(n)}{share} ({threshold})"


def stale_sources(checks: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """The freshness checks of a run that warned or failed, as a table (how old the newest data
    is against the declared warn / error thresholds, in days), and one line on the fresh ones.

    Returns
    -------
    tuple[pl.DataFrame, str]
        Columns ``Table``, ``Newest data``, ``Warn after``, ``Error after``, ``Status``; the
        line names each fresh table and its age ("" when there is no freshness check).
    """
    fresh = checks.filter(pl.col("check_name").str.starts_with("freshness__")).sort(KEY)
    rows, ok = [], []
    for r in fresh.iter_rows(named=True):
        age = f"{r['observed'] / 24:,.1f} days old" if r["observed"] is not None else "no data"
        limits = _hours_to_days(r["threshold"] or "")
        if r["status"] == "pass":
            ok.append(f"{_table(r)} {age}")
            continue
        rows.append(
            {
                "Table": _table(r),
                "Newest data": age,
                "Warn after": limits.get("warn", "–"),
                "Error after": limits.get("error", "–"),
                "Status": _PAST.get(r["status"], r["status"]),
            }
        )
    line = f"Fresh (within their thresholds): {', '.join(ok)}." if ok else ""
    return _frame(rows, ("Table", "Newest data", "Warn after", "Error after", "Status")), line


def compact_history(history: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Each check that did not pass in one of the runs of ``history`` (its runs, oldest first, as
    :data:`GLYPHS`), and one line for every check that passed in all of them.

    Returns
    -------
    tuple[pl.DataFrame, str]
        Columns ``Table``, ``Check``, ``Runs, oldest first``, ``Not passing``; the line
        "N checks passed every time they ran in the last K runs" ("" if there are none).
    """
    runs = history.select("run_id", "at").unique("run_id").sort("at").get_column("run_id").to_list()
    by_check: dict[tuple[str, ...], dict[str, str]] = {}
    for r in history.iter_rows(named=True):
        by_check.setdefault(tuple(r[k] for k in KEY), {})[r["run_id"]] = r["status"]
    rows, passing = [], 0
    for key, statuses in sorted(by_check.items(), key=lambda kv: (_ORDER.get(kv[1].get(runs[-1], ""), 3), kv[0])):
        bad = sum(1 for s in statuses.values() if s != "pass")
        if not bad:
            passing += 1
            continue
        rows.append(
            {
                "Table": _table(dict(zip(KEY, key, strict=True))),
                "Check": key[2],
                "Runs, oldest first": " ".join(GLYPHS.get(statuses.get(run), "?") for run in runs),
                "Not passing": f"{bad} of {len(statuses)}",
            }
        )
    line = ""
    if passing:
        last = (
            "in the last run"
            if len(runs) == 1
            else f"every time {'it' if passing == 1 else 'they'} ran in the last {len(runs)} runs"
        )
        line = f"{passing:,} check{_s(passing)} passed {last}."
    return _frame(rows, ("Table", "Check", "Runs, oldest first", "Not passing")), line


def every_check(checks: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Every check (its newest result), failed and warned first, then by table and check;
    ``Checked in`` says "this run" or names the earlier run its result is from."""
    ordered = checks.with_columns(_order=pl.col("status").replace_strict(_ORDER, default=3)).sort(
        "_order", "schema_name", "table_name", "check_name"
    )
    rows = [
        {
            **_identity(r),
            "Checked in": "this run" if r["run_id"] == run_id else r["run_id"],
            "What it tests": r["description"] or "",
        }
        for r in ordered.iter_rows(named=True)
    ]
    return _frame(rows, ("Status", "Table", "Check", "Severity", "Result", "Checked in", "What it tests"))


def trend(history: pl.DataFrame) -> pl.DataFrame:
    """Checks per status in each run (oldest first): ``Run``, ``Checked at``, ``Status``
    (passed | warned | failed), ``Checks``; for a stacked bar chart."""
    counts = history.group_by("run_id", "status").agg(checks=pl.len(), at=pl.col("at").max())
    counts = counts.with_columns(pl.col("at").max().over("run_id"))  # one time per run
    return counts.sort("at", "status").select(
        pl.col("run_id").alias("Run"),
        pl.col("at").dt.strftime("%Y-%m-%d %H:%M").alias("Checked at"),
        pl.col("status").replace_strict(_PAST, default=None).alias("Status"),
        pl.col("checks").cast(pl.Int64).alias("Checks"),
    )


def quarantine(groups: pl.DataFrame, shown: Collection[str]) -> pl.DataFrame:
    """Quarantined rows by source, file and reason, with the first line as an example, except
    for sources not in ``shown`` (a source with a PII column is PII in every raw line):
    :data:`HIDDEN` in their place, whatever ``groups`` holds.

    ``groups`` has ``source_table``, ``file``, ``reason_code``, ``reason``, ``rows``,
    ``first_line`` and ``example`` (the first line's raw text, or null).

    Examples
    --------
    >>> g = pl.DataFrame({"source_table": ["raw_customers", "raw_orders"], "file": ["c.csv", "o.csv"],
    ...     "reason_code": ["wrong_column_count"] * 2, "reason": ["expected 2 fields, found 3"] * 2,
    ...     "rows": [1, 1200], "first_line": [7, 3], "example": ["c9,Jane Doe,x", "o1,,3"]})
    >>> quarantine(g, shown={"raw_orders"}).get_column("Example (first line)").to_list()
    ['PII, hidden', 'line 3: o1,,3']
    """
    rows = []
    for r in groups.sort("source_table", "file", "reason_code").iter_rows(named=True):
        example = r["example"] if r["source_table"] in shown else None
        if example is not None and len(example) > _EXAMPLE_CHARS:
            example = example[:_EXAMPLE_CHARS] + "…"
        rows.append(
            {
                "Source": r["source_table"],
                "File": r["file"] or "",
                "Reason": r["reason"] or r["reason_code"],
                "Rows": f"{r['rows']:,}",
                "Example (first line)": HIDDEN
                if r["source_table"] not in shown
                else f"line {r['first_line']}: {example}",
            }
        )
    return _frame(rows, ("Source", "File", "Reason", "Rows", "Example (first line)"))


def _hours_to_days(threshold: str) -> dict[str, str]:
    """``{"warn": "2.0 days"}`` of ``"warn if >48 hours"``."""
    return {kind: f"{float(hours) / 24:,.1f} days" for kind, hours in _HOURS.findall(threshold)}


def _streak(runs: object, ever_passed: object) -> str:
    n = int(runs) if isinstance(runs, int) else 1
    if n == 1:
        return "1 run (first time)" if ever_passed else "1 run"
    return f"{n:,} runs in a row" + ("" if ever_passed else " (every run recorded)")


def _since(run: str, reported: str) -> str:
    return "this run" if run == reported else run


def _table(row: dict[str, object]) -> str:
    return f"{row['schema_name']}.{row['table_name']}"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _frame(rows: list[dict[str, str]], columns: Sequence[str]) -> pl.DataFrame:
    """``rows`` as a frame with ``columns``, all strings, also when there are none."""
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))
