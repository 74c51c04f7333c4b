"""What the docs site shows of each table (:func:`collect`) and the lineage graph's nodes and edges.

Per table: description, row count, materialization, what it is built from (the declared DAG and
``ops.lineage``, without temporary tables), what reads it (tables and report stages, from
``ops.stage_reads``: the exposures), its checks' latest status (per column too), the compiled SQL
and per column type, description, null share, min/max and the upstream columns sqlglot traces it
to. A column is PII when declared so or when its lineage reaches a PII column; PII and the
columns that keep raw values (a quarantined line, a failing row) never show a value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from duckbook import engine, ops
from duckbook.publish.column_lineage import cached_column_lineage
from duckbook.publish.lineage_graph import Node

if TYPE_CHECKING:
    from duckbook.publish.docs import Descriptions

LAYERS = ("source", "raw", "staging", "marts", "metrics")
#: Columns that keep raw values of other tables (a quarantined line, a failing row as JSON):
#: they may hold PII of any source, so their values are never shown.
RAW_VALUES = {
    "ops.quarantine": {"raw_row"},
    "ops.check_failures": {"row_json"},
    "ops.check_results": {"failing_sample"},
}


def layer_rank(schema: str) -> int:
    return LAYERS.index(schema) if schema in LAYERS else len(LAYERS)


def report_name(stage: str) -> str | None:
    """``overview`` for stage ``50_report_overview`` (as :mod:`duckbook.run.stages` names pages).

    >>> report_name("50_report_overview"), report_name("30_marts")
    ('overview', None)
    """
    rest = stage.split("_", 1)[1] if "_" in stage else stage
    return rest.removeprefix("report_") if rest.startswith("report_") else None


def _is_table(name: str) -> bool:
    """A warehouse table, not a temporary one (``main._history_...``) or a raw-zone path (``lake:``)."""
    schema, _, table = name.partition(".")
    return ":" not in name and schema not in ("main", "temp") and bool(table) and not table.startswith("_")


def _exposures(con: engine.DuckDBBackend) -> dict[str, list[str]]:
    """``{schema.table: [report, ...]}`` from what each report stage read when it last ran."""
    out: dict[str, set[str]] = {}
    if (reads := ops.read(con, "stage_reads")) is not None:
        for row in reads.to_pyarrow().to_pylist():
            if name := report_name(row["stage"]):
                out.setdefault(row["table_name"], set()).add(name)
    return {k: sorted(v) for k, v in out.items()}


def _latest_checks(con: engine.DuckDBBackend) -> dict[str, list[dict[str, Any]]]:
    checks: dict[str, list[dict[str, Any]]] = {}
    if (r := ops.read(con, "check_results")) is not None:
        latest = r.filter(r.checked_at == r.checked_at.max().over(group_by=[r.schema_name, r.check_name]))
        cols = ["schema_name", "table_name", "column_name", "check_name", "severity", "status", "failing_rows"]
        for row in latest.select(*cols).order_by("check_name").to_pyarrow().to_pylist():
            checks.setdefault(f"{row['schema_name']}.{row['table_name']}", []).append(row)
    return checks


def _compiled_sql(con: engine.DuckDBBackend, key: str, recorded: str, descriptions: Descriptions) -> str:
    """The DuckDB SQL the table's expression compiled to (as ``ops.lineage`` keeps it); for a model
    the build recorded as a read of a temporary table (snapshot models, whose SCD2 history is applied
    after), its function compiled over the published inputs. ``""`` when there is none (raw tables)."""
    query = recorded.lstrip().upper().startswith(("SELECT", "WITH"))
    if query and "ibis_read_" not in recorded and '"temp"' not in recorded:
        return recorded
    model, inputs = descriptions.models.get(key), descriptions.edges.get(key)
    if model is None or inputs is None:
        return ""
    import ibis

    try:
        tables = [con.table(i.split(".", 1)[1], database=i.split(".", 1)[0]) for i in inputs]
        return str(ibis.to_sql(model.function(*tables), dialect="duckdb"))
    except Exception:  # an input not published yet, or a function that needs more than its tables
        return ""


def collect(
    con: engine.DuckDBBackend, descriptions: Descriptions, cache: dict[str, dict[str, list[str]]] | None = None
) -> list[dict[str, Any]]:
    """Everything the page shows, per table, sorted by layer then name.

    ``cache`` memoizes column lineage by SQL text (see
    :func:`~duckbook.publish.column_lineage.cached_column_lineage`).
    """
    cache = {} if cache is None else cache
    tables = [
        (s, t)
        for s in con.list_databases()
        if s in LAYERS or s == ops.SCHEMA
        for t in con.list_tables(database=s)
        if not t.startswith("_")
    ]
    recorded = {}
    if (lineage_log := ops.read(con, "lineage")) is not None:
        for row in lineage_log.to_pyarrow().to_pylist():
            recorded[f"{row['schema_name']}.{row['table_name']}"] = row
    checks, exposures = _latest_checks(con), _exposures(con)
    pii_columns = {f"{t}.{c}" for t, cols in descriptions.pii.items() for c in cols}
    out = []
    for schema, table in sorted(tables, key=lambda st: (layer_rank(st[0]), st[1])):
        key = f"{schema}.{table}"
        prof = engine.profile(con, schema, table)
        rows, columns = prof["rows"], cast(list[dict[str, Any]], prof["columns"])
        rec = recorded.get(key)
        sql = _compiled_sql(con, key, rec["sql"], descriptions) if rec else ""
        col_lineage = cached_column_lineage(sql, [c["name"] for c in columns], cache) if sql else {}
        upstream = _upstream(key, json.loads(rec["upstream"]) if rec else [], descriptions)
        hidden = RAW_VALUES.get(key, set())
        table_checks = checks.get(key, [])
        cols = []
        for c in columns:
            lineage = col_lineage.get(c["name"], [])
            # traced to a PII column; through a star sqlglot could not expand, to the one of the same name
            traced = {x[:-1] + c["name"] if x.endswith(".*") else x for x in lineage}
            pii = f"{key}.{c['name']}" in pii_columns or bool(traced & pii_columns)
            if pii:  # PII downstream of a PII column too
                pii_columns.add(f"{key}.{c['name']}")
            cols.append(
                {
                    **c,
                    "description": descriptions.column(key, c["name"]),
                    "pii": pii,
                    "raw_values": c["name"] in hidden,
                    "null_share": (c["nulls"] / rows) if rows else 0.0,
                    "lineage": lineage,
                    "tests": [x for x in table_checks if x["column_name"] == c["name"]],
                }
            )
        model = descriptions.models.get(key)
        out.append(
            {
                "key": key,
                "schema": schema,
                "table": table,
                "description": descriptions.tables.get(key, ""),
                "origin": descriptions.origins.get(key, ""),
                "materialization": descriptions.materializations.get(key)
                or (model.materialization if model else "")
                or (
                    f"ingested from {descriptions.sources[key]}, appended per delivery"
                    if key in descriptions.sources
                    else ""
                ),
                "rows": rows,
                "upstream": upstream,
                "exposures": exposures.get(key, []),
                "checks": table_checks,
                "status": _status(table_checks),
                "sql": sql,
                "columns": cols,
            }
        )
    downstream: dict[str, list[str]] = {}
    for t in out:
        for u in t["upstream"]:
            downstream.setdefault(u, []).append(t["key"])
    for t in out:
        t["downstream"] = sorted(downstream.get(t["key"], []))
    return out


def _upstream(key: str, recorded: list[str], descriptions: Descriptions) -> list[str]:
    """What ``key`` is built from: the declared inputs and the recorded warehouse tables; a raw
    table's declared source file (else the recorded files)."""
    found = set(descriptions.edges.get(key, ())) | {u for u in recorded if _is_table(u)}
    if source := descriptions.sources.get(key):
        found.add(f"file:{source}")
    else:
        found |= {u for u in recorded if u.startswith("file:")}
    return sorted(found)


def _status(checks: list[dict[str, Any]]) -> str:
    """``fail`` if an error check failed, ``warn`` if any check did not pass, ``pass``, or ``""``."""
    if not checks:
        return ""
    failed = [c for c in checks if c["status"] != "pass"]
    if any(c["severity"] == "error" for c in failed):
        return "fail"
    return "warn" if failed else "pass"


def graph(tables: list[dict[str, Any]]) -> tuple[list[Node], list[tuple[str, str]]]:
    """The lineage graph's nodes (source files, tables outside ``ops``, reports) and edges."""
    nodes: dict[str, Node] = {}
    edges = set()
    for t in tables:
        if t["schema"] == ops.SCHEMA:
            continue
        nodes[t["key"]] = Node(t["key"], t["table"], t["schema"], f"#focus={t['key']}")
        for report in t["exposures"]:
            rid = f"report:{report}"
            nodes.setdefault(rid, Node(rid, report, "report", f"../{report}.html"))
            edges.add((t["key"], rid))
    for t in tables:
        for u in t["upstream"] if t["key"] in nodes else ():
            if u.startswith("file:"):
                nodes.setdefault(u, Node(u, u.removeprefix("file:").rsplit("/", 1)[-1], "source", f"#focus={u}"))
            if u in nodes:
                edges.add((u, t["key"]))
    ordered = sorted(nodes.values(), key=lambda n: n.id)
    return ordered, sorted(edges)


def search_index(tables: list[dict[str, Any]]) -> list[list[str]]:
    """``[href, kind, name, description]`` per table and column: names and descriptions only,
    never a value (so no PII)."""
    out = []
    for t in tables:
        out.append([f"#{t['key']}", "table", t["key"], t["description"]])
        out += [[f"#{t['key']}", "column", f"{t['key']}.{c['name']}", c["description"]] for c in t["columns"]]
    return out


def script_json(value: object) -> str:
    """``value`` as JSON safe inside a ``<script>`` element (no ``<``, ``>`` or ``&`` left).

    >>> script_json(["</script>&"])
    '["\\\\u003c/script\\\\u003e\\\\u0026"]'
    """
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def source_roots(con: engine.DuckDBBackend) -> list[Path]:
    """The source directories files were ingested from (a run's ``-p source_dir`` may differ from
    the configured one): each manifest row's ``source_file`` without its ``file_path`` under it."""
    if (manifest := ops.read(con, "ingest_manifest")) is None:
        return []
    rows = manifest.select("source_file", "file_path").distinct().to_pyarrow().to_pylist()
    return sorted(
        {
            Path(r["source_file"][: -len(r["file_path"])])
            for r in rows
            if r["source_file"] and r["file_path"] and r["source_file"].endswith("/" + r["file_path"])
        }
    )
