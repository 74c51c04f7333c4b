"""The public metrics API: ``duckbook.metrics.query(...)`` and ``duckbook.metrics.load()``.

The semantic layer itself lives in :mod:`duckbook.semantic`; this module is the stable door users
import: it finds the project's layer and warehouse from the configuration.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import ibis.expr.types as ir
import yaml

from duckbook import config, engine
from duckbook.semantic import GRAINS, MetricError, SemanticLayer, query_warehouse

__all__ = ["GRAINS", "MetricError", "SemanticLayer", "load", "query"]


def load(path: str | Path | None = None) -> SemanticLayer:
    """The project's semantic layer (``semantic_layer`` in ``[tool.duckbook]``), or the one in ``path``.

    Raises
    ------
    MetricError
        The file cannot be read or parsed, or its declarations are invalid (the message names the file).
    """
    path = Path(path or config.load().semantic_layer)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MetricError(f"cannot read semantic layer {path}: {exc}") from None
    return SemanticLayer.from_dict(doc, origin=str(path))


def query(
    metrics: Sequence[str],
    *,
    by: Sequence[str] = (),
    grain: str | None = "month",
    where: str | None = None,
    start: str | _dt.date | None = None,
    end: str | _dt.date | None = None,
    keep_empty: bool = False,
    warehouse: str | None = None,
    layer: SemanticLayer | None = None,
) -> ir.Table:
    """Query the project's metrics from its warehouse (opened read-only); see
    :func:`duckbook.semantic.api.query` for the arguments. Call ``.to_polars()`` or
    ``.to_pandas()`` on the result.

    ``duckbook.metrics.query(["revenue", "order_count"], by=["location_name"], grain="month")``

    Raises
    ------
    FileNotFoundError
        The warehouse does not exist yet.
    MetricError
        An unknown metric, dimension or grain, or an invalid semantic layer.
    """
    con = engine.connect(warehouse, read_only=True)
    return query_warehouse(
        con,
        layer or load(),
        metrics,
        by=by,
        grain=grain,
        where=where,
        start=start,
        end=end,
        keep_empty=keep_empty,
    )
