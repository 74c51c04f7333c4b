"""The docs site (``duckbook docs``): a data dictionary and lineage, as static offline HTML.

For every table in the warehouse: description, row count, what it is built from (table lineage
from ``ops.lineage``, recorded from the Ibis expressions), the checks attached to it and their
latest status, and per column: type, description, null share, min/max (hidden for columns marked
``pii``) and the upstream columns sqlglot traces it to. Descriptions come from the same YAML files
as the contracts and the semantic layer (``docs_yaml`` in ``[tool.duckbook]``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
from collections.abc import Iterable
from pathlib import Path

import yaml

from duckbook import config as _config
from duckbook import engine, ops
from duckbook.build import lineage
from duckbook.publish.report import _CSS, _write_atomic

LAYERS = ("source", "raw", "staging", "marts", "metrics")
#: Columns the toolkit itself adds.
TOOLKIT_COLUMNS = {
    "_batch_id": "Ingestion batch (table and content hash of the source file).",
    "_source_file": "File the row was read from.",
    "_ingested_at": "When the batch was ingested (the run's timestamp).",
}


@dataclasses.dataclass
class Descriptions:
    """Table and column descriptions (and PII flags) keyed by ``schema.table``."""

    tables: dict[str, str] = dataclasses.field(default_factory=dict)
    columns: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    pii: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, str] = dataclasses.field(default_factory=dict)

    def column(self, table: str, column: str) -> str:
        if text := self.columns.get(table, {}).get(column) or TOOLKIT_COLUMNS.get(column):
            return text
        if table.startswith("metrics.") and column in self.metrics:
            return self.metrics[column]
        # a column keeps its meaning downstream: fall back to the same name in a staging model
        for other, cols in self.columns.items():
            if other.startswith("staging.") and column in cols:
                return cols[column]
        return ""


def load_descriptions(paths: Iterable[Path]) -> Descriptions:
    """Read descriptions from source contracts (``sources:``, schema raw), model docs
    (``models:``) and semantic layers (``metrics:``)."""
    d = Descriptions()
    for path in paths:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        for name, spec in (doc.get("sources") or {}).items():
            _add(d, f"raw.{name}", spec)
        for name, spec in (doc.get("models") or {}).items():
            _add(d, name, spec)
        for metric in doc.get("metrics") or []:
            d.metrics[metric["name"]] = metric.get("description", "")
    return d


def _add(d: Descriptions, table: str, spec: dict) -> None:
    spec = spec or {}
    d.tables[table] = spec.get("description", "")
    for col, info in (spec.get("columns") or {}).items():
        info = info or {}
        d.columns.setdefault(table, {})[col] = info.get("description", "")
        if info.get("pii"):
            d.pii.setdefault(table, set()).add(col)


def build(cfg: _config.Config | None = None, *, warehouse: str | None = None, out_dir: Path | None = None) -> Path:
    """Write ``<reports>/docs/index.html`` from the warehouse (opened read-only)."""
    cfg = cfg or _config.load(warehouse=warehouse)
    out_dir = out_dir or cfg.reports_dir / "docs"
    cache_file = out_dir / ".column-lineage-cache.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    con = engine.connect(cfg.warehouse, read_only=True, cfg=cfg)
    try:
        page = render(con, load_descriptions(cfg.docs_yaml), cache)
    finally:
        con.disconnect()
    out = out_dir / "index.html"
    _write_atomic(out, page)
    _write_atomic(cache_file, json.dumps(cache))
    return out


def _column_lineage(sql: str, columns: list[str], cache: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    """sqlglot column lineage, memoized by the SQL text (tracing takes ~0.1-1 s per table and
    the SQL only changes when the code does)."""
    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return {}
    key = hashlib.sha256(json.dumps([sql, columns]).encode()).hexdigest()
    if key not in cache:
        cache[key] = lineage.column_lineage(sql, columns)
    return cache[key]


def collect(con: engine.DuckDBBackend, descriptions: Descriptions, cache: dict | None = None) -> list[dict]:
    """Everything the page shows, per table, sorted by layer then name."""
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
    checks: dict[str, list[dict]] = {}
    if (r := ops.read(con, "check_results")) is not None:
        latest = r.filter(r.checked_at == r.checked_at.max().over(group_by=[r.schema_name, r.check_name]))
        for row in latest.order_by("check_name").to_pyarrow().to_pylist():
            checks.setdefault(f"{row['schema_name']}.{row['table_name']}", []).append(row)
    out = []
    for schema, table in sorted(tables, key=lambda st: (_layer_rank(st[0]), st[1])):
        key = f"{schema}.{table}"
        prof = engine.profile(con, schema, table)
        rec = recorded.get(key)
        col_lineage = _column_lineage(rec["sql"], [c["name"] for c in prof["columns"]], cache) if rec else {}
        pii = descriptions.pii.get(key, set())
        out.append(
            {
                "key": key,
                "schema": schema,
                "table": table,
                "description": descriptions.tables.get(key, ""),
                "rows": prof["rows"],
                "upstream": json.loads(rec["upstream"]) if rec else [],
                "checks": checks.get(key, []),
                "columns": [
                    {
                        **c,
                        "description": descriptions.column(key, c["name"]),
                        "pii": c["name"] in pii,
                        "null_share": (c["nulls"] / prof["rows"]) if prof["rows"] else 0.0,
                        "lineage": col_lineage.get(c["name"], []),
                    }
                    for c in prof["columns"]
                ],
            }
        )
    return out


def _layer_rank(schema: str) -> int:
    return LAYERS.index(schema) if schema in LAYERS else len(LAYERS)


def render(con: engine.DuckDBBackend, descriptions: Descriptions, cache: dict | None = None) -> str:
    """The docs page as one self-contained HTML string."""
    tables = collect(con, descriptions, cache)
    sections = "\n".join(_table_section(t) for t in tables)
    toc = "".join(
        f"<li><a href='#{html.escape(t['key'])}'>{html.escape(t['key'])}</a> ({t['rows']:,} rows)</li>" for t in tables
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>duckbook docs</title><style>{_CSS}
.lineage svg {{ max-width: 100%; height: auto; }} .pii {{ color: #9a6700; }} td {{ text-align: left; }}
section.table {{ border-top: 1px solid #d0d7de; margin-top: 24px; }} code {{ font-size: 12px; }}
</style></head>
<body><header class="page"><b>duckbook</b> · data dictionary and lineage · <a href="../index.html">reports</a></header>
<main>
<h1>Data dictionary and lineage</h1>
<p>{len(tables)} tables. Lineage is recorded from the expressions each table is built with;
column lineage is traced through the compiled SQL by sqlglot.</p>
<h2>Lineage</h2>
<div class="lineage">{lineage_svg(tables)}</div>
<h2>Tables</h2><ul>{toc}</ul>
{sections}
</main></body></html>
"""


def _table_section(t: dict) -> str:
    up = ", ".join(_link(u) for u in t["upstream"]) or "n/a"
    checks = "".join(_check_item(c) for c in t["checks"]) or "<li>none</li>"
    rows = "".join(_column_row(c) for c in t["columns"])
    return f"""<section class="table" id="{html.escape(t["key"])}">
<h3>{html.escape(t["key"])}</h3>
<p>{html.escape(t["description"]) or "<i>no description</i>"}</p>
<p><b>{t["rows"]:,}</b> rows · built from: {up}</p>
<details><summary>Checks ({len(t["checks"])})</summary><ul>{checks}</ul></details>
<table><thead><tr><th>column</th><th>type</th><th>description</th><th>null %</th><th>min</th><th>max</th><th>from</th></tr></thead>
<tbody>{rows}</tbody></table></section>"""


def _check_item(c: dict) -> str:
    status = "success" if c["status"] == "pass" else "failed"
    failing = f" ({c['failing_rows']} failing rows)" if c["failing_rows"] else ""
    return (
        f"<li><code>{html.escape(c['check_name'])}</code> ({html.escape(c['severity'])}): "
        f"<span class='status-{status}'>{html.escape(c['status'])}</span>{failing}</li>"
    )


def _column_row(c: dict) -> str:
    if c["pii"]:
        lo = hi = "<span class='pii'>PII, hidden</span>"
    else:
        lo, hi = (html.escape(_short(c["min"])), html.escape(_short(c["max"])))
    source = "<br>".join(_link(x, column=True) for x in c["lineage"])
    return (
        f"<tr><td><code>{html.escape(c['name'])}</code></td><td>{html.escape(c['type'])}</td>"
        f"<td>{html.escape(c['description'])}</td><td>{c['null_share'] * 100:.1f}</td><td>{lo}</td><td>{hi}</td>"
        f"<td>{source}</td></tr>"
    )


def _short(value: object, width: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _link(name: str, *, column: bool = False) -> str:
    if ":" in name:  # file: / lake: sources
        return f"<code>{html.escape(name)}</code>"
    table = ".".join(name.split(".")[:2])
    return f"<a href='#{html.escape(table)}'><code>{html.escape(name)}</code></a>"


def lineage_svg(tables: list[dict]) -> str:
    """Table lineage as a layered SVG: one column per layer (sources, raw, staging, marts,
    metrics), an edge from every upstream table to the table built from it."""
    nodes: dict[str, tuple[int, int]] = {}
    columns: dict[int, list[str]] = {}
    sources = sorted({u for t in tables for u in t["upstream"] if u.startswith("file:")})
    for s in sources:
        columns.setdefault(0, []).append(s)
    for t in tables:
        if t["schema"] == ops.SCHEMA:
            continue
        columns.setdefault(_layer_rank(t["schema"]), []).append(t["key"])
    box_w, box_h, gap_x, gap_y, pad = 190, 22, 60, 8, 10
    for col, names in columns.items():
        for row, name in enumerate(names):
            nodes[name] = (pad + col * (box_w + gap_x), pad + row * (box_h + gap_y))
    width = pad * 2 + (max(columns) + 1) * (box_w + gap_x)
    height = pad * 2 + max(len(v) for v in columns.values()) * (box_h + gap_y)
    edges = []
    for t in tables:
        if t["key"] not in nodes:
            continue
        x2, y2 = nodes[t["key"]]
        for u in t["upstream"]:
            if u in nodes:
                x1, y1 = nodes[u]
                a, b = (x1 + box_w, y1 + box_h / 2), (x2, y2 + box_h / 2)
                mid = (a[0] + b[0]) / 2
                edges.append(
                    f"<path d='M{a[0]},{a[1]} C{mid},{a[1]} {mid},{b[1]} {b[0]},{b[1]}' fill='none' stroke='#8c959f' stroke-width='1'/>"
                )
    boxes = []
    for name, (x, y) in nodes.items():
        label = name.removeprefix("file:").split("/")[-1] if name.startswith("file:") else name
        fill = "#fff8c5" if name.startswith("file:") else "#ddf4ff"
        inner = (
            f"<rect x='{x}' y='{y}' width='{box_w}' height='{box_h}' rx='4' fill='{fill}' stroke='#54aeff'/>"
            f"<text x='{x + 6}' y='{y + 15}' font-size='11' font-family='monospace'>{html.escape(label)}</text>"
        )
        boxes.append(inner if name.startswith("file:") else f"<a href='#{html.escape(name)}'>{inner}</a>")
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"role='img' aria-label='table lineage'>{''.join(edges)}{''.join(boxes)}</svg>"
    )
