"""Jaffle Shop metrics: the semantic layer declared in ``semantic_models.yml``, and the metric
tables the ``40_metrics`` stage publishes from it."""

from __future__ import annotations

from pathlib import Path

from duckbook.metrics import SemanticLayer

SEMANTIC_MODELS_YML = Path(__file__).with_name("semantic_models.yml")
LAYER = SemanticLayer.from_yaml(SEMANTIC_MODELS_YML)

#: Metrics aggregated by order time (average_tax_rate is by store opening date, so it is not
#: published in the order-time tables).
ORDER_METRICS = [name for name in LAYER.metrics if name != "average_tax_rate"]

#: The metric tables the 40_metrics stage publishes: name -> (grain, dimensions, metrics).
TABLES = {
    "daily": ("day", (), ORDER_METRICS),
    "weekly": ("week", (), ORDER_METRICS),
    "monthly": ("month", (), ORDER_METRICS),
    "monthly_by_location": (
        "month",
        ("location_name",),
        [m for m in ORDER_METRICS if "location_name" in LAYER.dimensions(m)],
    ),
    "monthly_by_product": (
        "month",
        ("product_name", "product_type"),
        [m for m in ORDER_METRICS if {"product_name", "product_type"} <= LAYER.dimensions(m)],
    ),
}
