"""The semantic layer: semantic models and metrics declared once in YAML, queried through Ibis.

A *semantic model* names a table, its entities (a primary key and foreign keys, through which
models join, always many-to-one so a join never fans out), its dimensions (categorical, or time
with the grains allowed) and its measures (``sum count count_distinct avg min max median``, each
with an optional filter). A *metric* is one of

* ``simple``: a measure, optionally filtered;
* ``ratio``: ``numerator`` / ``denominator`` (two metrics; null when the denominator is 0);
* ``derived``: a formula over input metrics, each optionally offset in time (``offset: 1`` is the
  same metric one grain period earlier, for growth rates);
* ``cumulative``: a running total of a metric over the periods, or over a trailing ``window`` of
  periods.

:meth:`SemanticLayer.query` returns an Ibis table, so the same query runs on any backend;
:func:`query` is the same against the project's warehouse. Filters and formulas are small Python
expressions (:mod:`duckbook.expressions`), never ``eval``-ed.

Examples
--------
>>> import datetime as dt, ibis
>>> layer = SemanticLayer.from_dict({
...     "semantic_models": {"orders": {
...         "table": "marts.orders",
...         "entities": [{"name": "order", "type": "primary", "expr": "id"}],
...         "dimensions": [{"name": "ordered_at", "type": "time"}, {"name": "shop"}],
...         "measures": [{"name": "order_total", "agg": "sum"}, {"name": "orders", "agg": "count_distinct", "expr": "id"}]}},
...     "metrics": [
...         {"name": "revenue", "type": "simple", "measure": "order_total"},
...         {"name": "orders", "type": "simple", "measure": "orders"},
...         {"name": "aov", "type": "ratio", "numerator": "revenue", "denominator": "orders"}]})
>>> orders = ibis.memtable({"id": [1, 2, 3], "shop": ["a", "b", "a"], "order_total": [10.0, 20.0, 5.0],
...                         "ordered_at": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 1)]})
>>> layer.query(["revenue", "aov"], {"marts.orders": orders}, grain="month").to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
[{'period': datetime.date(2024, 1, 1), 'revenue': 30.0, 'aov': 15.0},
 {'period': datetime.date(2024, 2, 1), 'revenue': 5.0, 'aov': 5.0}]
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ibis
import ibis.expr.types as ir
import yaml

from duckbook.expressions import ExpressionError, to_ibis
from duckbook.expressions import names as expression_names

#: time grain -> Ibis truncate unit
GRAINS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
AGGREGATIONS = ("sum", "count", "count_distinct", "avg", "min", "max", "median")
METRIC_TYPES = ("simple", "ratio", "derived", "cumulative")
PERIOD = "period"

Tables = Mapping[str, ir.Table] | Callable[[str], ir.Table]


class MetricError(ValueError):
    """An unknown metric, dimension or grain, or a bad definition; the message lists the choices."""


@dataclasses.dataclass(frozen=True)
class Entity:
    name: str
    type: str  # primary | foreign
    expr: str


@dataclasses.dataclass(frozen=True)
class Dimension:
    name: str
    type: str = "categorical"  # categorical | time
    expr: str = ""
    description: str = ""
    grains: tuple[str, ...] = tuple(GRAINS)

    @property
    def column(self) -> str:
        return self.expr or self.name


@dataclasses.dataclass(frozen=True)
class Measure:
    name: str
    agg: str
    expr: str = ""
    filter: str = ""
    description: str = ""

    @property
    def column(self) -> str:
        return self.expr or self.name


@dataclasses.dataclass(frozen=True)
class SemanticModel:
    name: str
    table: str  # "schema.table"
    description: str = ""
    entities: tuple[Entity, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = ()
    time_dimension: str = ""  # the time dimension measures aggregate by ("" = the first one)

    @property
    def primary(self) -> Entity | None:
        return next((e for e in self.entities if e.type == "primary"), None)

    @property
    def agg_time(self) -> Dimension | None:
        times = [d for d in self.dimensions if d.type == "time"]
        return next((d for d in times if d.name == self.time_dimension), times[0] if times else None)


@dataclasses.dataclass(frozen=True)
class MetricInput:
    metric: str
    alias: str = ""
    offset: int = 0  # grain periods earlier

    @property
    def name(self) -> str:
        return self.alias or self.metric


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    type: str
    description: str = ""
    measure: str = ""
    filter: str = ""
    numerator: str = ""
    denominator: str = ""
    expr: str = ""
    inputs: tuple[MetricInput, ...] = ()
    metric: str = ""  # cumulative: the metric accumulated
    window: int = 0  # cumulative: trailing periods (0 = all history)
    fill_nulls_with: float | None = None
    format: str = "number"  # number | currency | percent

    @property
    def depends_on(self) -> list[str]:
        if self.type == "ratio":
            return [self.numerator, self.denominator]
        if self.type == "derived":
            return [i.metric for i in self.inputs]
        if self.type == "cumulative":
            return [self.metric]
        return []


class SemanticLayer:
    """Semantic models and metrics, validated on load (see the module docstring)."""

    def __init__(self, models: Sequence[SemanticModel], metrics: Sequence[Metric]) -> None:
        self.models = {m.name: m for m in models}
        self.metrics = {m.name: m for m in metrics}
        self._validate()

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> SemanticLayer:
        """Load a layer from a YAML file with ``semantic_models:`` and ``metrics:``."""
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise MetricError(f"cannot read semantic layer {path}: {exc}") from None
        try:
            return cls.from_dict(doc)
        except MetricError as exc:
            raise MetricError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, doc: Mapping[str, object]) -> SemanticLayer:
        models = []
        for name, spec in (doc.get("semantic_models") or {}).items():  # type: ignore[union-attr]
            try:
                models.append(
                    SemanticModel(
                        name=name,
                        table=spec["table"],
                        description=spec.get("description", ""),
                        entities=tuple(Entity(**e) for e in spec.get("entities", [])),
                        dimensions=tuple(
                            Dimension(**{**d, "grains": tuple(d.get("grains", GRAINS))})
                            for d in spec.get("dimensions", [])
                        ),
                        measures=tuple(Measure(**m) for m in spec.get("measures", [])),
                        time_dimension=spec.get("time_dimension", ""),
                    )
                )
            except (KeyError, TypeError) as exc:
                raise MetricError(f"semantic model {name}: {exc}") from None
        metrics = []
        for spec in doc.get("metrics") or []:  # type: ignore[union-attr]
            try:
                spec = dict(spec)
                spec["inputs"] = tuple(MetricInput(**i) for i in spec.get("inputs", []))
                metrics.append(Metric(**spec))
            except TypeError as exc:
                raise MetricError(f"metric {spec.get('name', '?')}: {exc}") from None
        return cls(models, metrics)

    # -- validation -------------------------------------------------------------------------
    def _validate(self) -> None:
        measure_owner: dict[str, str] = {}
        dimension_owner: dict[str, str] = {}
        for model in self.models.values():
            for d in model.dimensions:
                if d.type not in ("categorical", "time"):
                    raise MetricError(
                        f"model {model.name}: dimension {d.name} has type {d.type!r} (categorical or time)"
                    )
                if bad := set(d.grains) - set(GRAINS):
                    raise MetricError(f"model {model.name}: dimension {d.name} has unknown grains {sorted(bad)}")
                if d.name in dimension_owner or d.name == PERIOD:
                    raise MetricError(
                        f"dimension {d.name!r} is declared twice ({dimension_owner.get(d.name, 'reserved')}, {model.name})"
                    )
                dimension_owner[d.name] = model.name
            for m in model.measures:
                if m.agg not in AGGREGATIONS:
                    raise MetricError(
                        f"model {model.name}: measure {m.name} has agg {m.agg!r}; use one of {', '.join(AGGREGATIONS)}"
                    )
                if m.name in measure_owner:
                    raise MetricError(f"measure {m.name!r} is declared twice ({measure_owner[m.name]}, {model.name})")
                measure_owner[m.name] = model.name
            if model.measures and model.agg_time is None:
                raise MetricError(f"model {model.name} has measures but no time dimension")
        self._measure_owner = measure_owner
        self._dimension_owner = dimension_owner
        for metric in self.metrics.values():
            if metric.type not in METRIC_TYPES:
                raise MetricError(
                    f"metric {metric.name} has type {metric.type!r}; use one of {', '.join(METRIC_TYPES)}"
                )
            if metric.type == "simple" and metric.measure not in measure_owner:
                raise MetricError(
                    f"metric {metric.name}: unknown measure {metric.measure!r}; measures: {', '.join(sorted(measure_owner))}"
                )
            if metric.type == "derived" and not metric.expr:
                raise MetricError(f"metric {metric.name}: a derived metric needs expr")
            for dep in metric.depends_on:
                if dep not in self.metrics:
                    raise MetricError(f"metric {metric.name}: unknown input metric {dep!r}")
        for name in self.metrics:
            self._check_acyclic(name, ())

    def _check_acyclic(self, name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise MetricError(f"metric {path[0]} depends on itself: {' -> '.join((*path, name))}")
        for dep in self.metrics[name].depends_on:
            self._check_acyclic(dep, (*path, name))

    # -- introspection ----------------------------------------------------------------------
    def measures_of(self, metric: str) -> list[Measure]:
        """The measures a metric is computed from."""
        m = self.metrics[metric]
        if m.type == "simple":
            owner = self.models[self._measure_owner[m.measure]]
            return [next(x for x in owner.measures if x.name == m.measure)]
        return [x for dep in m.depends_on for x in self.measures_of(dep)]

    def models_of(self, metric: str) -> set[str]:
        return {self._measure_owner[x.name] for x in self.measures_of(metric)}

    def reachable(self, model: str) -> dict[str, list[tuple[str, str, str]]]:
        """Models reachable from ``model`` through foreign -> primary entities, each with the
        join path ``[(from_model, from_column, to_model), ...]``."""
        paths: dict[str, list[tuple[str, str, str]]] = {model: []}
        frontier = [model]
        while frontier:
            current = frontier.pop(0)
            for entity in self.models[current].entities:
                if entity.type != "foreign":
                    continue
                for target in self.models.values():
                    if target.primary is not None and target.primary.name == entity.name and target.name not in paths:
                        paths[target.name] = [*paths[current], (current, entity.expr, target.name)]
                        frontier.append(target.name)
        return paths

    def dimensions(self, metric: str) -> set[str]:
        """Dimensions ``metric`` can be sliced by: those every model it reads can reach."""
        sets = [
            {
                d.name
                for target in self.reachable(model)
                for d in self.models[target].dimensions
                if d.type == "categorical"
            }
            for model in self.models_of(metric)
        ]
        return set.intersection(*sets) if sets else set()

    def describe(self) -> list[dict[str, str]]:
        """One row per metric: name, type, description, dimensions; sorted by name."""
        return [
            {
                "metric": m.name,
                "type": m.type,
                "description": m.description,
                "dimensions": ", ".join(sorted(self.dimensions(m.name))),
            }
            for m in sorted(self.metrics.values(), key=lambda m: m.name)
        ]

    # -- querying ---------------------------------------------------------------------------
    def query(
        self,
        metrics: Sequence[str],
        tables: Tables,
        *,
        by: Sequence[str] = (),
        grain: str | None = "month",
        where: str | None = None,
        start: str | _dt.date | None = None,
        end: str | _dt.date | None = None,
        keep_empty: bool = False,
    ) -> ir.Table:
        """Compute ``metrics`` per ``grain`` period (column ``period``; ``grain=None`` for totals)
        and per ``by`` dimension.

        ``tables`` maps ``"schema.table"`` to Ibis tables (or is a function doing so).
        ``where`` filters the rows measures aggregate (an expression over dimensions);
        ``start``/``end`` bound the periods shown (inclusive). ``keep_empty`` keeps every member
        of the ``by`` dimensions and every period in range, even without facts (metrics with
        ``fill_nulls_with`` show that value there, the rest null). With no metrics, returns the
        members of the ``by`` dimensions.
        """
        resolve = tables if callable(tables) else (lambda name: tables[name])  # type: ignore[index]
        by = list(by)
        if unknown := [m for m in metrics if m not in self.metrics]:
            raise MetricError(f"unknown metric(s) {unknown}; choose from: {', '.join(sorted(self.metrics))}")
        if unknown := [d for d in by if d not in self._dimension_owner]:
            raise MetricError(
                f"unknown dimension(s) {unknown}; choose from: {', '.join(sorted(self._dimension_owner))}"
            )
        if grain is not None and grain not in GRAINS:
            raise MetricError(f"unknown grain {grain!r}; choose from: {', '.join(GRAINS)}")
        if where is not None:
            try:
                expression_names(where)
            except ExpressionError as exc:
                raise MetricError(f"where: {exc}") from None
        if not metrics:
            return self._members(by, resolve, where)
        for name in metrics:
            if bad := set(by) - self.dimensions(name):
                raise MetricError(
                    f"metric {name} cannot be sliced by {sorted(bad)}; it allows: "
                    f"{', '.join(sorted(self.dimensions(name))) or 'no dimension'}"
                )
            if grain is None and self._uses_offset(name):
                raise MetricError(f"metric {name} compares periods (an offset), so it needs a grain")
            for model in self.models_of(name):
                allowed = self.models[model].agg_time.grains  # type: ignore[union-attr]
                if grain is not None and grain not in allowed:
                    raise MetricError(f"metric {name} allows grains {', '.join(allowed)}, not {grain!r}")
        start_day = _as_date(start, "start") if start is not None else None
        end_day = _as_date(end, "end") if end is not None else None
        q = _Query(self, resolve, by, grain, where, metrics, None if grain else (start_day, end_day))
        keys = ([PERIOD] if grain else []) + by
        # simple metrics of one model come from one aggregate: one join per model, not per metric
        by_model: dict[str, list[str]] = {}
        for name in metrics:
            if self.metrics[name].type == "simple":
                by_model.setdefault(self._measure_owner[self.metrics[name].measure], []).append(name)
        parts = [q.model_aggregate(model).select(*keys, *names) for model, names in by_model.items()]
        parts += [q.metric(name) for name in metrics if self.metrics[name].type != "simple"]
        result = _outer_join(parts, keys)
        if keep_empty and keys:
            spine = q.spine(result)
            if where is not None and expression_names(where) <= set(keys):
                spine = spine.filter(_where(where, spine, "where"))  # members the filter excludes stay out
            result = _outer_join([spine, result], keys, spine_first=True)
            fills = {
                m: ibis.coalesce(result[m], self.metrics[m].fill_nulls_with)
                for m in metrics
                if self.metrics[m].fill_nulls_with is not None
            }
            result = result.mutate(**fills)
        if grain and start_day is not None:
            result = result.filter(result[PERIOD] >= ibis.literal(start_day).truncate(GRAINS[grain]))
        if grain and end_day is not None:
            result = result.filter(result[PERIOD] <= ibis.literal(end_day))
        return result.select(*keys, *metrics).order_by(keys) if keys else result.select(*metrics)

    def _uses_offset(self, name: str) -> bool:
        metric = self.metrics[name]
        return any(i.offset for i in metric.inputs) or any(self._uses_offset(d) for d in metric.depends_on)

    def _members(self, by: Sequence[str], resolve: Callable[[str], ir.Table], where: str | None) -> ir.Table:
        owners = {self._dimension_owner[d] for d in by}
        if len(owners) != 1:
            raise MetricError("a dimension-only query takes dimensions of one semantic model")
        model = self.models[owners.pop()]
        t = resolve(model.table)
        t = t.select(**{d.name: t[d.column] for d in model.dimensions})
        if where:
            t = t.filter(_where(where, t, "where"))
        return t.select(*by).distinct().order_by(list(by))


class _Query:
    """One query's metric computations (cached per metric and offset)."""

    def __init__(
        self,
        layer: SemanticLayer,
        resolve: Callable[[str], ir.Table],
        by: list[str],
        grain: str | None,
        where: str | None,
        metrics: Sequence[str],
        time_range: tuple[_dt.date | None, _dt.date | None] | None = None,
    ):
        self.layer, self.resolve, self.by, self.grain, self.where = layer, resolve, by, grain, where
        self.time_range = time_range  # totals (no grain): bounds applied to the rows
        self.keys = ([PERIOD] if grain else []) + by
        self._memo: dict[tuple[str, int], ir.Table] = {}
        self._per_model: dict[str, ir.Table] = {}
        # every simple metric the query needs, so each model is aggregated once for all of them
        self._simple: set[str] = set()
        todo = list(metrics)
        while todo:
            name = todo.pop()
            if self.layer.metrics[name].type == "simple":
                self._simple.add(name)
            todo.extend(self.layer.metrics[name].depends_on)

    def rows(self, model_name: str) -> ir.Table:
        """The model's rows with its measure inputs, ``period`` and the dimensions this query
        needs, joined in along many-to-one entity paths (so no row is duplicated)."""
        model = self.layer.models[model_name]
        t = self.resolve(model.table)
        simple_here = [
            self.layer.metrics[n]
            for n in sorted(self._simple)
            if self.layer._measure_owner[self.layer.metrics[n].measure] == model_name
        ]
        needed = set(self.by) | (expression_names(self.where) if self.where else set())
        for metric in simple_here:  # metric filters may use joined dimensions too
            if metric.filter:
                needed |= expression_names(metric.filter)
        dims: dict[str, str] = {}
        for target, path in self.layer.reachable(model_name).items():
            wanted = [d for d in self.layer.models[target].dimensions if d.name in needed]
            if not wanted:
                continue
            if target == model_name:
                dims.update({d.name: d.column for d in wanted})
                continue
            key = path[0][1]
            for i, (_, _, to_model) in enumerate(path):
                to = self.resolve(self.layer.models[to_model].table)
                k = f"_k_{target}_{i}"
                carry = (
                    {f"_d_{d.name}": to[d.column] for d in wanted}
                    if i + 1 == len(path)
                    else {f"_n_{target}_{i}": to[path[i + 1][1]]}
                )
                lookup = to.select(**{k: to[self.layer.models[to_model].primary.expr]}, **carry)  # type: ignore[union-attr]
                t = t.left_join(lookup, t[key] == lookup[k])
                key = f"_n_{target}_{i}"
            dims.update({d.name: f"_d_{d.name}" for d in wanted})
        if self.time_range is not None:  # totals over [start, end]: bound the rows themselves
            lo, hi = self.time_range
            time = t[model.agg_time.column]  # type: ignore[union-attr]
            if lo is not None:
                t = t.filter(time >= ibis.literal(lo).cast(time.type()))
            if hi is not None:
                t = t.filter(time < (ibis.literal(hi) + ibis.interval(days=1)).cast(time.type()))
        cols: dict[str, ir.Value] = {f"__m_{m.name}": _measure_input(m, t) for m in model.measures}
        # filters may use any column of the model, so they are evaluated before the projection
        for m in model.measures:
            if m.filter:
                cols[f"__f_{m.name}"] = _where(m.filter, t, f"measure {m.name}")
        scope = {**{c: t[c] for c in t.columns}, **{name: t[column] for name, column in dims.items()}}
        for metric in simple_here:
            if metric.filter:
                cols[f"__f_metric_{metric.name}"] = _where(metric.filter, scope, f"metric {metric.name}")
        if self.grain:
            cols[PERIOD] = t[model.agg_time.column].truncate(GRAINS[self.grain]).cast("date")  # type: ignore[union-attr]
        cols.update({name: t[column] for name, column in dims.items()})
        rows = t.select(**cols)
        if self.where:
            rows = rows.filter(_where(self.where, rows, "where"))
        return rows

    def model_aggregate(self, model_name: str) -> ir.Table:
        """One aggregation of ``model_name`` computing every simple metric of it the query needs."""
        if model_name not in self._per_model:
            rows = self.rows(model_name)
            values = {}
            for name in sorted(self._simple):
                measure = self.layer.measures_of(name)[0]
                if self.layer._measure_owner[measure.name] != model_name:
                    continue
                condition = None
                for flag in (f"__f_{measure.name}", f"__f_metric_{name}"):
                    if flag in rows.columns:
                        c = rows[flag].fill_null(False)
                        condition = c if condition is None else condition & c
                values[name] = _aggregate(measure.agg, rows[f"__m_{measure.name}"], condition)
            self._per_model[model_name] = (
                rows.group_by(self.keys).agg(**values) if self.keys else rows.aggregate(**values)
            )
        return self._per_model[model_name]

    def metric(self, name: str, offset: int = 0) -> ir.Table:
        """Table of ``keys`` + column ``name`` (``offset`` periods later: the value at period p is
        the metric at p - offset)."""
        if (name, offset) not in self._memo:
            self._memo[(name, offset)] = self._metric(name, offset)
        return self._memo[(name, offset)]

    def _metric(self, name: str, offset: int) -> ir.Table:
        metric = self.layer.metrics[name]
        if metric.type == "simple":
            model = self.layer._measure_owner[metric.measure]
            out = self.model_aggregate(model).select(*self.keys, name)
        elif metric.type == "ratio":
            num, den = (self.layer.metrics[metric.numerator], self.layer.metrics[metric.denominator])
            same_model = (
                num.type == den.type == "simple"
                and self.layer._measure_owner[num.measure] == self.layer._measure_owner[den.measure]
            )
            both = (
                self.model_aggregate(self.layer._measure_owner[num.measure])
                if same_model
                else _outer_join([self.metric(metric.numerator), self.metric(metric.denominator)], self.keys)
            )
            out = both.select(*self.keys, **{name: _safe_divide(both[metric.numerator], both[metric.denominator])})
        elif metric.type == "derived":
            parts = []
            for item in metric.inputs:
                part = self.metric(item.metric, item.offset)
                parts.append(part.rename(**{item.name: item.metric}) if item.name != item.metric else part)
            # Periods come from the inputs without offset: shifting must not invent a period.
            current = [p for p, item in zip(parts, metric.inputs, strict=True) if not item.offset] or parts
            spine = ibis.union(*(p.select(*self.keys) for p in current), distinct=True) if self.keys else None
            both = (
                _outer_join([spine, *parts], self.keys, spine_first=True)
                if spine is not None
                else _outer_join(parts, self.keys)
            )
            values = {item.name: both[item.name] for item in metric.inputs}
            try:
                formula = to_ibis(metric.expr, values)
            except ExpressionError as exc:
                raise MetricError(f"metric {name}: {exc}") from None
            out = both.select(*self.keys, **{name: formula})
        else:  # cumulative
            if not self.grain:
                base = self.metric(metric.metric)
                out = base.select(*self.by, **{name: base[metric.metric]})
            else:
                base = self.metric(metric.metric)
                filled = _outer_join([self.spine(base, all_members=False), base], self.keys, spine_first=True)
                window = ibis.window(
                    group_by=self.by or None,
                    order_by=PERIOD,
                    preceding=(metric.window - 1) if metric.window else None,
                    following=0,
                )
                out = filled.select(*self.keys, **{name: filled[metric.metric].fill_null(0).sum().over(window)})
        if offset and self.grain:
            step = _grain_interval(self.grain, offset)
            out = out.mutate(**{PERIOD: (out[PERIOD].cast("timestamp") + step).cast("date")})
        return out

    def spine(self, facts: ir.Table, *, all_members: bool = True) -> ir.Table:
        """Every period between the first and last in ``facts`` crossed with every member of the
        ``by`` dimensions: all members from their own models (so members without facts appear),
        or only those in ``facts``."""
        parts = []
        if self.grain:
            bounds = facts.aggregate(lo=facts[PERIOD].min(), hi=facts[PERIOD].max())
            periods = bounds.select(
                **{
                    PERIOD: ibis.range(
                        bounds.lo.cast("timestamp"),
                        bounds.hi.cast("timestamp") + ibis.interval(days=1),
                        _grain_interval(self.grain, 1),
                    )
                    .unnest()
                    .cast("date")
                }
            )
            parts.append(periods)
        if self.by and not all_members:
            parts.append(facts.select(*self.by).distinct())
        elif self.by:
            # members that exist together (same model) stay together; models cross
            owners: dict[str, list[str]] = {}
            for dim in self.by:
                owners.setdefault(self.layer._dimension_owner[dim], []).append(dim)
            for model_name, dims in owners.items():
                model = self.layer.models[model_name]
                t = self.resolve(model.table)
                columns = {d.name: d.column for d in model.dimensions}
                parts.append(t.select(**{dim: t[columns[dim]] for dim in dims}).distinct())
        spine = parts[0]
        for p in parts[1:]:
            spine = spine.cross_join(p)
        return spine


def _measure_input(measure: Measure, table: ir.Table) -> ir.Value:
    if measure.column in table.columns:
        return table[measure.column]
    try:
        return to_ibis(measure.column, table)
    except ExpressionError as exc:
        raise MetricError(f"measure {measure.name}: {exc}") from None


def _where(text: str, table: ir.Table | Mapping[str, ir.Value], what: str) -> ir.BooleanValue:
    try:
        return to_ibis(text, table)
    except ExpressionError as exc:
        raise MetricError(f"{what}: {exc}") from None


def _aggregate(agg: str, column: ir.Value, where: ir.BooleanValue | None) -> ir.Scalar:
    if agg == "count":
        return column.count(where=where)
    if agg == "count_distinct":
        return column.nunique(where=where)
    if agg == "avg":
        return column.mean(where=where)
    if agg == "median":
        return column.median(where=where)
    return getattr(column, agg)(where=where)


def _safe_divide(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.NumericValue:
    """``numerator / denominator`` as float, null when the denominator is 0 or null."""
    return numerator.cast("float64") / denominator.cast("float64").nullif(0)


def _grain_interval(grain: str, n: int) -> ir.IntervalScalar:
    return {
        "day": ibis.interval(days=n),
        "week": ibis.interval(weeks=n),
        "month": ibis.interval(months=n),
        "quarter": ibis.interval(months=3 * n),
        "year": ibis.interval(years=n),
    }[grain]


def _outer_join(parts: Sequence[ir.Table], keys: Sequence[str], *, spine_first: bool = False) -> ir.Table:
    """Combine tables that share ``keys`` into one row per key combination (null-safe keys)."""
    if len(parts) == 1:
        return parts[0]
    if not keys:
        result = parts[0]
        for p in parts[1:]:
            result = result.cross_join(p)
        return result
    spine = parts[0].select(*keys) if spine_first else ibis.union(*(p.select(*keys) for p in parts), distinct=True)
    result = spine
    for part in parts:
        values = [c for c in part.columns if c not in keys and c not in result.columns]
        if not values:
            continue
        joined = result.left_join(part, [result[k].identical_to(part[k]) for k in keys])
        result = joined.select(*[joined[c] for c in result.columns], *[joined[c] for c in values])
    return result


def _as_date(value: str | _dt.date, name: str) -> _dt.date:
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise MetricError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def load(path: str | Path | None = None) -> SemanticLayer:
    """The project's semantic layer (``semantic_layer`` in ``[tool.duckbook]``), or ``path``."""
    from duckbook import config

    return SemanticLayer.from_yaml(path or config.load().semantic_layer)


def query(
    metrics: Sequence[str],
    *,
    by: Sequence[str] = (),
    grain: str | None = "month",
    where: str | None = None,
    start: str | _dt.date | None = None,
    end: str | _dt.date | None = None,
    keep_empty: bool = False,
    warehouse: str | None = None,
    layer: SemanticLayer | None = None,
) -> ir.Table:
    """Query the project's metrics from its warehouse (opened read-only); see
    :meth:`SemanticLayer.query`. Call ``.to_polars()`` or ``.to_pandas()`` on the result.

    ``duckbook.metrics.query(["revenue", "order_count"], by=["location_name"], grain="month")``
    """
    from duckbook import engine

    con = engine.connect(warehouse, read_only=True)
    layer = layer or load()

    def resolve(name: str) -> ir.Table:
        schema, _, table = name.partition(".")
        return con.table(table, database=schema)

    return layer.query(metrics, resolve, by=by, grain=grain, where=where, start=start, end=end, keep_empty=keep_empty)
