"""The public metrics API: ``duckbook.metrics.query(...)`` and ``duckbook.metrics.load()``.

The semantic layer itself lives in :mod:`duckbook.semantic`; this module is the stable door users
import.
"""

from duckbook.semantic.layer import GRAINS, MetricError, SemanticLayer, load, query

__all__ = ["GRAINS", "MetricError", "SemanticLayer", "load", "query"]
