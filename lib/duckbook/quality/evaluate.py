"""Running checks: one result row per check (status, failing row count or observed value, a
sample of failing keys), and raising when error checks failed.

>>> import ibis
>>> from duckbook.quality.row_checks import not_null
>>> results = run_checks([not_null("t", "id")], {"t": ibis.memtable({"id": [1, None]})})
>>> results.select("check_name", "failing_rows", "threshold", "status").to_pyarrow().to_pylist()
[{'check_name': 'not_null__t__id', 'failing_rows': 1, 'threshold': 'error if >0', 'status': 'fail'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from duckbook.engine import count_rows
from duckbook.errors import DuckbookError
from duckbook.ops import CHECK_RESULT_COLUMNS
from duckbook.quality.types import AggregateCheck, Check, RowCheck, Tables, exceeds

#: Failing keys shown per check (the count is always exact).
SAMPLE_SIZE = 5

_RESULT_SCHEMA = ibis.schema(CHECK_RESULT_COLUMNS)


class CheckFailed(DuckbookError, RuntimeError):
    """Raised when error-severity checks fail; the message lists every failing check."""


def run_checks(checks: Sequence[Check], tables: Tables) -> ir.Table:
    """Evaluate every check and return one result row per check, in order.

    All checks run, so one call reports every failure, not only the first. ``tables`` holds each
    check's table and references by name. ``status`` is ``fail`` when the error threshold is
    crossed, else ``warn`` when the warn threshold is, else ``pass``. ``failing_rows`` counts the
    rows breaking a row check (aggregate checks: 1 when not passing); ``observed`` is the failing
    share in % (row checks with a percentage threshold) or the observed value. The result is an
    in-memory table; :class:`duckbook.build.wap.Build` stores it with the run id.
    """
    row_checks = [c for c in checks if isinstance(c, RowCheck)]
    failing = {id(c): c.failing(tables) for c in row_checks}  # by identity: names may repeat
    counts = dict(zip(failing, count_rows(list(failing.values())), strict=True))
    pct_tables = sorted({c.table for c in row_checks if any(t and "%" in t for t in c.thresholds)})
    totals = dict(zip(pct_tables, count_rows([tables[t] for t in pct_tables]), strict=True))
    observed_values = _observe([c for c in checks if isinstance(c, AggregateCheck)], tables)
    rows = []
    for check in checks:
        error_if, warn_if = check.thresholds
        sample, total, unit = "", None, ""
        if isinstance(check, RowCheck):
            n = counts[id(check)]
            total = totals.get(check.table)
            observed = (100.0 * n / total) if total else None
            value: float = n
            if n and check.key:
                sample = _sample(failing[id(check)], check.key)
        elif isinstance(check, AggregateCheck):
            raw = observed_values[id(check)]
            value = float(raw) if raw is not None else float("nan")
            observed, unit = (None if raw is None else value), check.unit
        else:
            raise TypeError(f"check {check.name}: a {type(check).__name__} is neither a RowCheck nor an AggregateCheck")
        if value != value:  # nothing to observe (empty table): an error check fails, a warn warns
            status = "fail" if error_if else "warn"
        else:
            status = (
                "fail" if exceeds(error_if, value, total) else ("warn" if exceeds(warn_if, value, total) else "pass")
            )
        if isinstance(check, AggregateCheck):
            n = 0 if status == "pass" else 1
        rows.append(
            {
                "check_name": check.name,
                "table_name": check.table,
                "column_name": check.column,
                "severity": "error" if error_if else "warn",
                "description": check.description,
                "failing_rows": n,
                "observed": observed,
                "threshold": "; ".join(
                    f"{k} if {v} {unit}".strip() for k, v in (("error", error_if), ("warn", warn_if)) if v
                ),
                "status": status,
                "failing_sample": sample,
            }
        )
    return ibis.memtable(pa.Table.from_pylist(rows, schema=_RESULT_SCHEMA.to_pyarrow()))


def _observe(checks: Sequence[AggregateCheck], tables: Tables) -> dict[int, Any]:
    """Each aggregate check's observed value (as Python) by the check's identity, in one query:
    the one-row observations side by side (each query on the lake costs ~20 ms)."""
    if not checks:
        return {}
    parts = [c.observe(tables).name(f"v{i}").as_table() for i, c in enumerate(checks)]
    row = parts[0]
    for part in parts[1:]:
        row = row.cross_join(part)
    values = row.to_pyarrow().to_pylist()[0]
    return {id(c): values[f"v{i}"] for i, c in enumerate(checks)}


def _sample(bad: ir.Table, key: tuple[str, ...]) -> str:
    """The first :data:`SAMPLE_SIZE` distinct keys of the failing rows, sorted: ``"k1; k2"``."""
    keys = bad.select(*key).distinct().order_by(list(key)).limit(SAMPLE_SIZE).to_pyarrow().to_pylist()
    return "; ".join(", ".join(str(v) for v in row.values()) for row in keys)


def raise_for_failures(results: ir.Table) -> None:
    """Raise :class:`CheckFailed` listing every failing error check in ``results`` (from
    :func:`run_checks`)."""
    failed = results.filter(results.status == "fail").order_by("check_name").to_pyarrow().to_pylist()
    if failed:
        lines = [
            f"- {r['check_name']}: {r['failing_rows']} failing row(s) in {r['table_name']} ({r['threshold']})"
            + (f" (e.g. {r['failing_sample']})" if r["failing_sample"] else "")
            for r in failed
        ]
        raise CheckFailed(f"{len(failed)} error check(s) failed; nothing was published:\n" + "\n".join(lines))
