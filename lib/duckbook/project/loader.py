"""One loader for the whole project (after sqlmesh's ``loader.py``): every project file is read
once and the result is one typed :class:`Project`.

``[tool.duckbook]`` names the files (``project_files``) and the domain package (``package``,
whose ``models`` module lists the declared models in ``MODELS``). A project file may hold any of
these sections:

* ``sources:`` source contracts (:mod:`duckbook.ingest.contracts`), with docs and checks;
* ``models:`` docs and checks of models, keyed ``schema.table`` (each must be a declared model);
* ``semantic_models:`` and ``metrics:`` the semantic layer (:mod:`duckbook.semantic`).

Stages, ``duckbook check``, the docs site and the metrics API all take their definitions from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import yaml

from duckbook import config as _config
from duckbook.errors import ProjectError
from duckbook.ingest.contracts import Contract, parse_contracts
from duckbook.project.model import MetricTable, Model, resolve_inputs, topological_order
from duckbook.quality import registry as _checks
from duckbook.quality.types import Check
from duckbook.semantic import MetricError, SemanticLayer

#: The schema raw tables (one per source) are published in.
RAW_SCHEMA = "raw"
_SECTIONS = ("sources", "models", "semantic_models", "metrics")


@dataclasses.dataclass(frozen=True)
class ColumnDoc:
    description: str = ""
    pii: bool = False


@dataclasses.dataclass(frozen=True)
class TableDoc:
    """What a project file says about one table: description, columns, and its declaration (the
    raw YAML entry, from which checks are built for a given run time)."""

    qualified: str
    origin: str
    description: str = ""
    columns: Mapping[str, ColumnDoc] = dataclasses.field(default_factory=dict)
    spec: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def pii(self) -> set[str]:
        return {name for name, c in self.columns.items() if c.pii}


@dataclasses.dataclass(frozen=True)
class Project:
    """The project, typed: sources, models (in build order) and their DAG, docs, semantic layer."""

    config: _config.Config
    sources: Mapping[str, Contract]
    models: Mapping[str, Model]  # qualified name -> model, in topological order
    edges: Mapping[str, tuple[str, ...]]  # qualified model -> qualified inputs
    docs: Mapping[str, TableDoc]  # qualified table -> docs (raw.<source> and models)
    semantic_layer: SemanticLayer

    def group(self, name: str) -> list[Model]:
        """The models built together by one stage (``group``, by default their schema), in order.
        Raises :class:`ProjectError` listing the groups."""
        found = [m for m in self.models.values() if m.group == name]
        if not found:
            groups = sorted({m.group for m in self.models.values()})
            raise ProjectError(f"no models in group {name!r}; groups are: {', '.join(groups)}")
        return found

    def checks(self, qualified: str, *, now: dt.datetime) -> list[Check]:
        """The checks declared for ``schema.table``; time-relative checks compare with ``now``."""
        doc = self.docs.get(qualified)
        if doc is None:
            return []
        schema, _, table = qualified.partition(".")
        if schema == RAW_SCHEMA and table in self.sources:
            return _checks.source_checks(table, doc.spec, now=now, origin=doc.origin)
        return _checks.checks_from_spec(qualified, doc.spec, now=now, origin=doc.origin)

    def metric_descriptions(self) -> dict[str, str]:
        """``{metric: description}`` of the semantic layer."""
        return {name: m.description for name, m in self.semantic_layer.metrics.items()}


def load(cfg: _config.Config | None = None) -> Project:
    """Read the configured project (``[tool.duckbook]``): every file once, the package's models.

    Raises :class:`duckbook.errors.ProjectError` naming the file and the entry for anything
    malformed, unknown or duplicated.

    The result is kept per process until a project file changes: every stage of a run (one warm
    kernel) asks for the project, and parsing and validating it each time would repeat the work.
    """
    cfg = cfg or _config.load()
    key = (cfg, tuple(_stamp(path) for path in cfg.project_files))
    if (loaded := _LOADED.get(key)) is None:
        loaded = _LOADED[key] = _load(cfg)
    return loaded


_LOADED: dict[tuple[_config.Config, tuple[tuple[Path, int, int], ...]], Project] = {}


def _stamp(path: Path) -> tuple[Path, int, int]:
    """What identifies a version of a project file: its path, modification time and size."""
    try:
        stat = path.stat()
    except OSError:
        return path, -1, -1  # missing: _read_files says so
    return path, stat.st_mtime_ns, stat.st_size


def _load(cfg: _config.Config) -> Project:
    sections = _read_files(cfg.project_files)
    sources: dict[str, Contract] = {}
    for origin, entries in sections["sources"]:
        sources.update(parse_contracts(entries, origin=origin))
    layer = _semantic_layer(sections)
    declared = _declared_models(cfg.package)
    models = [_bind_metric_table(d, layer) if isinstance(d, MetricTable) else d for d in declared]
    ordered = topological_order(models, sources)
    docs = _docs(sections, {m.qualified for m in ordered}, sources)
    return Project(
        config=cfg,
        sources=sources,
        models={m.qualified: m for m in ordered},
        edges=resolve_inputs(ordered, sources),
        docs=docs,
        semantic_layer=layer,
    )


def _read_files(paths: Sequence[Path]) -> dict[str, list[tuple[str, Any]]]:
    """``{section: [(file, content), ...]}`` from every project file, each parsed once."""
    sections: dict[str, list[tuple[str, Any]]] = {s: [] for s in _SECTIONS}
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ProjectError(f"project file {path} cannot be read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ProjectError(f"project file {path} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or set(doc) - set(_SECTIONS):
            found = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            raise ProjectError(f"{path}: unknown section(s) {found}; a project file has {', '.join(_SECTIONS)}")
        for section in _SECTIONS:
            if doc.get(section):
                sections[section].append((str(path), doc[section]))
    return sections


def _semantic_layer(sections: Mapping[str, list[tuple[str, Any]]]) -> SemanticLayer:
    files = sorted({origin for s in ("semantic_models", "metrics") for origin, _ in sections[s]})
    doc: dict[str, Any] = {"semantic_models": {}, "metrics": []}
    for origin, entries in sections["semantic_models"]:
        if dupes := sorted(set(doc["semantic_models"]) & set(entries)):
            raise ProjectError(f"{origin}: semantic model(s) {', '.join(dupes)} declared in another file too")
        doc["semantic_models"].update(entries)
    for _, entries in sections["metrics"]:
        doc["metrics"].extend(entries)
    try:
        return SemanticLayer.from_dict(doc, origin=" + ".join(files) or None)
    except MetricError as exc:
        raise ProjectError(str(exc)) from None


def _declared_models(package: str | None) -> list[Model | MetricTable]:
    if package is None:
        return []
    try:
        module = importlib.import_module(f"{package}.models")
    except ModuleNotFoundError as exc:
        raise ProjectError(f"project package {package!r} (setting 'package') has no models module: {exc}") from None
    declared = getattr(module, "MODELS", None)
    if not isinstance(declared, list | tuple) or not all(isinstance(d, Model | MetricTable) for d in declared):
        raise ProjectError(f"{package}.models must define MODELS: a list of duckbook.project.model(...) declarations")
    return list(declared)


def _bind_metric_table(table: MetricTable, layer: SemanticLayer) -> Model:
    """A :class:`MetricTable` as a model reading the tables of the semantic models it uses."""
    try:
        names = layer.metrics_for(axis=table.axis, grain=table.grain, by=table.by)
    except MetricError as exc:
        raise ProjectError(f"metric table {table.schema}.{table.name}: {exc}") from None
    if not names:
        raise ProjectError(f"metric table {table.schema}.{table.name}: no metric on axis {table.axis!r} fits")
    inputs = tuple(sorted(_tables_read(layer, names, table.by)))

    def compute(*tables: ir.Table) -> ir.Table:
        return layer.query(names, dict(zip(inputs, tables, strict=True)), grain=table.grain, by=table.by)

    compute.__name__ = compute.__qualname__ = table.name
    compute.__module__ = "duckbook.semantic"
    # incremental by period: a change of an input on the axis recomputes the periods from its
    # earliest day on (window metrics like cumulative revenue included); others rebuild it
    time_inputs = []
    for model in layer.models.values():
        for d in model.dimensions:
            if model.table in inputs and d.type == "time" and d.time_axis == table.axis and d.column.isidentifier():
                time_inputs.append((model.table, d.column))
    return Model(
        table.name,
        compute,
        inputs,
        table.schema,
        "incremental",
        time_column="period",
        time_grain=table.grain,
        time_inputs=tuple(sorted(set(time_inputs))),
        # its code is the semantic layer's: the definitions of its metrics and their models
        version=repr(
            ([layer.metrics[n] for n in names], [m for m in layer.models.values() if m.table in inputs], table.by)
        ),
    )


def _tables_read(layer: SemanticLayer, metrics: Sequence[str], by: Sequence[str]) -> set[str]:
    """The tables a query of ``metrics`` by ``by`` reads: the metrics' semantic models and every
    model on the entity path to each dimension's owner."""
    models: set[str] = set()
    for name in metrics:
        for start in layer.models_of(name):
            models.add(start)
            paths = layer.reachable(start)
            for dimension in by:
                models.update(step[2] for step in paths.get(layer.model_of_dimension(dimension).name, []))
    return {layer.models[m].table for m in models}


def _docs(
    sections: Mapping[str, list[tuple[str, Any]]], models: set[str], sources: Mapping[str, Contract]
) -> dict[str, TableDoc]:
    docs: dict[str, TableDoc] = {}
    for origin, entries in sections["sources"]:
        for name, spec in entries.items():
            docs[f"{RAW_SCHEMA}.{name}"] = _table_doc(f"{RAW_SCHEMA}.{name}", origin, spec or {})
    for origin, entries in sections["models"]:
        for qualified, spec in entries.items():
            if qualified not in models:
                choices = ", ".join(sorted(models)) or "none declared"
                raise ProjectError(f"{origin}: models.{qualified} is not a declared model; models are: {choices}")
            if qualified in docs:
                raise ProjectError(f"{origin}: models.{qualified} is documented twice")
            docs[qualified] = _table_doc(qualified, origin, spec or {})
    return docs


def _table_doc(qualified: str, origin: str, spec: Mapping[str, Any]) -> TableDoc:
    if not isinstance(spec, Mapping):
        raise ProjectError(f"{origin}: {qualified} must be a mapping, not {type(spec).__name__}")
    columns = {}
    for name, column in (spec.get("columns") or {}).items():
        column = column or {}
        if not isinstance(column, Mapping):
            raise ProjectError(f"{origin}: {qualified}: column {name} must be a mapping, not {type(column).__name__}")
        columns[name] = ColumnDoc(str(column.get("description", "")), bool(column.get("pii", False)))
    return TableDoc(qualified, origin, str(spec.get("description", "")), columns, spec)
