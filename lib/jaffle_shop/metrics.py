"""Jaffle Shop metrics: the semantic layer declared in ``semantic_models.yml``, and the metric
tables the ``40_metrics`` stage publishes from it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from duckbook.metrics import SemanticLayer

SEMANTIC_MODELS_YML = Path(__file__).with_name("semantic_models.yml")
LAYER = SemanticLayer.from_dict(
    yaml.safe_load(SEMANTIC_MODELS_YML.read_text(encoding="utf-8")), origin=SEMANTIC_MODELS_YML.name
)

#: The time axis of the published tables: when orders were placed (average_tax_rate, by store
#: opening date, is on another axis and so not published).
ORDER_TIME = "order_time"


def _table(grain: str, by: Sequence[str] = ()) -> tuple[str, tuple[str, ...], list[str]]:
    """A metric table: every order-time metric that can be queried by ``grain`` and ``by``."""
    return grain, tuple(by), LAYER.metrics_for(axis=ORDER_TIME, grain=grain, by=by)


#: The metric tables the 40_metrics stage publishes: name -> (grain, dimensions, metrics).
TABLES = {
    "daily": _table("day"),
    "weekly": _table("week"),
    "monthly": _table("month"),
    "monthly_by_location": _table("month", ["location_name"]),
    "monthly_by_product": _table("month", ["product_name", "product_type"]),
}
