"""What a stage notebook holds: the run's identity, the project and an open warehouse.

A stage notebook starts with :func:`start_stage` (the boundary where notebook parameters, plain
strings with ``""`` for "not given", become typed values) and builds its tables with
:meth:`StageContext.build_models` or :meth:`StageContext.build` (:mod:`duckbook.build.wap`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import secrets
from collections.abc import Iterator, Mapping

import ibis
import ibis.expr.types as ir

from duckbook import config as _config
from duckbook import engine, ops
from duckbook.build.models import build_models
from duckbook.build.wap import Build
from duckbook.params import parse_date, parse_timestamp, validate_token
from duckbook.project import Project
from duckbook.project import load as load_project


@dataclasses.dataclass
class StageContext:
    """The run a stage belongs to and its open warehouse."""

    stage: str
    run_id: str
    run_started_at: dt.datetime
    run_date: dt.date
    cfg: _config.Config
    con: engine.DuckDBBackend
    #: the snapshot a read-only stage (a report reproduced ``as_of`` a run) reads; None: it writes
    as_of: str | None = None
    #: when the stage started (UTC): a stage run by hand records its duration from it
    opened_at: dt.datetime = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    #: ``schema.table`` of every table the stage read through :meth:`table` / :meth:`tables`
    reads: set[str] = dataclasses.field(default_factory=set, init=False, repr=False)

    @property
    def end_of_run_date(self) -> dt.datetime:
        """The end of ``run_date``: what freshness and "no future dates" checks compare with."""
        return dt.datetime.combine(self.run_date, dt.time(23, 59, 59))

    def tables(self, schema: str) -> Mapping[str, ir.Table]:
        """Every published table of ``schema`` by name (hidden ``_`` tables excluded); the ones
        the stage looks up (or iterates over) count as read (:attr:`reads`)."""
        if schema not in self.con.list_databases():
            raise LookupError(f"schema {schema!r} does not exist in {self.cfg.warehouse}: run the earlier stages first")
        names = [n for n in self.con.list_tables(database=schema) if not n.startswith("_")]
        if not names:
            raise LookupError(
                f"schema {schema!r} in {self.cfg.warehouse} has no published tables: run the earlier stages first"
            )
        return _Reads({n: self.con.table(n, database=schema) for n in names}, schema, self.reads)

    def table(self, qualified: str) -> ir.Table:
        """The published table ``schema.table``; ``LookupError`` says which stage to run first."""
        schema, _, name = qualified.partition(".")
        found = engine.table(self.con, schema, name) if schema and name else None
        if found is None:
            raise LookupError(f"table {qualified} is not in {self.cfg.warehouse}: run the stage that builds it first")
        self.reads.add(qualified)
        return found

    @functools.cached_property
    def project(self) -> Project:
        """The project (models, sources, checks, semantic layer), loaded once per stage."""
        return load_project(self.cfg)

    def build_models(self, group: str, *, full_refresh: bool = False) -> Build:
        """Bring every declared model of ``group`` up to date in DAG order (see
        :func:`duckbook.build.models.build_models`); audit and publish the returned build."""
        return build_models(self, group, full_refresh=full_refresh)

    def build(self, schema: str) -> Build:
        """Start a write-audit-publish build of tables in ``schema``."""
        return Build(self, schema)

    def close(self) -> None:
        """End the stage. Run by hand, it publishes what the stage built as one snapshot and
        releases the warehouse; inside a run it does nothing: the runner publishes the whole
        run at its end (or nothing)."""
        if self.as_of is not None:
            self.con.disconnect()
            return
        self._record_reads()
        if engine.in_run():
            return
        self._record_hand_run()
        engine.publish(self.con, message=f"stage {self.stage}", extra={"run_id": self.run_id, "stage": self.stage})
        engine.close_writer(self.cfg)

    def _record_reads(self) -> None:
        """Keep what the stage read in ``ops.stage_reads`` (replacing its previous rows): the docs
        site shows a report stage's as the report's exposures, so they cannot drift from the notebook."""
        if not self.reads:
            return
        rows = [{"stage": self.stage, "table_name": t, "run_id": self.run_id} for t in sorted(self.reads)]
        ops.record(self.con, "stage_reads", ibis.memtable(rows), replace_where={"stage": self.stage})

    def _record_hand_run(self) -> None:
        """A stage run by hand (JupyterLab, plain papermill) is in the run log too: one row, its
        run id ``manual-...``, in the snapshot it publishes. It records no fingerprint: the next
        ``duckbook run`` sees the tables it changed and reruns what reads them."""
        ended = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        parameters = {
            "run_id": self.run_id,
            "run_date": self.run_date.isoformat(),
            "warehouse": str(self.cfg.warehouse),
        }
        entry = ops.RunLogEntry(
            run_id=self.run_id,
            stage=self.stage,
            status="success",
            parameters=json.dumps(parameters, sort_keys=True),
            started_at=self.opened_at,
            ended_at=ended,
            duration_s=round((ended - self.opened_at).total_seconds(), 3),
            rows_written=ops.rows_published(self.con, self.run_id).get(self.stage, 0),
        )
        ops.write_run_log(self.con, [entry])


def start_stage(
    stage: str,
    *,
    run_id: str | None = None,
    run_started_at: str | None = None,
    run_date: str | None = None,
    warehouse: str | None = None,
    as_of: str | None = None,
) -> StageContext:
    """Validate a stage's common parameters and open the warehouse.

    ``None`` or ``""`` (a notebook parameter left empty) means: ``run_id`` "manual-<time>-<random>",
    ``run_started_at`` now (UTC), ``run_date`` the date of ``run_started_at``, ``warehouse`` the
    configured one. ``as_of`` (a run id, snapshot id or timestamp) opens the warehouse read-only
    as that run published it, so a report can be reproduced later; the stage then writes nothing.
    Raises :class:`duckbook.params.ParameterError` naming a malformed parameter.
    """
    if run_started_at:
        started = parse_timestamp("run_started_at", run_started_at)
    else:
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = validate_token("run_id", run_id or f"manual-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}")
    day = parse_date("run_date", run_date) if run_date else started.date()
    cfg = _config.load(warehouse=warehouse or None)
    if as_of:
        reader = engine.connect(read_only=True, as_of=as_of, cfg=cfg)
        return StageContext(stage, run_id, started, day, cfg, reader, as_of=as_of)
    con = engine.connect(cfg=cfg)  # the process's writer: one per kernel, reused by every stage
    if not engine.in_run():
        engine.begin(con)  # a stage run by hand is one transaction (a failed cell's is rolled back)
    elif not engine.in_transaction(con):
        engine.begin(con)  # the run's transaction, if the runner has not opened it
    return StageContext(stage=stage, run_id=run_id, run_started_at=started, run_date=day, cfg=cfg, con=con)


class _Reads(Mapping[str, ir.Table]):
    """A schema's tables by name that adds each table looked up (or iterated over) to ``reads``."""

    def __init__(self, tables: dict[str, ir.Table], schema: str, reads: set[str]) -> None:
        self._tables, self._schema, self._reads = tables, schema, reads

    def __getitem__(self, name: str) -> ir.Table:
        table = self._tables[name]
        self._reads.add(f"{self._schema}.{name}")
        return table

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)
