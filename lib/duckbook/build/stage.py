"""What a stage notebook holds: the run's identity, a connection, and write-audit-publish builds.

A stage notebook starts with :func:`start_stage`, builds its tables into a :class:`Build`
(materialized under hidden ``_wap_`` names), audits them with checks, and publishes them: every
table of the build is swapped in by one transaction, and only when no error check failed. A failed
audit drops the staged tables, so the previously published tables stay in place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import polars as pl

from duckbook.quality import checks as _checks
from duckbook import config as _config
from duckbook import engine, ops
from duckbook.build import lineage
from duckbook.params import parse_date, parse_timestamp, validate_identifier, validate_token


@dataclasses.dataclass
class StageContext:
    """The run a stage belongs to and its open warehouse."""

    stage: str
    run_id: str
    run_started_at: dt.datetime
    run_date: dt.date
    cfg: _config.Config
    con: engine.DuckDBBackend

    def tables(self, schema: str) -> dict[str, ir.Table]:
        """Every published table of ``schema`` by name (hidden ``_`` tables excluded)."""
        if schema not in self.con.list_databases():
            raise LookupError(f"schema {schema!r} does not exist in {self.cfg.warehouse}: run the earlier stages first")
        tables = {n: self.con.table(n, database=schema) for n in self.con.list_tables(database=schema) if not n.startswith("_")}
        if not tables:
            raise LookupError(f"schema {schema!r} in {self.cfg.warehouse} has no published tables: run the earlier stages first")
        return tables

    def build(self, schema: str) -> Build:
        """Start a write-audit-publish build of tables in ``schema``."""
        return Build(self, schema)

    def close(self) -> None:
        """Release the warehouse (DuckDB has one writer per file; the next stage needs it)."""
        engine.checkpoint(self.con)
        self.con.disconnect()


def start_stage(
    stage: str,
    *,
    run_id: str = "",
    run_started_at: str = "",
    run_date: str = "",
    warehouse: str = "",
) -> StageContext:
    """Validate a stage's common parameters and open the warehouse.

    Empty values mean: ``run_id`` "manual-<stage>", ``run_started_at`` now (UTC),
    ``run_date`` the date of ``run_started_at``, ``warehouse`` the configured one.
    Raises ``ValueError`` naming the parameter when one is malformed.
    """
    run_id = run_id or f"manual-{stage}"
    validate_token("run_id", run_id)
    started = parse_timestamp("run_started_at", run_started_at) if run_started_at else dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    day = parse_date("run_date", run_date) if run_date else started.date()
    cfg = _config.load(warehouse=warehouse)
    return StageContext(stage=stage, run_id=run_id, run_started_at=started, run_date=day, cfg=cfg, con=engine.connect(cfg.warehouse, cfg=cfg))


#: Failing rows kept per failed check (the count in ops.check_results is always exact).
MAX_STORED_FAILURES = 10_000


class Build:
    """Tables built together, audited together and published together into one schema."""

    def __init__(self, ctx: StageContext, schema: str) -> None:
        validate_identifier("schema", schema)
        self.ctx, self.schema = ctx, schema
        self._staged: dict[str, str] = {}
        self._tables: dict[str, ir.Table] = {}
        self._lineage: dict[str, dict[str, object]] = {}
        self._results: ir.Table | None = None
        self._counts: pl.DataFrame | None = None

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
        self._tables[name] = self.ctx.con.table(self._staged[name], database=self.schema)
        return self._tables[name]

    @property
    def tables(self) -> dict[str, ir.Table]:
        """The staged tables by their final names."""
        return dict(self._tables)

    def row_counts(self) -> pl.DataFrame:
        """Rows per staged table, sorted by table name (counted once per change of the build)."""
        if self._counts is None:
            names = sorted(self._staged)
            counts = _checks.count_rows([self.tables[n] for n in names])
            self._counts = pl.DataFrame({"table": [f"{self.schema}.{n}" for n in names], "rows": counts},
                                        schema={"table": pl.String, "rows": pl.Int64})
        return self._counts

    def audit(self, checks: Sequence[_checks.Check], context: Mapping[str, ir.Table] | None = None) -> pl.DataFrame:
        """Run ``checks`` on the staged tables (``context`` supplies other tables they reference),
        store the results in ``ops.check_results`` and return them for display."""
        known = {**(context or {}), **self.tables}
        if (history := ops.read(self.ctx.con, _checks.HISTORY)) is not None:  # for volume checks
            known.setdefault(_checks.HISTORY, history)
        missing = sorted({c.table for c in checks} - known.keys())
        if missing:
            raise LookupError(f"checks name table(s) not in this build: {', '.join(missing)}")
        results = _checks.run_checks(checks, known)
        stamp = {
            "run_id": ibis.literal(self.ctx.run_id),
            "stage": ibis.literal(self.ctx.stage),
            "schema_name": ibis.literal(self.schema),
            "checked_at": ibis.literal(self.ctx.run_started_at, type="timestamp"),
        }
        results = results.mutate(**stamp)
        ops.record(self.ctx.con, "check_results", results,
                   replace_where={"run_id": self.ctx.run_id, "stage": self.ctx.stage, "schema_name": self.schema})
        self._store_failures(checks, known, results)
        self._results = results
        return results.drop("run_id", "stage", "schema_name", "checked_at").order_by("table_name", "check_name").to_polars()

    def _store_failures(self, checks: Sequence[_checks.Check], known: Mapping[str, ir.Table], results: ir.Table) -> None:
        """Keep the failing rows of failed error checks in ``ops.check_failures`` (as JSON, up to
        :data:`MAX_STORED_FAILURES` per check) so an engineer can query what broke."""
        failed = set(results.filter(results.status == "fail").check_name.to_pyarrow().to_pylist())
        rows = []
        for check in checks:
            if check.name not in failed or check.failing is None:
                continue
            bad = check.failing(known).limit(MAX_STORED_FAILURES).to_pyarrow().to_pylist()
            rows += [{"check_name": check.name, "table_name": check.table, "row_number": i + 1,
                      "row_json": json.dumps(r, default=str, sort_keys=True)} for i, r in enumerate(bad)]
        replace = {"run_id": self.ctx.run_id, "stage": self.ctx.stage, "schema_name": self.schema}
        if not rows and not ops.exists(self.ctx.con, "check_failures"):
            return
        table = ibis.memtable(rows, schema={"check_name": "string", "table_name": "string", "row_number": "int64", "row_json": "string"})
        stamped = table.mutate(run_id=ibis.literal(self.ctx.run_id), stage=ibis.literal(self.ctx.stage),
                               schema_name=ibis.literal(self.schema))
        ops.record(self.ctx.con, "check_failures", stamped, replace_where=replace)

    def publish(self) -> pl.DataFrame:
        """Swap every staged table in, in one transaction, and return their row counts.

        Raises :class:`duckbook.quality.checks.CheckFailed` (and drops the staged tables, leaving the
        published ones untouched) when an error check failed, and ``RuntimeError`` when the build
        was not audited since its last change.
        """
        if self._results is None:
            raise RuntimeError(f"build of schema {self.schema!r} was not audited: call audit(checks) before publish()")
        try:
            _checks.raise_for_failures(self._results)
        except _checks.CheckFailed:
            engine.drop_staged(self.ctx.con, self.schema, list(self._staged.values()))
            self._staged, self._tables = {}, {}
            raise
        counts = self.row_counts()
        engine.swap_in(self.ctx.con, self.schema, self._staged)
        log = ibis.memtable(counts.to_arrow()).mutate(
            run_id=ibis.literal(self.ctx.run_id),
            stage=ibis.literal(self.ctx.stage),
            schema_name=ibis.literal(self.schema),
            published_at=ibis.literal(self.ctx.run_started_at, type="timestamp"),
        )
        ops.record(self.ctx.con, "publish_log", log,
                   replace_where={"run_id": self.ctx.run_id, "stage": self.ctx.stage, "schema_name": self.schema})
        lineage.record(self.ctx.con, self.schema, self._lineage, run_id=self.ctx.run_id)
        self._staged, self._tables, self._lineage, self._results, self._counts = {}, {}, {}, None, None
        return counts
