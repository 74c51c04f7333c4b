"""Models declared once: a pure function, the tables it reads, where it lands, how it is built.

A model is kedro's ``node(func, inputs, outputs)`` for tables: :func:`model` declares one from a
``Table -> Table`` function whose positional-only parameters name its inputs (override with
``inputs=``); the DAG comes from the declarations, never from call order in a notebook.

Examples
--------
>>> import ibis
>>> def stg_orders(raw_orders, /):
...     return raw_orders
>>> def orders(stg_orders, /):
...     return stg_orders
>>> models = [model(orders, schema="marts"), model(stg_orders, schema="staging")]
>>> [m.name for m in topological_order(models, sources={"raw_orders"})]
['stg_orders', 'orders']
>>> model(orders, schema="marts").inputs
('stg_orders',)
"""

from __future__ import annotations

import dataclasses
import functools
import graphlib
import hashlib
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Literal

import ibis.expr.types as ir

from duckbook.errors import ProjectError
from duckbook.project.code import function_digest

#: How a model's table is materialized (see :mod:`duckbook.build.materialize`):
#: ``table`` rebuilt in full when an input changed; ``incremental`` only the rows its inputs'
#: changes reach are recomputed (by ``time_column`` window or by ``unique_key``) and replaced in
#: the run's transaction; ``snapshot`` SCD2 history of a snapshot source, one version per change.
Materialization = Literal["table", "incremental", "snapshot"]
MATERIALIZATIONS: tuple[str, ...] = ("table", "incremental", "snapshot")

Transform = Callable[..., ir.Table]


@dataclasses.dataclass(frozen=True)
class Model:
    """One declared model: ``function(*inputs)`` is published as ``schema.name``.

    ``inputs`` are names of other models or of sources (raw tables), or qualified
    ``schema.table`` names; they are passed to ``function`` positionally, in order.
    """

    name: str
    function: Transform
    inputs: tuple[str, ...]
    schema: str
    materialization: Materialization = "table"
    #: the stage group the model is built with (default: its schema)
    group: str = ""
    #: the column that identifies a row (incremental: rows replaced by key; snapshot: the member)
    unique_key: str = ""
    #: incremental: the (day-aligned) time column whose window from the earliest changed day is
    #: recomputed; ``lookback_days`` widens that window for late rows nobody reported
    time_column: str = ""
    lookback_days: int = 0
    #: incremental: each input row gives at most one output row with its own ``unique_key`` (a
    #: staging model), so the function runs on the changed input rows only
    row_wise: bool = False
    #: incremental by ``time_column``: the grain that column is truncated to (metric tables), and
    #: for each input the column that carries the same time (default: ``time_column``)
    time_grain: str = ""
    time_inputs: tuple[tuple[str, str], ...] = ()
    #: snapshot: ``check`` (a change in a ``tracked`` column) or ``timestamp`` (a later ``updated_at``);
    #: a member missing from a snapshot is closed (``hard_deletes="close"``) or kept (``"ignore"``)
    strategy: str = "check"
    tracked: tuple[str, ...] | None = None
    updated_at: str = ""
    hard_deletes: str = "close"
    #: more that the code fingerprint covers (a metric table: the definitions of its metrics)
    version: str = ""

    def __post_init__(self) -> None:
        if not self.group:
            object.__setattr__(self, "group", self.schema)

    @property
    def qualified(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"

    @property
    def module(self) -> str:
        """The module that defines the function."""
        return getattr(self.function, "__module__", "") or ""

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of what the model's rows depend on besides its inputs: its function's code
        (:func:`duckbook.project.code.function_digest`), ``version`` and every declared option.
        A change rebuilds the model in full."""
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "function"}
        text = f"{function_digest(self.function)}\x00{options!r}"
        return hashlib.sha256(text.encode()).hexdigest()


def model(
    function: Transform,
    *,
    schema: str,
    name: str | None = None,
    inputs: Sequence[str] | None = None,
    materialization: Materialization = "table",
    group: str | None = None,
    unique_key: str = "",
    time_column: str = "",
    lookback_days: int = 0,
    row_wise: bool = False,
    strategy: str = "check",
    tracked: Sequence[str] | None = None,
    updated_at: str = "",
    hard_deletes: str = "close",
) -> Model:
    """Declare a model from a pure transform.

    ``name`` defaults to the function's name and ``inputs`` to the names of its positional
    parameters (the house style is ``def orders(stg_orders, order_items, /)``).

    * ``materialization="incremental"`` needs ``time_column`` (rows on or after the earliest day
      an input change reaches are recomputed and replaced) or ``unique_key`` (the rows of the keys
      an input change reaches). ``row_wise=True`` declares a one-input model that maps each input
      row to at most one output row (a staging model): its function runs on the changed input rows
      only, and their rows are replaced by ``unique_key``.
    * ``materialization="snapshot"`` reads one snapshot source and keeps SCD2 history of
      ``unique_key`` members (``valid_from``, ``valid_to``, ``is_current``; see
      :mod:`duckbook.build.history`) with ``strategy`` ``check`` (``tracked`` columns, default all)
      or ``timestamp`` (``updated_at``), closing members a snapshot lacks unless
      ``hard_deletes="ignore"``.

    Raises :class:`ProjectError` naming the model and the option that does not fit.
    """
    name = name or function.__name__
    if inputs is None:
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        inputs = [p.name for p in inspect.signature(function).parameters.values() if p.kind in kinds]
    if materialization not in MATERIALIZATIONS:
        raise ProjectError(
            f"model {name}: materialization {materialization!r}; use one of {', '.join(MATERIALIZATIONS)}"
        )
    if materialization == "incremental" and not (time_column or unique_key):
        raise ProjectError(f"model {name}: an incremental model needs time_column or unique_key")
    if materialization == "snapshot":
        if not unique_key or len(inputs) != 1:
            raise ProjectError(f"model {name}: a snapshot model reads one snapshot source and needs unique_key")
        if strategy not in ("check", "timestamp") or (strategy == "timestamp") != bool(updated_at):
            raise ProjectError(f"model {name}: strategy must be check, or timestamp with updated_at (got {strategy!r})")
        if hard_deletes not in ("close", "ignore"):
            raise ProjectError(f"model {name}: hard_deletes must be close or ignore, not {hard_deletes!r}")
    if row_wise and (materialization != "incremental" or not unique_key or len(inputs) != 1):
        raise ProjectError(f"model {name}: row_wise needs an incremental model with one input and a unique_key")
    if lookback_days < 0:
        raise ProjectError(f"model {name}: lookback_days must be >= 0")
    return Model(
        name,
        function,
        tuple(inputs),
        schema,
        materialization,
        group or schema,
        unique_key=unique_key,
        time_column=time_column,
        lookback_days=lookback_days,
        row_wise=row_wise,
        strategy=strategy,
        tracked=None if tracked is None else tuple(tracked),
        updated_at=updated_at,
        hard_deletes=hard_deletes,
    )


@dataclasses.dataclass(frozen=True)
class MetricTable:
    """A metric table declared by its shape: every metric of the semantic layer on the time
    ``axis`` that allows ``grain`` and can be sliced by ``by`` (see
    :meth:`duckbook.semantic.SemanticLayer.metrics_for`). The project loader turns it into a
    :class:`Model` reading the tables of the semantic models involved."""

    name: str
    grain: str
    axis: str
    by: tuple[str, ...] = ()
    schema: str = "metrics"


def metric_table(name: str, *, grain: str, axis: str, by: Sequence[str] = (), schema: str = "metrics") -> MetricTable:
    """Declare a metric table (see :class:`MetricTable`)."""
    return MetricTable(name, grain, axis, tuple(by), schema)


def passthrough(table: ir.Table, *used: str) -> dict[str, ir.Value]:
    """The columns of ``table`` a transform does not name in ``used``, ingestion metadata
    (``_...``) left out: how a staging model carries a column a delivery added (schema
    evolution) without knowing it. Use as ``raw.select(id=raw.sku, ..., **passthrough(raw, "sku", ...))``.

    >>> import ibis
    >>> t = ibis.table({"sku": "string", "price": "int64", "colour": "string", "_batch_id": "string"})
    >>> list(passthrough(t, "sku", "price"))
    ['colour']
    """
    return {c: table[c] for c in table.columns if c not in used and not c.startswith("_")}


def resolve_inputs(models: Iterable[Model], sources: Collection[str]) -> dict[str, tuple[str, ...]]:
    """``{model: (qualified input, ...)}``: each input name resolved to ``schema.table``.

    A bare name is a model (``schema.name``) or else a source (``raw.name``); a qualified name
    must be a model or a ``raw`` source. Raises :class:`ProjectError` naming the model and the
    unknown input, with the choices.
    """
    models = list(models)
    by_name: dict[str, Model] = {}
    for m in models:
        if m.name in by_name:
            raise ProjectError(f"model {m.name} is declared twice ({by_name[m.name].qualified}, {m.qualified})")
        by_name[m.name] = m
    qualified = {m.qualified for m in models} | {f"raw.{s}" for s in sources}
    out = {}
    for m in models:
        resolved = []
        for name in m.inputs:
            if "." in name:
                target = name
            elif name in by_name:
                target = by_name[name].qualified
            else:
                target = f"raw.{name}"
            if target not in qualified:
                choices = ", ".join(sorted(by_name) + sorted(sources))
                raise ProjectError(f"model {m.qualified}: unknown input {name!r}; models and sources are: {choices}")
            resolved.append(target)
        out[m.qualified] = tuple(resolved)
    return out


def topological_order(models: Iterable[Model], sources: Collection[str] = ()) -> list[Model]:
    """``models`` with every model after its inputs (ties by declaration order).

    Raises :class:`ProjectError` naming the models of a cycle.
    """
    models = list(models)
    edges = resolve_inputs(models, sources)
    by_qualified = {m.qualified: m for m in models}
    graph = {q: [i for i in edges[q] if i in by_qualified] for q in by_qualified}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise ProjectError(f"models depend on each other in a cycle: {' -> '.join(exc.args[1])}") from None
    # stable: repeatedly take the earliest-declared model whose inputs are all placed
    done: set[str] = set()
    result: list[Model] = []
    pending = list(by_qualified)
    while pending:
        ready = next(q for q in pending if done.issuperset(graph[q]))
        pending.remove(ready)
        done.add(ready)
        result.append(by_qualified[ready])
    return result


def downstream(edges: Mapping[str, Sequence[str]], start: Iterable[str]) -> set[str]:
    """Every node reachable from ``start`` along ``edges`` (``{node: inputs}``), ``start`` included."""
    children: dict[str, set[str]] = {}
    for node, inputs in edges.items():
        for i in inputs:
            children.setdefault(i, set()).add(node)
    return _reachable(children, start)


def upstream(edges: Mapping[str, Sequence[str]], start: Iterable[str]) -> set[str]:
    """Every node ``start`` reads from, transitively, ``start`` included."""
    return _reachable(edges, start)


def _reachable(step: Mapping[str, Iterable[str]], start: Iterable[str]) -> set[str]:
    """``start`` and every node reached from it by following ``step`` (``{node: next nodes}``)."""
    todo = list(start)  # once: ``start`` may be an iterator
    seen = set(todo)
    while todo:
        for node in step.get(todo.pop(), ()):
            if node not in seen:
                seen.add(node)
                todo.append(node)
    return seen
