"""Write-audit-publish: tables built together, audited together, published together.

A :class:`Build` materializes each table under a hidden ``_wap_`` name, audits the staged tables
with checks (by default the project's declared checks for each table, plus any the stage adds
with :meth:`Build.add_checks`), and publishes them: every table of the build is swapped in by one
transaction, and only when no error check failed. A failed audit drops the staged tables, so the
previously published tables stay in place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import polars as pl

from duckbook import engine, events, ops
from duckbook.build import lineage
from duckbook.params import validate_identifier
from duckbook.quality import evaluate
from duckbook.quality.registry import HISTORY
from duckbook.quality.types import Check, RowCheck

if TYPE_CHECKING:
    from duckbook.build.context import StageContext

#: Failing rows kept per failed check (the count in ops.check_results is always exact).
MAX_STORED_FAILURES = 10_000


class Build:
    """Tables built together, audited together and published together into one schema."""

    def __init__(self, ctx: StageContext, schema: str) -> None:
        validate_identifier("schema", schema)
        self.ctx, self.schema = ctx, schema
        self._staged: dict[str, str] = {}
        self._adopted: dict[str, int] = {}  # tables changed in place -> rows written
        #: what the build did to each declared model (duckbook.build.materialize.Outcome)
        self.outcomes: list[Any] = []
        self._tables: dict[str, ir.Table] = {}
        self._lineage: dict[str, dict[str, object]] = {}
        self._results: ir.Table | None = None
        self._counts: pl.DataFrame | None = None
        self._extra_checks: list[Check] = []
        self._context: dict[str, ir.Table] = {}

    def add(self, name: str, expr: ir.Table, *, sources: Sequence[str] = ()) -> ir.Table:
        """Materialize ``expr`` as the staged version of ``name`` and return the staged table,
        so later models of the same build read it instead of recomputing it.

        Lineage comes from the tables ``expr`` reads; ``sources`` adds inputs outside the
        warehouse (``file:...``, ``lake:...``).
        """
        validate_identifier("table name", name)
        self._staged[name], sql = engine.stage_table(self.ctx.con, self.schema, name, expr)
        upstream = [*lineage.upstream_tables(expr, self.schema), *sources]
        self._lineage[name] = {"upstream": upstream, "sql": sql}
        self._results = self._counts = None
        self._tables[name] = self._table(self._staged[name])
        return self._tables[name]

    def adopt(self, name: str, *, rows_written: int, expr: ir.Table | None = None) -> ir.Table:
        """Audit and publish-log ``name``, a table of the schema changed in place in the run's
        transaction (an incremental merge), as part of this build; ``rows_written`` is what the
        change wrote (:meth:`report`) and ``expr`` (if given) what lineage records it was built from.

        Its changes are not swapped in by :meth:`publish`: they are already in the table and
        become visible with the run's commit, or are rolled back with the run when a check fails.
        """
        validate_identifier("table name", name)
        self._adopted[name] = rows_written
        if expr is not None:
            self._lineage[name] = {
                "upstream": lineage.upstream_tables(expr, self.schema),
                "sql": engine.sql_of(self.ctx.con, expr),
            }
        self._results = self._counts = None
        self._tables[name] = self._table(name)
        return self._tables[name]

    def _table(self, name: str) -> ir.Table:
        """Table ``name`` of the schema, which the build just wrote."""
        found = engine.table(self.ctx.con, self.schema, name)
        if found is None:
            raise LookupError(f"table {self.schema}.{name} is not in {self.ctx.cfg.warehouse}")
        return found

    def table(self, name: str) -> ir.Table:
        """``name`` as this build leaves it: its new version when the build changed it, else the
        published table."""
        return self._tables[name] if name in self._tables else self.ctx.table(f"{self.schema}.{name}")

    def report(self) -> pl.DataFrame:
        """One row per declared model the build brought up to date: what was done (``full``,
        ``incremental``, ``snapshot``, ``unchanged``), why or which rows, and the rows written."""
        written = dict(zip(*self.row_counts().get_columns(), strict=True)) if self._tables else {}
        written.update({f"{self.schema}.{n}": rows for n, rows in self._adopted.items()})
        rows = [
            {"model": o.model, "action": o.action, "detail": o.detail, "rows_written": written.get(o.model, 0)}
            for o in self.outcomes
        ]
        schema = {"model": pl.String, "action": pl.String, "detail": pl.String, "rows_written": pl.Int64}
        return pl.DataFrame(rows, schema=schema)

    @property
    def tables(self) -> dict[str, ir.Table]:
        """The staged tables by their final names."""
        return dict(self._tables)

    def row_counts(self) -> pl.DataFrame:
        """Rows per table of the build as it leaves them (what ``ops.publish_log`` records and
        volume checks compare), sorted by table name (counted once per change of the build)."""
        if self._counts is None:
            names = sorted(self._tables)
            counts = engine.count_rows([self._tables[n] for n in names])
            self._counts = pl.DataFrame(
                {"table": [f"{self.schema}.{n}" for n in names], "rows": counts},
                schema={"table": pl.String, "rows": pl.Int64},
            )
        return self._counts

    def add_checks(self, checks: Sequence[Check], context: Mapping[str, ir.Table] | None = None) -> None:
        """Audit ``checks`` too (``context``: tables outside the build they read by name), beside
        the declared ones: e.g. ingestion's reconciliation of the manifest."""
        self._extra_checks.extend(checks)
        self._context.update(context or {})
        self._results = None

    def declared_checks(self) -> list[Check]:
        """The project's checks for every staged table and those added with :meth:`add_checks`."""
        project, now = self.ctx.project, self.ctx.end_of_run_date
        declared = [c for name in sorted(self._tables) for c in project.checks(f"{self.schema}.{name}", now=now)]
        return [*self._extra_checks, *declared]

    def audit(
        self, checks: Sequence[Check] | None = None, context: Mapping[str, ir.Table] | None = None
    ) -> pl.DataFrame:
        """Run ``checks`` (default: :meth:`declared_checks`) on the staged tables, store the
        results in ``ops.check_results`` and return them for display.

        Tables a check references beyond the build (``schema.table`` of a relationship or a
        totals match, the publish history of volume checks) are read from the warehouse;
        ``context`` supplies others by name.
        """
        checks = self.declared_checks() if checks is None else list(checks)
        known = {**self._context, **(context or {}), **self.tables}
        if (history := ops.read(self.ctx.con, HISTORY)) is not None:  # for volume checks
            known.setdefault(HISTORY, history)
        for reference in sorted({r for c in checks for r in c.references} - known.keys()):
            if "." in reference:
                known[reference] = self.ctx.table(reference)
            elif engine.table_exists(self.ctx.con, self.schema, reference):  # one the build left unchanged
                known[reference] = self.ctx.table(f"{self.schema}.{reference}")
        missing = sorted({c.table for c in checks} - known.keys())
        if missing:
            raise LookupError(f"checks name table(s) not in this build: {', '.join(missing)}")
        results = evaluate.run_checks(checks, known)
        stamp = {
            "run_id": ibis.literal(self.ctx.run_id),
            "stage": ibis.literal(self.ctx.stage),
            "schema_name": ibis.literal(self.schema),
            "checked_at": ibis.literal(self.ctx.run_started_at, type="timestamp"),
        }
        results = results.mutate(**stamp)
        ops.record(
            self.ctx.con,
            "check_results",
            results,
            replace_where={"run_id": self.ctx.run_id, "stage": self.ctx.stage, "schema_name": self.schema},
        )
        self._store_failures(checks, known, results)
        self._results = results
        shown = results.drop("run_id", "stage", "schema_name", "checked_at").order_by("table_name", "check_name")
        frame = shown.to_polars()
        statuses = frame.get_column("status").value_counts().rows() if frame.height else []
        events.emit("checks", schema=self.schema, **{str(status): int(n) for status, n in statuses})
        return frame

    def _store_failures(self, checks: Sequence[Check], known: Mapping[str, ir.Table], results: ir.Table) -> None:
        """Keep the failing rows of failed error checks in ``ops.check_failures`` (as JSON, up to
        :data:`MAX_STORED_FAILURES` per check) so an engineer can query what broke."""
        failed = set(results.filter(results.status == "fail").check_name.to_pyarrow().to_pylist())
        rows = []
        for check in checks:
            if check.name not in failed or not isinstance(check, RowCheck):
                continue
            bad = check.failing(known).limit(MAX_STORED_FAILURES).to_pyarrow().to_pylist()
            rows += [
                {
                    "check_name": check.name,
                    "table_name": check.table,
                    "row_number": i + 1,
                    "row_json": json.dumps(r, default=str, sort_keys=True),
                }
                for i, r in enumerate(bad)
            ]
        replace = {"run_id": self.ctx.run_id, "stage": self.ctx.stage, "schema_name": self.schema}
        if not rows and not ops.exists(self.ctx.con, "check_failures"):
            return
        table = ibis.memtable(
            rows, schema={"check_name": "string", "table_name": "string", "row_number": "int64", "row_json": "string"}
        )
        stamped = table.mutate(
            run_id=ibis.literal(self.ctx.run_id),
            stage=ibis.literal(self.ctx.stage),
            schema_name=ibis.literal(self.schema),
        )
        ops.record(self.ctx.con, "check_failures", stamped, replace_where=replace)

    def publish(self) -> pl.DataFrame:
        """Swap every staged table in, in one transaction, and return their row counts.

        Raises :class:`duckbook.quality.evaluate.CheckFailed` (and drops the staged tables, leaving the
        published ones untouched) when an error check failed, and ``RuntimeError`` when the build
        was not audited since its last change.
        """
        if self._results is None:
            raise RuntimeError(f"build of schema {self.schema!r} was not audited: call audit() before publish()")
        try:
            evaluate.raise_for_failures(self._results)
        except evaluate.CheckFailed:
            engine.drop_staged(self.ctx.con, self.schema, list(self._staged.values()))
            self._staged, self._tables = {}, {}
            raise
        counts = self.row_counts()
        events.emit("published", schema=self.schema, tables=counts.height, rows=int(counts.get_column("rows").sum()))
        engine.swap_in(self.ctx.con, self.schema, self._staged)
        log = ibis.memtable(counts.to_arrow()).mutate(
            run_id=ibis.literal(self.ctx.run_id),
            stage=ibis.literal(self.ctx.stage),
            schema_name=ibis.literal(self.schema),
            published_at=ibis.literal(self.ctx.run_started_at, type="timestamp"),
        )
        ops.record(
            self.ctx.con,
            "publish_log",
            log,
            replace_where={"run_id": self.ctx.run_id, "stage": self.ctx.stage, "schema_name": self.schema},
        )
        lineage.record(self.ctx.con, self.schema, self._lineage, run_id=self.ctx.run_id)
        self._staged, self._tables, self._lineage, self._results, self._counts = {}, {}, {}, None, None
        self._adopted = {}
        return counts
