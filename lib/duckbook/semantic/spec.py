"""The semantic layer's declarations: frozen dataclasses, and parsing a YAML document into them.

A document (already loaded, e.g. by ``yaml.safe_load``) has ``semantic_models:`` (name -> model)
and ``metrics:`` (a list). :func:`parse` checks only the shape of each entry (required and unknown
keys); how the entries fit together is :class:`duckbook.semantic.layer.SemanticLayer`'s job.

Examples
--------
>>> models, metrics = parse({
...     "semantic_models": {"orders": {
...         "table": "shop.orders",
...         "dimensions": [{"name": "ordered_at", "type": "time", "axis": "order_time"}],
...         "measures": [{"name": "order_total", "agg": "sum", "expr": "total"}]}},
...     "metrics": [{"name": "revenue", "type": "simple", "measure": "order_total"}]})
>>> models[0].agg_time.time_axis, models[0].measures[0].column, metrics[0].depends_on
('order_time', 'total', [])
>>> parse({"metrics": [{"name": "x", "type": "simple", "colour": "red"}]}, origin="layer.yml")
Traceback (most recent call last):
...
duckbook.semantic.spec.MetricError: layer.yml: metric x: Metric.__init__() got an unexpected keyword argument 'colour'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from duckbook.errors import UserError

#: time grain -> Ibis truncate unit
GRAINS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
#: the column of the grain period in query results (so no dimension may take this name)
PERIOD = "period"


class MetricError(UserError, ValueError):
    """An unknown metric, dimension or grain, or a bad definition; the message lists the choices."""


@dataclasses.dataclass(frozen=True)
class Entity:
    """A key of a semantic model: its ``primary`` key, or a ``foreign`` key to another model's primary."""

    name: str
    type: str  # primary | foreign
    expr: str


@dataclasses.dataclass(frozen=True)
class Dimension:
    """A column to slice by (``categorical``), or a ``time`` column measures are aggregated by."""

    name: str
    type: str = "categorical"  # categorical | time
    expr: str = ""
    description: str = ""
    grains: tuple[str, ...] = tuple(GRAINS)
    axis: str = ""  # time: the time axis it measures ("" = its own name); models on one axis compare

    @property
    def column(self) -> str:
        """The column (or expression) of the model's table."""
        return self.expr or self.name

    @property
    def time_axis(self) -> str:
        """The axis a time dimension declares, by default its own name."""
        return self.axis or self.name


@dataclasses.dataclass(frozen=True)
class Measure:
    """An aggregation (``sum count count_distinct avg min max median``) of a column, optionally filtered."""

    name: str
    agg: str
    expr: str = ""
    filter: str = ""
    description: str = ""

    @property
    def column(self) -> str:
        """The column (or expression) aggregated."""
        return self.expr or self.name


@dataclasses.dataclass(frozen=True)
class SemanticModel:
    """A table with its entities, dimensions and measures."""

    name: str
    table: str  # "schema.table"
    description: str = ""
    entities: tuple[Entity, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = ()
    time_dimension: str = ""  # the time dimension measures aggregate by ("" = the first one)

    @property
    def primary(self) -> Entity | None:
        """The primary entity, if the model has one (only models with one can be joined to)."""
        return next((e for e in self.entities if e.type == "primary"), None)

    @property
    def agg_time(self) -> Dimension | None:
        """The time dimension the model's measures are aggregated by."""
        times = [d for d in self.dimensions if d.type == "time"]
        return next((d for d in times if d.name == self.time_dimension), times[0] if times else None)


@dataclasses.dataclass(frozen=True)
class MetricInput:
    """An input of a derived metric, optionally renamed and offset ``offset`` grain periods earlier."""

    metric: str
    alias: str = ""
    offset: int = 0

    @property
    def name(self) -> str:
        """The name the metric's formula uses for this input."""
        return self.alias or self.metric


@dataclasses.dataclass(frozen=True)
class Metric:
    """A ``simple``, ``ratio``, ``derived`` or ``cumulative`` metric (the fields its type uses are set)."""

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

    @property
    def depends_on(self) -> list[str]:
        """The metrics this one is computed from (none for a simple metric)."""
        if self.type == "ratio":
            return [self.numerator, self.denominator]
        if self.type == "derived":
            return [i.metric for i in self.inputs]
        if self.type == "cumulative":
            return [self.metric]
        return []


def parse(doc: Mapping[str, object], *, origin: str | None = None) -> tuple[list[SemanticModel], list[Metric]]:
    """The semantic models and metrics a YAML document declares, in declaration order.

    Parameters
    ----------
    doc
        The document, as ``yaml.safe_load`` returns it: ``semantic_models:`` and ``metrics:``.
    origin
        Where the document comes from (a file name), prefixed to error messages.

    Raises
    ------
    MetricError
        An entry misses a required key, has an unknown one, or is not a mapping.
    """
    try:
        if not isinstance(doc, Mapping):
            raise MetricError(f"a semantic layer is a mapping (semantic_models, metrics), not {type(doc).__name__}")
        models, metrics = doc.get("semantic_models") or {}, doc.get("metrics") or []
        if not isinstance(models, Mapping):
            raise MetricError(f"semantic_models must map model names to models, not {type(models).__name__}")
        if not isinstance(metrics, list):
            raise MetricError(f"metrics must be a list, not {type(metrics).__name__}")
        return [_model(name, spec) for name, spec in models.items()], [_metric(spec) for spec in metrics]
    except MetricError as exc:
        raise MetricError(f"{origin}: {exc}" if origin else str(exc)) from None


def _model(name: str, spec: object) -> SemanticModel:
    try:
        if not isinstance(spec, Mapping):
            raise TypeError(f"a model is a mapping (table, entities, dimensions, measures), not {spec!r}")
        return SemanticModel(
            name=name,
            table=spec["table"],
            description=spec.get("description", ""),
            entities=tuple(Entity(**e) for e in spec.get("entities", [])),
            dimensions=tuple(
                Dimension(**{**d, "grains": tuple(d.get("grains", GRAINS))}) for d in spec.get("dimensions", [])
            ),
            measures=tuple(Measure(**m) for m in spec.get("measures", [])),
            time_dimension=spec.get("time_dimension", ""),
        )
    except (KeyError, TypeError) as exc:
        raise MetricError(f"semantic model {name}: {exc}") from None


def _metric(spec: object) -> Metric:
    if not isinstance(spec, Mapping):
        raise MetricError(f"a metric is a mapping (name, type, ...), not {spec!r}")
    try:
        inputs = tuple(MetricInput(**i) for i in spec.get("inputs", []))
        return Metric(**{**spec, "inputs": inputs})
    except TypeError as exc:
        raise MetricError(f"metric {spec.get('name', '?')}: {exc}") from None
