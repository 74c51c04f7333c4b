"""What a finished run tells a person: the checks that warned or failed (freshness in days), the
files that had rows quarantined, and which warned or failed checks sit downstream of quarantined
rows. Read from the run's committed ops tables with plain DuckDB (no Ibis)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

import duckdb

from duckbook.ops.tables import SCHEMA


@dataclasses.dataclass(frozen=True)
class Finding:
    """One warned or failed check of a run."""

    check: str
    table: str
    status: str  # warn | fail
    failing_rows: int
    observed: float | None
    threshold: str
    downstream_of_quarantine: tuple[str, ...] = ()  # raw tables with quarantined rows it reads

    def text(self) -> str:
        """``marts.orders: freshness__orders__ordered_at: 3.2 days old (warn after 2.0 days)``."""
        if self.check.startswith("freshness__") and self.observed is not None:
            limit = _hours_to_days(self.threshold)
            what = f"{self.observed / 24:.1f} days old" + (f" ({limit})" if limit else "")
        elif self.failing_rows:
            what = f"{self.failing_rows:,} failing row(s) ({self.threshold})"
        else:
            what = f"observed {self.observed} ({self.threshold})"
        note = f"; downstream of quarantined rows in {', '.join(self.downstream_of_quarantine)}"
        return f"{self.table}: {self.check}: {what}" + (note if self.downstream_of_quarantine else "")


@dataclasses.dataclass(frozen=True)
class Quarantined:
    """A delivered file some of whose rows were quarantined in the run."""

    file: str
    table: str
    rows: int

    def text(self) -> str:
        return f"{self.file}: {self.rows:,} row(s) quarantined (raw.{self.table}; see ops.quarantine)"


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """Checks passed / warned / failed, the findings and the quarantined files of one run."""

    passed: int = 0
    warned: int = 0
    failed: int = 0
    findings: tuple[Finding, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()

    def lines(self) -> list[str]:
        """The summary as terminal lines (empty findings and files are left out)."""
        out = [f"checks: {self.passed} passed, {self.warned} warned, {self.failed} failed"]
        out += [f"  {'FAIL' if f.status == 'fail' else 'warn'} {f.text()}" for f in self.findings]
        if self.quarantined:
            out.append(
                f"quarantined: {sum(q.rows for q in self.quarantined):,} row(s) in {len(self.quarantined)} file(s)"
            )
            out += [f"  {q.text()}" for q in self.quarantined]
        return out


def summarize(con: duckdb.DuckDBPyConnection, run_id: str) -> RunSummary:
    """The summary of ``run_id`` from ``ops.check_results``, ``ops.ingest_manifest`` and
    ``ops.lineage`` (a missing table counts as empty)."""
    run = "'" + run_id.replace("'", "''") + "'"  # a literal: Python parameters make DuckDB import pandas
    tables = {
        name
        for (name,) in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE schema_name = '{SCHEMA}'").fetchall()
    }
    counts: dict[str, int] = {}
    findings: list[Finding] = []
    if "check_results" in tables:
        for status, n in con.execute(
            f"SELECT status, count(*) FROM {SCHEMA}.check_results WHERE run_id = {run} GROUP BY status"
        ).fetchall():
            counts[str(status)] = int(n)
        rows = con.execute(
            f"SELECT check_name, schema_name || '.' || table_name, status, failing_rows, observed, threshold "
            f"FROM {SCHEMA}.check_results "
            f"WHERE run_id = {run} AND status IN ('warn', 'fail') ORDER BY status DESC, table_name, check_name"
        ).fetchall()
        findings = [Finding(str(c), str(t), str(s), int(n or 0), o, str(th or "")) for c, t, s, n, o, th in rows]
    quarantined: list[Quarantined] = []
    if "ingest_manifest" in tables:
        rows = con.execute(
            f'SELECT coalesce(file_path, source_file), "table", rows_quarantined FROM {SCHEMA}.ingest_manifest '
            f"WHERE run_id = {run} AND rows_quarantined > 0 ORDER BY 1"
        ).fetchall()
        quarantined = [Quarantined(str(f), str(t), int(n)) for f, t, n in rows]
    if quarantined and findings and "lineage" in tables:
        upstream = _upstream(con)
        bad = {f"raw.{q.table}" for q in quarantined}
        findings = [
            dataclasses.replace(f, downstream_of_quarantine=tuple(sorted(_reach(f.table, upstream) & bad)))
            for f in findings
        ]
    return RunSummary(
        counts.get("pass", 0), counts.get("warn", 0), counts.get("fail", 0), tuple(findings), tuple(quarantined)
    )


def _upstream(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """``{schema.table: {schema.table it is built from}}`` from the lineage of the newest build."""
    out: dict[str, set[str]] = {}
    rows = con.execute(f"SELECT schema_name || '.' || table_name, upstream FROM {SCHEMA}.lineage").fetchall()
    for table, upstream in rows:
        out.setdefault(str(table), set()).update(u for u in json.loads(upstream or "[]") if ":" not in u)
    return out


def _reach(table: str, upstream: Mapping[str, set[str]]) -> set[str]:
    """Every table ``table`` is built from, transitively (itself included)."""
    seen, todo = {table}, [table]
    while todo:
        for parent in upstream.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _hours_to_days(threshold: str) -> str:
    """``"warn if >48 hours"`` -> ``"warn after 2.0 days"``; "" when it names no hours.

    >>> _hours_to_days("warn if >48 hours"), _hours_to_days("n/a")
    ('warn after 2.0 days', '')
    """
    match = re.search(r"(warn|error|fail)\w* if >\s*([0-9.]+) hours", threshold)
    return f"{match[1]} after {float(match[2]) / 24:.1f} days" if match else ""
