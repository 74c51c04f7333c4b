"""The public metrics API: ``duckbook.metrics.query(...)`` and ``duckbook.metrics.load()``.

The semantic layer itself lives in :mod:`duckbook.semantic`; this module is the stable door users
import: it finds the project's layer and warehouse from the configuration.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Unpack

import ibis.expr.types as ir

from duckbook import engine, project
from duckbook.semantic import GRAINS, MetricError, QueryOptions, SemanticLayer, query_warehouse
from duckbook.semantic.api import validate

__all__ = ["GRAINS", "MetricError", "SemanticLayer", "load", "query"]


def load() -> SemanticLayer:
    """The project's semantic layer (the ``semantic_models:`` and ``metrics:`` sections of the
    project files, read by :func:`duckbook.project.load`).

    Raises
    ------
    duckbook.errors.ProjectError
        A project file cannot be read or its declarations are invalid (the message names the file).
    """
    return project.load().semantic_layer


def query(
    metrics: Sequence[str],
    *,
    warehouse: str | os.PathLike[str] | None = None,
    layer: SemanticLayer | None = None,
    **options: Unpack[QueryOptions],
) -> ir.Table:
    """Query the project's metrics from its warehouse (opened read-only); see
    :func:`duckbook.semantic.api.query` for the keyword arguments ``by``, ``grain``, ``where``,
    ``start``, ``end`` and ``keep_empty`` (the :class:`~duckbook.semantic.api.QueryOptions`).
    Call ``.to_polars()`` or ``.to_pandas()`` on the result.

    ``duckbook.metrics.query(["revenue", "order_count"], by=["location_name"], grain="month")``

    Raises
    ------
    duckbook.errors.WarehouseNotFound
        The warehouse does not exist yet.
    MetricError
        An unknown metric, dimension or grain (checked before the warehouse is opened; the message
        names the argument, the closest names and every valid one), or an invalid semantic layer.
    """
    layer = layer or load()
    validate(layer, metrics, **options)  # a typo is reported before the warehouse is opened
    con = engine.connect(warehouse, read_only=True)
    return query_warehouse(con, layer, metrics, **options)
