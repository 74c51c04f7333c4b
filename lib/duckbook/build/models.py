"""Build a declared group of models in one call, in DAG order, into one write-audit-publish build.

Inputs of the same group are read from the build's tables (so a mart reads the new version of
another mart, never a stale published one); every other input from the warehouse. Each model is
brought up to date by its materialization (:mod:`duckbook.build.materialize`): rebuilt, updated
incrementally, its snapshots applied, or skipped when none of its inputs changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis.expr.types as ir

from duckbook.build.changes import Feed
from duckbook.build.materialize import build_model
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
    current: dict[str, ir.Table] = {}
    for m in models:
        inputs = {q: current[q] if q in current else ctx.table(q) for q in project.edges[m.qualified]}
        current[m.qualified], outcome = build_model(ctx, build, m, inputs, feed, full_refresh=full_refresh)
        build.outcomes.append(outcome)
    feed.flush()
    return build
