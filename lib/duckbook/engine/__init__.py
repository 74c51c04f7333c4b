"""The one door to the engine.

Every connection is opened here, and raw SQL lives only here (and in the benchmark floor).
Transforms elsewhere are pure Ibis; this module materializes them.

DuckDB allows a single read-write process per database file, and even a read-only open fails while
a writer holds the file. duckbook therefore never lets a pipeline run write the file interactive
sessions read: :mod:`duckbook.runner` builds a copy and swaps it in with an atomic rename, and each
stage notebook disconnects when it ends. Open the warehouse from an exploration notebook with
``connect(read_only=True)``; your session keeps its snapshot until it reconnects.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook import config as _config

if TYPE_CHECKING:  # ibis is imported on first connect: the runner process never needs it
    import ibis
    from ibis.backends.duckdb import Backend as DuckDBBackend

#: Schemas the toolkit itself writes (run log, check results, quarantine, manifests).
OPS_SCHEMA = "ops"


def connect(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    cfg: _config.Config | None = None,
) -> DuckDBBackend:
    """Open the warehouse (default: the configured one) with the configured engine settings.

    Parameters
    ----------
    warehouse
        Path of the DuckDB file; ``None`` or ``""`` means the configured ``warehouse``.
        ``":memory:"`` opens an in-memory database (tests, docs).
    read_only
        Open without taking the write lock (exploration notebooks).
    """
    cfg = cfg or _config.load()
    if warehouse in (None, ""):
        path = str(cfg.warehouse)
    elif str(warehouse) == ":memory:":
        path = ":memory:"
    else:
        path = str(Path(warehouse).expanduser().resolve())
    if path != ":memory:":
        if read_only and not Path(path).exists():
            raise FileNotFoundError(f"warehouse {path} does not exist yet: run `make run` first")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    cfg.temp_directory.mkdir(parents=True, exist_ok=True)
    import ibis

    return ibis.duckdb.connect(
        path,
        read_only=read_only,
        memory_limit=cfg.memory_limit,
        threads=cfg.threads,
        temp_directory=str(cfg.temp_directory),
    )


def ensure_schema(con: DuckDBBackend, schema: str) -> None:
    """Create ``schema`` if it does not exist."""
    con.raw_sql(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")


def table_exists(con: DuckDBBackend, schema: str, name: str) -> bool:
    return name in con.list_tables(database=schema) if schema in con.list_databases() else False


def materialize_temp(con: DuckDBBackend, expr: ibis.Table, prefix: str = "_tmp") -> ibis.Table:
    """Compute ``expr`` once into a temporary table and return it (dropped with the session)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return con.create_table(name, obj=expr, temp=True)


def write_parquet(con: DuckDBBackend, expr: ibis.Table, path: Path) -> Path:
    """Write ``expr`` to ``path`` atomically: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con.to_parquet(expr, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def stage_table(con: DuckDBBackend, schema: str, name: str, expr: ibis.Table) -> tuple[str, str]:
    """Materialize ``expr`` under a hidden name in ``schema``; return that name and the SQL it
    was built with (kept for column-level lineage).

    One ``CREATE OR REPLACE TABLE ... AS`` from SQL compiled once; ibis's own create_table
    compiles too and runs create + insert (+ drop and rename to overwrite).
    """
    ensure_schema(con, schema)
    staged = f"_wap_{name}"
    con._run_pre_execute_hooks(expr)  # registers in-memory tables (memtables) the query reads
    sql = str(con.compile(expr))
    con.raw_sql(f"CREATE OR REPLACE TABLE {_ident(schema)}.{_ident(staged)} AS {sql}")
    return staged, sql


def swap_in(con: DuckDBBackend, schema: str, staged: dict[str, str]) -> None:
    """Replace ``schema.<name>`` by its staged build for every ``{name: staged_name}``, all in
    one transaction: readers of this file see every old table or every new one."""
    s = _ident(schema)
    statements = ["BEGIN TRANSACTION"]
    for name, staged_name in staged.items():
        statements.append(f"DROP TABLE IF EXISTS {s}.{_ident(name)}")
        statements.append(f"ALTER TABLE {s}.{_ident(staged_name)} RENAME TO {_ident(name)}")
    statements.append("COMMIT")
    try:
        con.raw_sql(";\n".join(statements))
    except Exception:
        con.raw_sql("ROLLBACK")
        raise


def drop_staged(con: DuckDBBackend, schema: str, staged_names: list[str]) -> None:
    for staged_name in staged_names:
        con.raw_sql(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(staged_name)}")


def append(con: DuckDBBackend, schema: str, name: str, rows: ibis.Table, *, replace_where: dict[str, object]) -> None:
    """Append ``rows`` to ``schema.name`` (created on first use), first deleting the rows whose
    columns equal ``replace_where`` (a list value means "any of"), in one transaction, so
    re-recording the same batch or run is idempotent."""
    ensure_schema(con, schema)
    if not table_exists(con, schema, name):
        target = con.create_table(name, schema=rows.schema(), database=schema)
    else:  # the toolkit's own tables evolve: add the columns a newer version records
        target = con.table(name, database=schema)
        existing = target.columns
        for column, dtype in rows.schema().items():
            if column not in existing:
                sql_type = con.compiler.type_mapper.to_string(dtype)
                con.raw_sql(f"ALTER TABLE {_ident(schema)}.{_ident(name)} ADD COLUMN {_ident(column)} {sql_type}")
                target = con.table(name, database=schema)
    where = (
        " AND ".join(
            f"{_ident(k)} IN ({', '.join(map(_literal, v)) or 'NULL'})"
            if isinstance(v, list)
            else f"{_ident(k)} = {_literal(v)}"
            for k, v in replace_where.items()
        )
        or "false"
    )
    con.raw_sql("BEGIN TRANSACTION")
    try:
        con.raw_sql(f"DELETE FROM {_ident(schema)}.{_ident(name)} WHERE {where}")
        con.insert(name, obj=rows.select(*target.columns), database=schema)
        con.raw_sql("COMMIT")
    except Exception:
        con.raw_sql("ROLLBACK")
        raise


_RUN_LOG_DDL = """
CREATE TABLE IF NOT EXISTS ops.run_log (
    run_id VARCHAR, stage VARCHAR, status VARCHAR, parameters VARCHAR, started_at TIMESTAMP,
    ended_at TIMESTAMP, duration_s DOUBLE, rows_written BIGINT
)"""


def write_run_log(path: Path, rows: list[dict[str, object]]) -> None:
    """Replace the run's rows in ``ops.run_log`` of the DuckDB file ``path``, in one transaction.

    Uses the duckdb module directly: the runner process should not pay for importing Ibis.
    """
    import duckdb

    cols = ["run_id", "stage", "status", "parameters", "started_at", "ended_at", "duration_s", "rows_written"]
    with duckdb.connect(str(path)) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {OPS_SCHEMA}")
        con.execute(_RUN_LOG_DDL)
        con.execute("DELETE FROM ops.run_log WHERE run_id = ?", [rows[0]["run_id"]])
        con.executemany(
            f"INSERT INTO ops.run_log ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [[r[c] for c in cols] for r in rows],
        )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")


def rows_published(path: Path, run_id: str) -> dict[str, int]:
    """Rows published per stage by ``run_id``, from ``ops.publish_log`` of the file ``path``."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops' AND table_name = 'publish_log'"
        ).fetchone()[0]
        if not exists:
            return {}
        rows = con.execute(
            "SELECT stage, sum(rows) FROM ops.publish_log WHERE run_id = ? GROUP BY stage", [run_id]
        ).fetchall()
    return {stage: int(n) for stage, n in rows}


def remove_database(path: Path) -> None:
    """Delete a DuckDB file and its WAL, if they exist."""
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


def copy_database(src: Path, dst: Path) -> None:
    """Copy a DuckDB file (and its WAL, if any) to ``dst``; nothing to copy leaves no ``dst``."""
    remove_database(dst)
    if src.exists():
        shutil.copyfile(src, dst)
        if Path(f"{src}.wal").exists():
            shutil.copyfile(f"{src}.wal", f"{dst}.wal")


def replace_database(built: Path, live: Path) -> None:
    """Atomically make ``built`` the live warehouse. Readers that still hold the old file keep
    reading their snapshot (POSIX rename semantics)."""
    Path(f"{live}.wal").unlink(missing_ok=True)
    os.replace(built, live)


def checkpoint(con: DuckDBBackend) -> None:
    """Fold the WAL into the database file (before it is copied or swapped)."""
    con.raw_sql("CHECKPOINT")


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def profile(con: DuckDBBackend, schema: str, table: str) -> dict[str, object]:
    """Row count and, per column, type, null count, min and max (as text) in one scan."""
    columns = con.raw_sql(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        parameters=[schema, table],
    ).fetchall()
    parts = ["count(*)"]
    for name, _ in columns:
        c = _ident(name)
        parts += [f"count({c})", f"CAST(min({c}) AS VARCHAR)", f"CAST(max({c}) AS VARCHAR)"]
    row = con.raw_sql(f"SELECT {', '.join(parts)} FROM {_ident(schema)}.{_ident(table)}").fetchone()
    n = row[0]
    cols = []
    for i, (name, dtype) in enumerate(columns):
        non_null, lo, hi = row[1 + 3 * i : 4 + 3 * i]
        cols.append({"name": name, "type": dtype, "nulls": n - non_null, "min": lo, "max": hi})
    return {"rows": n, "columns": cols}


def count_rows(tables: list[ibis.Table]) -> list[int]:
    """Row counts of many expressions in one query (one round trip instead of one per table).

    >>> import ibis
    >>> t = ibis.memtable({"a": [1, 2, 3]})
    >>> count_rows([t, t.filter(t.a > 1), t.filter(t.a > 5)])
    [3, 2, 0]
    """
    import ibis

    if not tables:
        return []
    parts = [t.aggregate(_i=ibis.literal(i, type="int64"), _n=ibis._.count()) for i, t in enumerate(tables)]
    result = ibis.union(*parts).to_pyarrow().to_pylist() if len(parts) > 1 else parts[0].to_pyarrow().to_pylist()
    by_index = {r["_i"]: int(r["_n"]) for r in result}
    return [by_index[i] for i in range(len(tables))]
