"""A first metric layer: metrics declared once, computed by time grain and dimension.

A *simple* metric aggregates one model (a table with a time column); a *derived* metric is an
expression over other metrics (ratios, differences), computed after them on the same rows.
:func:`compute` returns an Ibis table, so the same definitions run on any backend.

Examples
--------
>>> import ibis, datetime as dt
>>> orders = ibis.memtable({"ordered_at": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 1)],
...                         "total": [10.0, 20.0, 5.0], "shop": ["a", "b", "a"]})
>>> layer = MetricLayer(
...     models={"orders": Model("orders", time_column="ordered_at", dimensions=("shop",))},
...     metrics=[
...         Metric("revenue", "Sum of totals", model="orders", measure=lambda t: t.total.sum()),
...         Metric("order_count", "Orders", model="orders", measure=lambda t: t.count()),
...         Metric("aov", "Average order value", inputs=("revenue", "order_count"),
...                formula=lambda m: m.revenue / m.order_count),
...     ])
>>> layer.compute(["revenue", "aov"], {"orders": orders}, grain="month").to_pandas().values.tolist()
[[Timestamp('2024-01-01 00:00:00'), 30.0, 15.0], [Timestamp('2024-02-01 00:00:00'), 5.0, 5.0]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import ibis
import ibis.expr.types as ir

#: time grain -> Ibis truncate unit
GRAINS = {"day": "D", "week": "W", "month": "M"}


class MetricError(ValueError):
    """Unknown metric, dimension or grain; the message lists the valid choices."""


@dataclasses.dataclass(frozen=True)
class Model:
    """A table metrics aggregate: its time column and the dimensions it can be sliced by."""

    name: str
    time_column: str
    dimensions: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Metric:
    """A simple metric (``model`` + ``measure``) or a derived one (``inputs`` + ``formula``)."""

    name: str
    description: str
    model: str | None = None
    measure: Callable[[ir.Table], ir.Scalar] | None = None
    inputs: tuple[str, ...] = ()
    formula: Callable[[ir.Table], ir.Value] | None = None
    format: str = "number"  # number | currency | percent, for display

    def __post_init__(self) -> None:
        simple = self.model is not None and self.measure is not None
        derived = bool(self.inputs) and self.formula is not None
        if simple == derived:
            raise MetricError(f"metric {self.name}: give either model+measure or inputs+formula")


@dataclasses.dataclass(frozen=True)
class MetricLayer:
    """The declared models and metrics of a domain."""

    models: Mapping[str, Model]
    metrics: Sequence[Metric]

    def __post_init__(self) -> None:
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise MetricError(f"duplicate metric names in {names}")
        for m in self.metrics:
            if m.model is not None and m.model not in self.models:
                raise MetricError(f"metric {m.name}: unknown model {m.model!r}")
            for dep in m.inputs:
                if dep not in self.by_name:
                    raise MetricError(f"metric {m.name}: unknown input metric {dep!r}")
        for m in self.metrics:
            self._check_acyclic(m.name, ())

    def _check_acyclic(self, name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise MetricError(f"metric {path[0]} depends on itself: {' -> '.join((*path, name))}")
        for dep in self.by_name[name].inputs:
            self._check_acyclic(dep, (*path, name))

    @property
    def by_name(self) -> dict[str, Metric]:
        return {m.name: m for m in self.metrics}

    def simple_inputs(self, name: str) -> list[Metric]:
        """The simple metrics ``name`` is computed from (itself, if simple)."""
        metric = self.by_name[name]
        if metric.model is not None:
            return [metric]
        return [s for dep in metric.inputs for s in self.simple_inputs(dep)]

    def dimensions(self, name: str) -> set[str]:
        """Dimensions ``name`` can be sliced by: those every model it reads offers."""
        models = {s.model for s in self.simple_inputs(name)}
        return set.intersection(*(set(self.models[m].dimensions) for m in models))

    def describe(self) -> ir.Table:
        """One row per metric: name, description, kind and dimensions, sorted by name."""
        rows = [
            {"metric": m.name, "kind": "simple" if m.model else "derived", "description": m.description,
             "dimensions": ", ".join(sorted(self.dimensions(m.name)))}
            for m in sorted(self.metrics, key=lambda m: m.name)
        ]
        return ibis.memtable(rows)

    def compute(self, names: Sequence[str], tables: Mapping[str, ir.Table], *, grain: str = "month",
                by: Sequence[str] = ()) -> ir.Table:
        """Compute ``names`` per ``grain`` period (column ``period``) and ``by`` dimensions.

        ``tables`` maps model names to tables. Rows are ordered by period and dimensions.
        Raises :class:`MetricError` for an unknown metric, grain or dimension.
        """
        unknown = [n for n in names if n not in self.by_name]
        if unknown:
            raise MetricError(f"unknown metric(s) {unknown}; choose from: {', '.join(sorted(self.by_name))}")
        if grain not in GRAINS:
            raise MetricError(f"unknown grain {grain!r}; choose from: {', '.join(GRAINS)}")
        for n in names:
            bad = set(by) - self.dimensions(n)
            if bad:
                raise MetricError(f"metric {n} cannot be sliced by {sorted(bad)}; it allows: {', '.join(sorted(self.dimensions(n))) or 'none'}")
        keys = ["period", *by]
        simple = {s.name: s for n in names for s in self.simple_inputs(n)}
        per_model: dict[str, list[Metric]] = {}
        for s in simple.values():
            per_model.setdefault(s.model, []).append(s)  # type: ignore[arg-type]
        parts = []
        for model_name, metrics in per_model.items():
            t = tables[model_name]
            period = t[self.models[model_name].time_column].truncate(GRAINS[grain])
            parts.append(t.group_by(period=period, **{d: t[d] for d in by}).agg(**{m.name: m.measure(t) for m in metrics}))  # type: ignore[misc]
        spine = ibis.union(*(p.select(keys) for p in parts), distinct=True) if len(parts) > 1 else parts[0].select(keys)
        result = spine
        for part in parts:
            # null-safe: a NULL dimension member (or period) is a group of its own, not a miss
            joined = result.left_join(part, [result[k].identical_to(part[k]) for k in keys])
            result = joined.select(*[joined[c] for c in result.columns], *[joined[c] for c in part.columns if c not in keys])
        for n in self._derived_order(names):
            result = result.mutate(**{n: self.by_name[n].formula(result)})  # type: ignore[misc]
        return result.select(*keys, *names).order_by(keys)

    def _derived_order(self, names: Sequence[str]) -> list[str]:
        """Derived metrics needed for ``names``, inputs before the metrics that use them."""
        order: list[str] = []

        def visit(n: str) -> None:
            metric = self.by_name[n]
            for dep in metric.inputs:
                visit(dep)
            if metric.formula is not None and n not in order:
                order.append(n)

        for n in names:
            visit(n)
        return order


def safe_divide(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.NumericValue:
    """``numerator / denominator`` as float, null when the denominator is 0 or null."""
    return numerator.cast("float64") / denominator.cast("float64").nullif(0)
