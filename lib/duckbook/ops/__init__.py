"""The toolkit's own tables (schema ``ops``): run log, publish log, check results and failures,
quarantine, ingest manifest, lineage; the history of runs (:mod:`duckbook.ops.history`).

Each table is declared once (:mod:`duckbook.ops.tables`); :func:`record` is its one writer and
:func:`read` / :func:`table` / :func:`exists` its readers (:mod:`duckbook.ops.store`); the runner
keeps the run log with plain DuckDB (:mod:`duckbook.ops.runlog`). Importing this package does not
import Ibis.
"""

from duckbook.ops.history import CheckCounts, RunNotFound, RunRecord, StageRecord, run_history, run_record
from duckbook.ops.runlog import Run, publish_run_log, rows_published, runs, write_run_log
from duckbook.ops.store import conform, exists, read, record, table
from duckbook.ops.tables import (
    CHECK_RESULT_COLUMNS,
    DESCRIPTIONS,
    SCHEMA,
    OpsTableError,
    OpsTableNotFound,
    RunLogEntry,
    columns,
    schema,
)

__all__ = [
    "CheckCounts",
    "Run",
    "RunNotFound",
    "RunRecord",
    "StageRecord",
    "run_history",
    "run_record",
    "DESCRIPTIONS",
    "CHECK_RESULT_COLUMNS",
    "SCHEMA",
    "OpsTableError",
    "OpsTableNotFound",
    "RunLogEntry",
    "columns",
    "conform",
    "exists",
    "read",
    "record",
    "publish_run_log",
    "rows_published",
    "schema",
    "table",
    "runs",
    "write_run_log",
]
