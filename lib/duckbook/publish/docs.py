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
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from markupsafe import Markup

from duckbook import config as _config
from duckbook import engine, ops
from duckbook.errors import ProjectError
from duckbook.project import Model, TableDoc
from duckbook.project.model import resolve_inputs
from duckbook.publish import docs_model, lineage_graph, site

#: Columns the toolkit itself adds.
TOOLKIT_COLUMNS = {
    "_batch_id": "Ingestion batch (table and content hash of the source file).",
    "_source_file": "File the row was read from.",
    "_ingested_at": "When the batch was ingested (the run's timestamp).",
}


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
    #: the declared DAG (``{model: inputs}``), the models, each raw table's source file, and the
    #: project file each table is declared in
    edges: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    models: dict[str, Model] = dataclasses.field(default_factory=dict)
    sources: dict[str, str] = dataclasses.field(default_factory=dict)
    origins: dict[str, str] = dataclasses.field(default_factory=dict)

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
            d.origins[qualified] = doc.origin
            if qualified.startswith("raw.") and isinstance(file := doc.spec.get("file"), str):
                d.sources[qualified] = file
        models = list(models)
        d.materializations = {m.qualified: line for m in models if (line := materialization_line(m))}
        d.models = {m.qualified: m for m in models}
        try:
            d.edges = dict(resolve_inputs(models, [q.split(".", 1)[1] for q in docs if q.startswith("raw.")]))
        except ProjectError:  # the loader reports it; the docs draw the recorded lineage only
            d.edges = {}
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


def build(
    cfg: _config.Config, descriptions: Descriptions, *, out_dir: Path | None = None, run_id: str | None = None
) -> Path:
    """Write the docs site from the warehouse (opened read-only, at its newest snapshot).

    Parameters
    ----------
    cfg
        The project settings: the warehouse and the reports directory.
    descriptions
        What the tables and columns mean (:meth:`Descriptions.from_table_docs`).
    out_dir
        Where to write ``index.html`` (default: ``<reports>/docs``); the column-lineage cache
        is kept there too.
    run_id
        The run that writes the site (stated on the page); default: the run that committed the
        snapshot it reads, if any.

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
        page = render(con, descriptions, cache, roots=(cfg.warehouse, cfg.source_dir, cfg.root), run_id=run_id)
    finally:
        con.disconnect()
    out = out_dir / "index.html"
    site.write_atomic(out, page)
    site.write_atomic(cache_file, json.dumps(cache))
    return out


def built_from(con: engine.DuckDBBackend, run_id: str | None = None) -> str:
    """What the page states it was built from: the snapshot the connection reads and its run.

    >>> import ibis
    >>> built_from(ibis.duckdb.connect(), "r1")
    'run r1'
    """
    import duckdb

    from duckbook.engine import lake

    try:
        snapshot = lake.current(engine.raw(con))
        kept = lake.snapshots(engine.raw(con))
    except duckdb.Error:  # a plain DuckDB database: no snapshots
        snapshot, kept = None, []
    if not run_id and snapshot is not None:  # the last run published at or before it (a run log snapshot has none)
        runs = [s.run_id for s in kept if s.snapshot_id <= snapshot and s.run_id and not s.failed]
        run_id = runs[-1] if runs else None
    parts = [f"run {run_id}"] if run_id else []
    if snapshot is not None:
        parts.append(f"snapshot {snapshot}")
    return ", ".join(parts)


def relative_paths(text: str, roots: Sequence[Path]) -> str:
    """``text`` with every path under one of ``roots`` made relative to it (the longest root first),
    so the page shows no machine paths.

    >>> relative_paths("file /srv/p/data/a.csv in /srv/p", [Path("/srv/p"), Path("/srv/p/data")])
    'file a.csv in .'
    """
    for root in sorted({str(Path(r).resolve()) for r in roots} | {str(r) for r in roots}, key=len, reverse=True):
        if root not in ("/", "."):
            text = text.replace(root + "/", "").replace(root, ".")
    return text


def render(
    con: engine.DuckDBBackend,
    descriptions: Descriptions,
    cache: dict[str, dict[str, list[str]]] | None = None,
    *,
    roots: Sequence[Path] = (),
    run_id: str | None = None,
) -> str:
    """The docs page as one self-contained HTML string (it lives at ``<reports>/docs/``): paths
    under ``roots`` (the warehouse, source directory and project root) shown relative to them."""
    tables = docs_model.collect(con, descriptions, cache)
    roots = [*roots, *docs_model.source_roots(con)]
    for t in tables:  # before values are shortened for display; the page as a whole again below
        for c in t["columns"]:
            c.update({k: relative_paths(c[k], roots) for k in ("min", "max") if isinstance(c[k], str)})
    nodes, edges = docs_model.graph(tables)
    lay = lineage_graph.layout(nodes, edges)
    page = site.render_page(
        "docs.html.j2",
        tables=tables,
        models=[t for t in tables if t["schema"] != ops.SCHEMA],
        nodes=nodes,
        lineage_svg=Markup(lineage_graph.svg(nodes, lay)),  # built with every label escaped
        search_index=Markup(docs_model.script_json(docs_model.search_index(tables))),
        built_from=built_from(con, run_id),
        built_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        short=_short,
        index_href="../index.html",
        docs_href="index.html",
    )
    return relative_paths(page, roots)


def _short(value: object, width: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
