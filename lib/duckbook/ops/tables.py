"""Every table of the ``ops`` schema, declared once: its columns and their types.

The declarations are Ibis type names (what :func:`ibis.schema` takes); the run log's is the
:class:`RunLogEntry` row the runner builds. Importing this module does not import Ibis (the runner
records the run log with plain DuckDB); :func:`schema` does.

>>> schema("lineage")
ibis.Schema {
  schema_name  string
  table_name   string
  upstream     string
  sql          string
  run_id       string
}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import typing
from typing import TYPE_CHECKING

from duckbook.errors import DuckbookError

if TYPE_CHECKING:
    import ibis.expr.schema as sch

#: The schema the toolkit's own tables live in.
SCHEMA = "ops"


@dataclasses.dataclass(frozen=True)
class RunLogEntry:
    """One stage of a pipeline run, as ``ops.run_log`` keeps it."""

    run_id: str
    stage: str
    #: success | failed | skipped (fingerprint unchanged: not executed) | stale (not selected,
    #: though its inputs changed)
    status: str
    parameters: str  # the stage's parameters, as JSON
    started_at: dt.datetime
    ended_at: dt.datetime
    duration_s: float
    rows_written: int  # rows the stage published (from ops.publish_log)
    error: str = ""  # why the stage failed ("" when it did not)
    #: what the stage's result depended on when it ran or was skipped (duckbook.run.fingerprint)
    fingerprint: str = ""


#: Ibis type name of each Python type a row dataclass uses.
_IBIS_TYPES = {str: "string", int: "int64", float: "float64", dt.datetime: "timestamp"}


def _columns_of(row_type: type) -> dict[str, str]:
    hints = typing.get_type_hints(row_type)
    return {f.name: _IBIS_TYPES[hints[f.name]] for f in dataclasses.fields(row_type)}


_STAMP = {"run_id": "string", "stage": "string", "schema_name": "string"}  # which run, stage and build wrote a row

#: The columns of one check's result, as :func:`duckbook.quality.evaluate.run_checks` returns it;
#: ``ops.check_results`` stores them with the run's stamp.
CHECK_RESULT_COLUMNS = {
    "check_name": "string",
    "table_name": "string",
    "column_name": "string",
    "severity": "string",
    "description": "string",
    "failing_rows": "int64",
    "observed": "float64",
    "threshold": "string",
    "status": "string",
    "failing_sample": "string",
}

#: ``{table: {column: Ibis type}}``, each table's columns in the order it is created with.
COLUMNS: dict[str, dict[str, str]] = {
    "run_log": _columns_of(RunLogEntry),
    "publish_log": {"table": "string", "rows": "int64", **_STAMP, "published_at": "timestamp"},
    "check_results": {**CHECK_RESULT_COLUMNS, **_STAMP, "checked_at": "timestamp"},
    "check_failures": {
        "check_name": "string",
        "table_name": "string",
        "row_number": "int64",
        "row_json": "string",
        **_STAMP,
    },
    "quarantine": {
        "source_table": "string",
        "batch_id": "string",
        "source_file": "string",
        "line": "int64",
        "reason_code": "string",
        "reason": "string",
        "raw_row": "string",
        "run_id": "string",
        "quarantined_at": "timestamp",
    },
    "ingest_manifest": {  # duckbook.ingest.files.Batch, then the run
        "table": "string",
        "batch_id": "string",
        "source_file": "string",
        "parquet_path": "string",
        "rows_read": "int64",
        "rows_landed": "int64",
        "rows_quarantined": "int64",
        "rows_duplicate": "int64",
        "extra_columns": "string",
        # the delivery (duckbook.ingest.deliveries): its date (the run's for an undated file), the
        # file's path under source_dir, size and sha256, and what it was (new | correction | refresh)
        "delivery_date": "date",
        "file_path": "string",
        "file_size": "int64",
        "checksum": "string",
        "status": "string",
        "rows_new": "int64",  # landed rows the raw table did not hold yet (re-sent keys are not new)
        "run_id": "string",
        "ingested_at": "timestamp",
    },
    "changes": {  # duckbook.build.changes: what each build changed, for the models downstream
        "seq": "int64",
        "table_name": "string",
        "is_full": "boolean",
        "key_column": "string",
        "keys_json": "string",
        "time_column": "string",
        "since": "timestamp",
        "run_id": "string",
    },
    "model_state": {  # per model: the last change it consumed, and (snapshots) the batches applied
        "model": "string",
        "consumed_seq": "int64",
        "applied_json": "string",
        "run_id": "string",
        "code": "string",  # the model's code fingerprint when it was built (duckbook.project.Model.fingerprint)
    },
    "schema_history": {  # duckbook.ingest.evolution.Evolution.history
        "table_name": "string",
        "column_name": "string",
        "change": "string",
        "old_type": "string",
        "new_type": "string",
        "batch_id": "string",
        "run_id": "string",
        "changed_at": "timestamp",
    },
    "lineage": {
        "schema_name": "string",
        "table_name": "string",
        "upstream": "string",
        "sql": "string",
        "run_id": "string",
    },
    "model_runs": {  # duckbook.build.materialize.Outcome of every declared model a stage brought up to date
        "model": "string",
        "action": "string",  # full | incremental | snapshot | unchanged | stale | not selected
        "detail": "string",
        "run_id": "string",
        "stage": "string",
    },
    "stage_reads": {  # duckbook.build.context: the tables a stage read (a report's are its exposures)
        "stage": "string",
        "table_name": "string",  # schema.table
        "run_id": "string",
    },
    "cdc_health": {  # duckbook.ingest.cdc.Health of each CDC consumer (one slot) per ingest
        "run_id": "string",
        "source": "string",
        "slot": "string",
        "lag_bytes": "int64",
        "retained_wal_bytes": "int64",
        "wal_status": "string",
        "landed_lsn": "string",
        "landed_commit_time": "timestamp",
        "transactions": "int64",
        "events": "int64",
        "checked_at": "timestamp",
    },
}

#: What each table holds, for the docs site.
DESCRIPTIONS = {
    "run_log": "One row per stage per run: status, parameters, timings, rows written.",
    "publish_log": "Rows published per table per run.",
    "check_results": "Every check result of every run.",
    "check_failures": "The failing rows of failed error checks, as JSON, per run.",
    "quarantine": "Rows that broke their source contract, with reason, file, line and raw text.",
    "ingest_manifest": "One row per ingested file (batch): its delivery, path, size, checksum and status; rows read, landed, quarantined, new.",
    "changes": "What each build changed (all rows, the rows of some keys, or the rows since a day), consumed by the incremental models downstream.",
    "model_state": "Per model: the last change it consumed, its code fingerprint and, for snapshot models, the source batches applied.",
    "schema_history": "Column changes of raw tables (added, widened, missing) with the batch that brought them.",
    "lineage": "Tables each table is built from, and the SQL it was built with.",
    "model_runs": "What each run did to each declared model (rebuilt, incremental, unchanged, stale) and why.",
    "stage_reads": "The tables each stage read when it last ran: for a report stage, what the report uses (its exposures).",
    "cdc_health": "Per CDC slot per ingest: lag and retained WAL in bytes, WAL status, the last landed LSN and commit time, transactions and events landed.",
}
assert DESCRIPTIONS.keys() == COLUMNS.keys(), "every ops table is described"


class OpsTableError(DuckbookError):
    """An ops table is unknown, or rows do not have its declared columns."""


class OpsTableNotFound(OpsTableError, LookupError):
    """A declared ops table is not in the warehouse yet (nothing has recorded into it)."""


def columns(name: str) -> dict[str, str]:
    """The declared ``{column: Ibis type}`` of ops table ``name``.

    Raises
    ------
    OpsTableError
        ``name`` is not an ops table; the message lists the ops tables.
    """
    try:
        return COLUMNS[name]
    except KeyError:
        raise OpsTableError(f"{SCHEMA}.{name} is not an ops table; ops tables: {', '.join(sorted(COLUMNS))}") from None


@functools.cache
def schema(name: str) -> sch.Schema:
    """The declared Ibis schema of ops table ``name`` (see :func:`columns`)."""
    import ibis

    return ibis.schema(columns(name))
