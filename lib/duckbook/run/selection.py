"""Model selection over the declared DAG: ``--select MODEL`` (that model), ``MODEL+`` (and every
model downstream), ``+MODEL`` (and every model and source upstream), ``--exclude`` the same forms.

The selection decides which stages run (the stage of each selected model's group, the ingest
stage when a source is selected, the reports when the selection reaches downstream with ``+``)
and, inside those stages, which models are built: the runner passes the selected models to the
kernel (:data:`duckbook.engine.SELECT_ENV`); :func:`duckbook.build.models.build_models` builds
only those and reports the others that an input change reached as ``stale``.

Resolving a selection loads the project (which imports Ibis): only a run with ``--select`` or
``--exclude MODEL`` pays for it.
"""

from __future__ import annotations

import dataclasses
import graphlib
from collections.abc import Mapping, Sequence

from duckbook import params
from duckbook.errors import unknown_name


@dataclasses.dataclass(frozen=True)
class Selection:
    """What a model selection resolves to."""

    models: frozenset[str]  # qualified models to build
    sources: frozenset[str]  # raw.<source> tables selected (their stage: ingest)
    downstream: bool  # a `MODEL+` term: the reports read what it rebuilds


def resolve(edges: Mapping[str, Sequence[str]], select: Sequence[str], exclude: Sequence[str] = ()) -> Selection:
    """Resolve ``select`` and ``exclude`` terms over ``edges`` (``{model: inputs}``, qualified).
    A term names a model by ``schema.name`` or ``name``, or a source by ``raw.name`` or ``name``.
    No ``select`` terms: every model. Raises :class:`duckbook.params.ParameterError` naming an
    unknown model or source with the closest names and every model and source.

    >>> edges = {"staging.stg_orders": ("raw.raw_orders",), "marts.orders": ("staging.stg_orders",),
    ...          "marts.customers": ("marts.orders",)}
    >>> sorted(resolve(edges, ["orders+"]).models)
    ['marts.customers', 'marts.orders']
    >>> s = resolve(edges, ["+orders"])
    >>> sorted(s.models), sorted(s.sources), s.downstream
    (['marts.orders', 'staging.stg_orders'], ['raw.raw_orders'], False)
    >>> sorted(resolve(edges, ["stg_orders+"], exclude=["customers"]).models)
    ['marts.orders', 'staging.stg_orders']
    """
    nodes = set(edges) | {i for inputs in edges.values() for i in inputs}
    children: dict[str, set[str]] = {n: set() for n in nodes}
    for model, inputs in edges.items():
        for i in inputs:
            children[i].add(model)
    graphlib.TopologicalSorter(edges).prepare()  # a cycle fails here, not in a walk below

    chosen: set[str] = set(edges) if not select else set()
    downstream = False
    for term in select:
        found = _walk(_node(term, nodes, "--select"), term, edges, children)
        chosen |= found
        downstream |= term.endswith("+")
    for term in exclude:
        chosen -= _walk(_node(term, nodes, "--exclude"), term, edges, children)
    return Selection(
        models=frozenset(n for n in chosen if n in edges),
        sources=frozenset(n for n in chosen if n not in edges),
        downstream=downstream,
    )


def _walk(node: str, term: str, parents: Mapping[str, Sequence[str]], children: Mapping[str, set[str]]) -> set[str]:
    found = {node}
    if term.endswith("+"):
        found |= _closure(node, children)
    if term.startswith("+"):
        found |= _closure(node, parents)
    return found


def _closure(node: str, step: Mapping[str, Sequence[str] | set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(step.get(node, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(step.get(n, ()))
    return seen


def _node(term: str, nodes: set[str], option: str) -> str:
    name = term.strip("+")
    if name in nodes:
        return name
    matches = [n for n in nodes if n.partition(".")[2] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise params.ParameterError(f"{option} {term}: {name!r} is ambiguous: {', '.join(sorted(matches))}")
    short = {n.partition(".")[2] for n in nodes}
    raise params.ParameterError(unknown_name(option, "model or source", name, sorted(nodes), aliases=sorted(short)))
