"""Build a declared group of models in one call, in DAG order, into one write-audit-publish build.

Inputs of the same group are read from the build's tables (so a mart reads the new version of
another mart, never a stale published one); every other input from the warehouse. Each model is
brought up to date by its materialization (:mod:`duckbook.build.materialize`): rebuilt, updated
incrementally, its snapshots applied, or skipped when none of its inputs changed. A run with
``--select`` builds only the selected models; the others stay as published and are reported
``stale`` when an input changed since they were built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from duckbook import engine, events, ops
from duckbook.build.changes import Feed
from duckbook.build.materialize import Outcome, build_model
from duckbook.errors import ProjectError

if TYPE_CHECKING:
    from duckbook.build.context import StageContext
    from duckbook.build.wap import Build


def build_models(ctx: StageContext, group: str, *, full_refresh: bool = False) -> Build:
    """Bring every model of ``group`` (see :meth:`duckbook.project.Project.group`) up to date in
    one build, not yet audited or published; ``full_refresh`` rebuilds each from its inputs.
    What was done to each model is in ``build.outcomes``.

    Raises :class:`duckbook.errors.ProjectError` when the group is unknown or spans schemas, and
    ``LookupError`` when an input table has not been published yet.
    """
    project = ctx.project
    models = project.group(group)
    schemas = sorted({m.schema for m in models})
    if len(schemas) != 1:
        raise ProjectError(f"group {group!r} spans schemas {', '.join(schemas)}: one build publishes one schema")
    build = ctx.build(schemas[0])
    feed = Feed(ctx.con, ctx.run_id)
    selected = engine.selected_models()
    current: dict[str, ir.Table] = {}
    for m in models:
        edges = project.edges[m.qualified]
        if selected is not None and m.qualified not in selected:  # `duckbook run --select`: left as it is
            outcome = _not_selected(feed, m.qualified, edges)
            build.outcomes.append(outcome)
            events.emit("model", model=outcome.model, action=outcome.action, detail=outcome.detail)
            continue
        inputs = {q: current[q] if q in current else ctx.table(q) for q in edges}
        current[m.qualified], outcome = build_model(ctx, build, m, inputs, feed, full_refresh=full_refresh)
        build.outcomes.append(outcome)
        events.emit("model", model=outcome.model, action=outcome.action, detail=outcome.detail)
    feed.flush()
    outcomes = [{"model": o.model, "action": o.action, "detail": o.detail} for o in build.outcomes]
    stamp = {"run_id": ctx.run_id, "stage": ctx.stage}
    ops.record(
        ctx.con,
        "model_runs",
        ibis.memtable([{**o, **stamp} for o in outcomes], schema=ops.schema("model_runs")),
        replace_where={**stamp, "model": [o["model"] for o in outcomes]},
    )
    return build


def _not_selected(feed: Feed, model: str, inputs: Sequence[str]) -> Outcome:
    """A model a partial run leaves as it is: ``stale`` when an input changed since it was built."""
    state = feed.consumed(model)
    changed = sorted({c.table for c in feed.pending(inputs, after=state[0] if state else 0)})
    if changed:
        return Outcome(model, "stale", "not selected; inputs changed: " + ", ".join(changed))
    return Outcome(model, "not selected", "inputs unchanged")
