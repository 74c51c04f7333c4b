"""The semantic layer: semantic models and metrics declared once in YAML, queried through Ibis.

A *semantic model* names a table, its entities (a primary key and foreign keys, through which
models join, always many-to-one so a join never fans out), its dimensions (categorical, or time
with the grains allowed and the time *axis* it measures) and its measures (``sum count
count_distinct avg min max median``, each with an optional filter). A *metric* is one of

* ``simple``: a measure, optionally filtered;
* ``ratio``: ``numerator`` / ``denominator`` (two metrics; null when the denominator is 0);
* ``derived``: a formula over input metrics, each optionally offset in time (``offset: 1`` is the
  same metric one grain period earlier, for growth rates);
* ``cumulative``: a running total of a metric over the periods, or over a trailing ``window`` of
  periods.

:class:`SemanticLayer` validates the declarations (:mod:`.spec`) and answers questions about them;
:meth:`SemanticLayer.query` (see :mod:`.api`) returns an Ibis table, so the same query runs on any
backend. Filters and formulas are small Python expressions (:mod:`duckbook.expressions`), never
``eval``-ed.

Examples
--------
>>> import datetime as dt, ibis
>>> layer = SemanticLayer.from_dict({
...     "semantic_models": {"orders": {
...         "table": "marts.orders",
...         "entities": [{"name": "order", "type": "primary", "expr": "id"}],
...         "dimensions": [{"name": "ordered_at", "type": "time"}, {"name": "shop"}],
...         "measures": [{"name": "order_total", "agg": "sum"},
...                      {"name": "orders", "agg": "count_distinct", "expr": "id"}]}},
...     "metrics": [
...         {"name": "revenue", "type": "simple", "measure": "order_total"},
...         {"name": "orders", "type": "simple", "measure": "orders"},
...         {"name": "aov", "type": "ratio", "numerator": "revenue", "denominator": "orders"}]})
>>> orders = ibis.memtable({"id": [1, 2, 3], "shop": ["a", "b", "a"], "order_total": [10.0, 20.0, 5.0],
...                         "ordered_at": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 1)]})
>>> monthly = layer.query(["revenue", "aov"], {"marts.orders": orders}, grain="month")
>>> monthly.to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
[{'period': datetime.date(2024, 1, 1), 'revenue': 30.0, 'aov': 15.0},
 {'period': datetime.date(2024, 2, 1), 'revenue': 5.0, 'aov': 5.0}]
>>> layer.time_axis("aov"), layer.metrics_for(axis="ordered_at", grain="day", by=["shop"])
('ordered_at', ['revenue', 'orders', 'aov'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Unpack

from duckbook.errors import unknown_name
from duckbook.semantic.spec import GRAINS, PERIOD, Dimension, Measure, Metric, MetricError, SemanticModel, parse

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from duckbook.semantic.api import QueryOptions, Tables

AGGREGATIONS = ("sum", "count", "count_distinct", "avg", "min", "max", "median")
METRIC_TYPES = ("simple", "ratio", "derived", "cumulative")

#: a join path: ``[(from_model, from_column, to_model), ...]``
JoinPath = list[tuple[str, str, str]]


class SemanticLayer:
    """Semantic models and metrics, validated on construction (see the module docstring).

    ``models`` and ``metrics`` map names to their declarations, in declaration order.
    """

    def __init__(self, models: Sequence[SemanticModel], metrics: Sequence[Metric]) -> None:
        self.models = {m.name: m for m in models}
        self.metrics = {m.name: m for m in metrics}
        self._measure_owner: dict[str, str] = {}
        self._dimension_owner: dict[str, str] = {}
        #: queries compiled over given tables (:func:`duckbook.semantic.api.query`): a metric table
        #: rebuilt every micro-batch compiles the same query over the same tables (~0.3 s each)
        self.compiled: dict[object, ir.Table] = {}
        self._validate()

    @classmethod
    def from_dict(cls, doc: Mapping[str, object], *, origin: str | None = None) -> SemanticLayer:
        """The layer a YAML document declares (``semantic_models:`` and ``metrics:``).

        Parameters
        ----------
        doc
            The document, already loaded (``yaml.safe_load``).
        origin
            Where it comes from (a file name), prefixed to every error message.

        Raises
        ------
        MetricError
            A malformed entry, or declarations that do not fit together.
        """
        models, metrics = parse(doc, origin=origin)
        try:
            return cls(models, metrics)
        except MetricError as exc:
            raise MetricError(f"{origin}: {exc}" if origin else str(exc)) from None

    # -- validation -------------------------------------------------------------------------
    def _validate(self) -> None:
        for model in self.models.values():
            for d in model.dimensions:
                if d.type not in ("categorical", "time"):
                    raise MetricError(
                        f"model {model.name}: dimension {d.name} has type {d.type!r} (categorical or time)"
                    )
                if d.axis and d.type != "time":
                    raise MetricError(f"model {model.name}: dimension {d.name} has an axis but is not a time dimension")
                if bad := set(d.grains) - set(GRAINS):
                    raise MetricError(f"model {model.name}: dimension {d.name} has unknown grains {sorted(bad)}")
                if d.name in self._dimension_owner or d.name == PERIOD:
                    owner = self._dimension_owner.get(d.name, "reserved")
                    raise MetricError(f"dimension {d.name!r} is declared twice ({owner}, {model.name})")
                self._dimension_owner[d.name] = model.name
            for m in model.measures:
                if m.agg not in AGGREGATIONS:
                    raise MetricError(
                        f"model {model.name}: measure {m.name} has agg {m.agg!r}; use one of {', '.join(AGGREGATIONS)}"
                    )
                if m.name in self._measure_owner:
                    raise MetricError(
                        f"measure {m.name!r} is declared twice ({self._measure_owner[m.name]}, {model.name})"
                    )
                self._measure_owner[m.name] = model.name
            if model.measures and model.agg_time is None:
                raise MetricError(f"model {model.name} has measures but no time dimension")
        for metric in self.metrics.values():
            if metric.type not in METRIC_TYPES:
                raise MetricError(
                    f"metric {metric.name} has type {metric.type!r}; use one of {', '.join(METRIC_TYPES)}"
                )
            if metric.type == "simple" and metric.measure not in self._measure_owner:
                raise MetricError(
                    f"metric {metric.name}: unknown measure {metric.measure!r}; "
                    f"measures: {', '.join(sorted(self._measure_owner))}"
                )
            if metric.type == "derived" and not metric.expr:
                raise MetricError(f"metric {metric.name}: a derived metric needs expr")
            for dep in metric.depends_on:
                if dep not in self.metrics:
                    raise MetricError(f"metric {metric.name}: unknown input metric {dep!r}")
        for name in self.metrics:
            self._check_acyclic(name, ())
        for name in self.metrics:
            if len(axes := self._axes(name)) > 1:
                raise MetricError(
                    f"metric {name} mixes time axes {', '.join(sorted(axes))}: give the time dimensions of "
                    f"{', '.join(sorted(self.models_of(name)))} the same axis"
                )

    def _check_acyclic(self, name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise MetricError(f"metric {path[0]} depends on itself: {' -> '.join((*path, name))}")
        for dep in self.metrics[name].depends_on:
            self._check_acyclic(dep, (*path, name))

    def _axes(self, metric: str) -> set[str]:
        return {self.agg_time(m).time_axis for m in self.models_of(metric)}

    # -- lookups ----------------------------------------------------------------------------
    def _metric(self, name: str) -> Metric:
        if name not in self.metrics:
            raise MetricError(unknown_name("metric", "metric", name, sorted(self.metrics)))
        return self.metrics[name]

    def _model(self, name: str) -> SemanticModel:
        if name not in self.models:
            raise MetricError(unknown_name("model", "semantic model", name, sorted(self.models)))
        return self.models[name]

    def model_of_measure(self, name: str) -> SemanticModel:
        """The semantic model declaring measure ``name``."""
        if name not in self._measure_owner:
            raise MetricError(unknown_name("measure", "measure", name, sorted(self._measure_owner)))
        return self.models[self._measure_owner[name]]

    def model_of_dimension(self, name: str) -> SemanticModel:
        """The semantic model declaring dimension ``name``."""
        if name not in self._dimension_owner:
            raise MetricError(unknown_name("dimension", "dimension", name, sorted(self._dimension_owner)))
        return self.models[self._dimension_owner[name]]

    def agg_time(self, model: str) -> Dimension:
        """The time dimension the measures of ``model`` aggregate by."""
        if (time := self._model(model).agg_time) is None:
            raise MetricError(f"model {model} has no time dimension")
        return time

    def dimension_names(self) -> list[str]:
        """Every dimension (categorical and time) of every model, in declaration order."""
        return list(self._dimension_owner)

    def measures_of(self, metric: str) -> list[Measure]:
        """The measures a metric is computed from, in the order its inputs are declared."""
        m = self._metric(metric)
        if m.type == "simple":
            return [next(x for x in self.model_of_measure(m.measure).measures if x.name == m.measure)]
        return [x for dep in m.depends_on for x in self.measures_of(dep)]

    def models_of(self, metric: str) -> set[str]:
        """The names of the semantic models a metric reads."""
        return {self._measure_owner[x.name] for x in self.measures_of(metric)}

    def reachable(self, model: str) -> dict[str, JoinPath]:
        """Models reachable from ``model`` through foreign -> primary entities, each with the
        join path ``[(from_model, from_column, to_model), ...]`` (``[]`` for ``model`` itself)."""
        paths: dict[str, JoinPath] = {self._model(model).name: []}
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
        """Dimensions ``metric`` can be sliced by: the categorical ones every model it reads can reach."""
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

    def grains(self, metric: str) -> list[str]:
        """The grains ``metric`` can be queried by: those the time dimensions of all its models allow."""
        times = [self.agg_time(m) for m in self.models_of(metric)]
        return [g for g in GRAINS if all(g in t.grains for t in times)]

    def compares_periods(self, metric: str) -> bool:
        """Whether ``metric`` reads an input offset in time (so it needs a grain: no totals)."""
        m = self._metric(metric)
        return any(i.offset for i in m.inputs) or any(self.compares_periods(d) for d in m.depends_on)

    def time_axis(self, metric: str) -> str:
        """The time axis ``metric`` is aggregated along: the ``axis`` of its models' time dimensions."""
        (axis,) = self._axes(metric)  # one: validation refuses a metric mixing axes
        return axis

    def metrics_for(self, *, axis: str, grain: str | None, by: Sequence[str] = ()) -> list[str]:
        """Every metric along time ``axis`` that can be queried by ``grain`` (``None``: totals) and
        sliced by all of ``by``, in declaration order.

        Raises
        ------
        MetricError
            An unknown axis, grain or dimension; the message lists the choices.
        """
        axes = {m.agg_time.time_axis for m in self.models.values() if m.agg_time is not None and m.measures}
        if axis not in axes:
            raise MetricError(f"unknown time axis {axis!r}; choose from: {', '.join(sorted(axes))}")
        if grain is not None and grain not in GRAINS:
            raise MetricError(f"unknown grain {grain!r}; choose from: {', '.join(GRAINS)}")
        for dimension in by:
            self.model_of_dimension(dimension)
        return [
            name
            for name in self.metrics
            if self.time_axis(name) == axis
            and (grain in self.grains(name) if grain else not self.compares_periods(name))
            and set(by) <= self.dimensions(name)
        ]

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
    def query(self, metrics: Sequence[str], tables: Tables, **options: Unpack[QueryOptions]) -> ir.Table:
        """Compute ``metrics`` per ``grain`` period and ``by`` dimension over ``tables``: see
        :func:`duckbook.semantic.api.query`."""
        from duckbook.semantic import api  # the entry point builds on the layer, not the reverse

        return api.query(self, metrics, tables, **options)
