"""Compile a metric query into one Ibis expression, from the semantic layer's public lookups.

Each semantic model is aggregated once for all the simple metrics of it a query needs, on its rows
joined along many-to-one entity paths to the models whose dimensions the query uses (so no row is
counted twice). Ratio, derived and cumulative metrics combine those aggregates by outer joins on
the keys (``period`` and the ``by`` dimensions, null-safe), offsets shift periods, and a spine of
periods and dimension members fills the gaps where a query asks for them.

The arguments are validated by :mod:`duckbook.semantic.api`; a bad filter or formula still raises
:class:`~duckbook.semantic.spec.MetricError` here, naming the measure or metric.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from duckbook.expressions import ExpressionError, to_ibis
from duckbook.expressions import names as expression_names
from duckbook.semantic.spec import GRAINS, PERIOD, Measure, MetricError

if TYPE_CHECKING:
    from duckbook.semantic.layer import SemanticLayer

Resolve = Callable[[str], ir.Table]


def compile_query(
    layer: SemanticLayer,
    resolve: Resolve,
    metrics: Sequence[str],
    *,
    by: Sequence[str],
    grain: str | None,
    where: str | None,
    start: _dt.date | None,
    end: _dt.date | None,
    keep_empty: bool,
) -> ir.Table:
    """``metrics`` per ``grain`` period and ``by`` member, ordered by them (see
    :func:`duckbook.semantic.api.query` for the meaning of the arguments, validated there)."""
    plan = _Plan(layer, resolve, list(by), grain, where, metrics, None if grain else (start, end))
    keys = plan.keys
    # simple metrics of one model come from one aggregate: one join per model, not per metric
    by_model: dict[str, list[str]] = {}
    for name in metrics:
        if layer.metrics[name].type == "simple":
            by_model.setdefault(layer.model_of_measure(layer.metrics[name].measure).name, []).append(name)
    parts = [plan.model_aggregate(model).select(*keys, *names) for model, names in by_model.items()]
    parts += [plan.metric(name) for name in metrics if layer.metrics[name].type != "simple"]
    result = _outer_join(parts, keys)
    if keep_empty and keys:
        spine = plan.spine(result)
        if where is not None and expression_names(where) <= set(keys):
            spine = spine.filter(_where(where, spine, "where"))  # members the filter excludes stay out
        result = _outer_join([spine, result], keys, spine_first=True)
        fills = {
            m: ibis.coalesce(result[m], layer.metrics[m].fill_nulls_with)
            for m in metrics
            if layer.metrics[m].fill_nulls_with is not None
        }
        result = result.mutate(**fills)
    if grain and start is not None:
        result = result.filter(result[PERIOD] >= ibis.literal(start).truncate(GRAINS[grain]))
    if grain and end is not None:
        result = result.filter(result[PERIOD] <= ibis.literal(end))
    return result.select(*keys, *metrics).order_by(keys) if keys else result.select(*metrics)


def compile_members(layer: SemanticLayer, resolve: Resolve, by: Sequence[str], where: str | None) -> ir.Table:
    """The distinct members of the ``by`` dimensions (all of one model), optionally filtered."""
    model = layer.model_of_dimension(by[0])
    t = resolve(model.table)
    t = t.select(**{d.name: t[d.column] for d in model.dimensions})
    if where:
        t = t.filter(_where(where, t, "where"))
    return t.select(*by).distinct().order_by(list(by))


class _Plan:
    """One query's metric computations (cached per metric and offset)."""

    def __init__(
        self,
        layer: SemanticLayer,
        resolve: Resolve,
        by: list[str],
        grain: str | None,
        where: str | None,
        metrics: Sequence[str],
        time_range: tuple[_dt.date | None, _dt.date | None] | None,
    ) -> None:
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
            if layer.metrics[name].type == "simple":
                self._simple.add(name)
            todo.extend(layer.metrics[name].depends_on)

    def _owner(self, metric: str) -> str:
        """The model of a simple metric's measure."""
        return self.layer.model_of_measure(self.layer.metrics[metric].measure).name

    def rows(self, model_name: str) -> ir.Table:
        """The model's rows with its measure inputs, ``period`` and the dimensions this query
        needs, joined in along many-to-one entity paths (so no row is duplicated)."""
        layer = self.layer
        model = layer.models[model_name]
        t = self.resolve(model.table)
        simple_here = [layer.metrics[n] for n in sorted(self._simple) if self._owner(n) == model_name]
        needed = set(self.by) | (expression_names(self.where) if self.where else set())
        for metric in simple_here:  # metric filters may use joined dimensions too
            if metric.filter:
                needed |= expression_names(metric.filter)
        dims: dict[str, str] = {}
        for target, path in layer.reachable(model_name).items():
            wanted = [d for d in layer.models[target].dimensions if d.name in needed]
            if not wanted:
                continue
            if target == model_name:
                dims.update({d.name: d.column for d in wanted})
                continue
            key = path[0][1]
            for i, (_, _, to_model) in enumerate(path):
                to = self.resolve(layer.models[to_model].table)
                k = f"_k_{target}_{i}"
                carry = (
                    {f"_d_{d.name}": to[d.column] for d in wanted}
                    if i + 1 == len(path)
                    else {f"_n_{target}_{i}": to[path[i + 1][1]]}
                )
                primary = layer.models[to_model].primary
                assert primary is not None  # reachable() only follows entities to a primary key
                lookup = to.select(**{k: to[primary.expr]}, **carry)
                t = t.left_join(lookup, t[key] == lookup[k])
                key = f"_n_{target}_{i}"
            dims.update({d.name: f"_d_{d.name}" for d in wanted})
        time_column = layer.agg_time(model_name).column
        if self.time_range is not None:  # totals over [start, end]: bound the rows themselves
            lo, hi = self.time_range
            time = t[time_column]
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
            cols[PERIOD] = t[time_column].truncate(GRAINS[self.grain]).cast("date")
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
                if self._owner(name) != model_name:
                    continue
                measure = self.layer.measures_of(name)[0]
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
            out = self.model_aggregate(self._owner(name)).select(*self.keys, name)
        elif metric.type == "ratio":
            num, den = (self.layer.metrics[metric.numerator], self.layer.metrics[metric.denominator])
            same_model = num.type == den.type == "simple" and self._owner(num.name) == self._owner(den.name)
            both = (
                self.model_aggregate(self._owner(num.name))
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
            base = self.metric(metric.metric)
            if not self.grain:
                out = base.select(*self.by, **{name: base[metric.metric]})
            else:
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
                owners.setdefault(self.layer.model_of_dimension(dim).name, []).append(dim)
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
