"""The docs site (``duckbook docs``): a data dictionary and lineage, as static offline HTML.

For every table in the warehouse: description, row count, what it is built from (table lineage
from ``ops.lineage``, recorded from the Ibis expressions), the checks attached to it and their
latest status, and per column: type, description, null share, min/max (hidden for columns marked
``pii``) and the upstream columns sqlglot traces it to (:mod:`duckbook.publish.column_lineage`).
Descriptions come from the project's ``sources:``, ``models:`` and ``metrics:`` declarations
(:meth:`Descriptions.from_table_docs`); a table built by a ``snapshot`` or ``incremental`` model
also says how (:func:`materialization_line`). The page is ``templates/docs.html.j2`` in the
shared shell.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from markupsafe import Markup

from duckbook import config as _config
from duckbook import engine, ops
from duckbook.project import Model, TableDoc
from duckbook.publish import site
from duckbook.publish.column_lineage import cached_column_lineage

LAYERS = ("source", "raw", "staging", "marts", "metrics")
#: Columns the toolkit itself adds.
TOOLKIT_COLUMNS = {
    "_batch_id": "Ingestion batch (table and content hash of the source file).",
    "_source_file": "File the row was read from.",
    "_ingested_at": "When the batch was ingested (the run's timestamp).",
}
#: The sections of the project's declarations that describe tables: sources land in schema raw.


@dataclasses.dataclass
class Descriptions:
    """Table and column descriptions (and PII flags) keyed by ``schema.table``; metric
    descriptions keyed by metric name; how snapshot and incremental models are built, keyed by
    ``schema.table``."""

    tables: dict[str, str] = dataclasses.field(default_factory=dict)
    columns: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    pii: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, str] = dataclasses.field(default_factory=dict)
    materializations: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_table_docs(
        cls, docs: Mapping[str, TableDoc], metrics: Mapping[str, str], models: Iterable[Model] = ()
    ) -> Descriptions:
        """Descriptions from the project's table docs (:attr:`duckbook.project.Project.docs`,
        keyed ``schema.table``; sources are ``raw.<name>``), ``{metric: description}``, the
        declared ``models`` (:attr:`duckbook.project.Project.models`: the materialization of the
        snapshot and incremental ones) and the toolkit's own ops tables.

        Examples
        --------
        >>> from duckbook.project import ColumnDoc, TableDoc
        >>> doc = TableDoc("raw.customers", "sources.yml", "People.", {"name": ColumnDoc("Full name.", pii=True)})
        >>> d = Descriptions.from_table_docs({"raw.customers": doc}, {"revenue": "Item revenue."})
        >>> d.column("raw.customers", "name"), d.pii, d.column("metrics.monthly", "revenue")
        ('Full name.', {'raw.customers': {'name'}}, 'Item revenue.')
        """
        d = cls(metrics=dict(metrics))
        d.tables.update({f"{ops.SCHEMA}.{name}": text for name, text in ops.DESCRIPTIONS.items()})
        for qualified, doc in docs.items():
            d.tables[qualified] = doc.description
            d.columns[qualified] = {name: c.description for name, c in doc.columns.items()}
            if doc.pii:
                d.pii[qualified] = doc.pii
        d.materializations = {m.qualified: line for m in models if (line := materialization_line(m))}
        return d

    def column(self, table: str, column: str) -> str:
        """The description of ``table``'s ``column``: its own, the toolkit's for toolkit columns,
        the metric's for a metric table, else that of a staging column of the same name (a
        column keeps its meaning downstream); "" if none."""
        if text := self.columns.get(table, {}).get(column) or TOOLKIT_COLUMNS.get(column):
            return text
        if table.startswith("metrics.") and column in self.metrics:
            return self.metrics[column]
        for other, cols in self.columns.items():
            if other.startswith("staging.") and column in cols:
                return cols[column]
        return ""


def materialization_line(m: Model) -> str:
    """How a ``snapshot`` or ``incremental`` model builds its table, in one line ("" for a
    ``table`` model: rebuilt in full, nothing to say).

    Examples
    --------
    >>> from duckbook.project import model
    >>> def f(t, /):
    ...     return t
    >>> materialization_line(model(f, schema="s", materialization="snapshot", unique_key="product_id"))
    'snapshot (SCD2, check strategy on all columns; key product_id)'
    >>> materialization_line(model(f, schema="s", materialization="snapshot", unique_key="id",
    ...                            strategy="timestamp", updated_at="updated_at", hard_deletes="ignore"))
    'snapshot (SCD2, timestamp strategy on updated_at, deleted members kept; key id)'
    >>> materialization_line(model(f, schema="s", materialization="incremental", unique_key="order_item_id",
    ...                            time_column="ordered_at", lookback_days=3))
    'incremental by ordered_at (3 days lookback), key order_item_id'
    >>> materialization_line(model(f, schema="s", materialization="incremental", unique_key="order_item_id"))
    'incremental by key order_item_id'
    >>> materialization_line(model(f, schema="s"))
    ''
    """
    if m.materialization == "snapshot":
        if m.strategy == "timestamp":
            how = f"timestamp strategy on {m.updated_at}"
        else:
            how = f"check strategy on {', '.join(m.tracked) if m.tracked else 'all columns'}"
        if m.hard_deletes == "ignore":
            how += ", deleted members kept"
        return f"snapshot (SCD2, {how}; key {m.unique_key})"
    if m.materialization == "incremental":
        if not m.time_column:
            return f"incremental by key {m.unique_key}"
        window = [f"{m.time_grain} grain"] if m.time_grain else []
        if m.lookback_days:
            window.append(f"{m.lookback_days} day{'s' if m.lookback_days > 1 else ''} lookback")
        line = f"incremental by {m.time_column}" + (f" ({', '.join(window)})" if window else "")
        return line + (f", key {m.unique_key}" if m.unique_key else "")
    return ""


def build(cfg: _config.Config, descriptions: Descriptions, *, out_dir: Path | None = None) -> Path:
    """Write the docs site from the warehouse (opened read-only).

    Parameters
    ----------
    cfg
        The project settings: the warehouse and the reports directory.
    descriptions
        What the tables and columns mean (:meth:`Descriptions.from_table_docs`).
    out_dir
        Where to write ``index.html`` (default: ``<reports>/docs``); the column-lineage cache
        is kept there too.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out_dir = out_dir or cfg.reports_dir / "docs"
    cache_file = out_dir / ".column-lineage-cache.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    con = engine.connect(cfg.warehouse, read_only=True, cfg=cfg)
    try:
        page = render(con, descriptions, cache)
    finally:
        con.disconnect()
    out = out_dir / "index.html"
    site.write_atomic(out, page)
    site.write_atomic(cache_file, json.dumps(cache))
    return out


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
    checks: dict[str, list[dict[str, Any]]] = {}
    if (r := ops.read(con, "check_results")) is not None:
        latest = r.filter(r.checked_at == r.checked_at.max().over(group_by=[r.schema_name, r.check_name]))
        for row in latest.order_by("check_name").to_pyarrow().to_pylist():
            checks.setdefault(f"{row['schema_name']}.{row['table_name']}", []).append(row)
    out = []
    for schema, table in sorted(tables, key=lambda st: (_layer_rank(st[0]), st[1])):
        key = f"{schema}.{table}"
        prof = engine.profile(con, schema, table)
        rows, columns = prof["rows"], cast(list[dict[str, Any]], prof["columns"])
        rec = recorded.get(key)
        col_lineage = cached_column_lineage(rec["sql"], [c["name"] for c in columns], cache) if rec else {}
        pii = descriptions.pii.get(key, set())
        out.append(
            {
                "key": key,
                "schema": schema,
                "table": table,
                "description": descriptions.tables.get(key, ""),
                "materialization": descriptions.materializations.get(key, ""),
                "rows": rows,
                "upstream": json.loads(rec["upstream"]) if rec else [],
                "checks": checks.get(key, []),
                "columns": [
                    {
                        **c,
                        "description": descriptions.column(key, c["name"]),
                        "pii": c["name"] in pii,
                        "null_share": (c["nulls"] / rows) if rows else 0.0,
                        "lineage": col_lineage.get(c["name"], []),
                    }
                    for c in columns
                ],
            }
        )
    return out


def _layer_rank(schema: str) -> int:
    return LAYERS.index(schema) if schema in LAYERS else len(LAYERS)


def render(
    con: engine.DuckDBBackend, descriptions: Descriptions, cache: dict[str, dict[str, list[str]]] | None = None
) -> str:
    """The docs page as one self-contained HTML string (it lives at ``<reports>/docs/``)."""
    tables = collect(con, descriptions, cache)
    return site.render_page(
        "docs.html.j2",
        tables=tables,
        lineage_svg=Markup(lineage_svg(tables)),  # built here with every label escaped
        short=_short,
        index_href="../index.html",
        docs_href="index.html",
    )


def _short(value: object, width: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def lineage_svg(tables: list[dict[str, Any]]) -> str:
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
    width = pad * 2 + (max(columns, default=0) + 1) * (box_w + gap_x)
    height = pad * 2 + max((len(v) for v in columns.values()), default=0) * (box_h + gap_y)
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
                    f"<path d='M{a[0]},{a[1]} C{mid},{a[1]} {mid},{b[1]} {b[0]},{b[1]}' "
                    "fill='none' stroke='#8c959f' stroke-width='1'/>"
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
