"""Build a declared group of models in one call, in DAG order, into one write-audit-publish build.

Inputs of the same group are read from the build's staged tables (so a mart reads the staged
version of another mart, never a stale published one); every other input from the published
warehouse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis.expr.types as ir

from duckbook.errors import ProjectError

if TYPE_CHECKING:
    from duckbook.build.context import StageContext
    from duckbook.build.wap import Build


def build_models(ctx: StageContext, group: str) -> Build:
    """Stage every model of ``group`` (see :meth:`duckbook.project.Project.group`) and return
    the build, not yet audited or published.

    Raises :class:`duckbook.errors.ProjectError` when the group is unknown or spans schemas, and
    ``LookupError`` when an input table has not been published yet.
    """
    project = ctx.project
    models = project.group(group)
    schemas = sorted({m.schema for m in models})
    if len(schemas) != 1:
        raise ProjectError(f"group {group!r} spans schemas {', '.join(schemas)}: one build publishes one schema")
    build = ctx.build(schemas[0])
    staged: dict[str, ir.Table] = {}
    for m in models:
        inputs = [staged[q] if q in staged else ctx.table(q) for q in project.edges[m.qualified]]
        staged[m.qualified] = build.add(m.name, m.function(*inputs))
    return build
