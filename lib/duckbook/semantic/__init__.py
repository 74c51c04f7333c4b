"""The semantic layer: semantic models and metrics declared in YAML, compiled to Ibis queries.

:mod:`.spec` holds the declarations and parses a YAML document into them, :mod:`.layer`
validates them and answers questions about them, :mod:`.planner` compiles a query and
:mod:`.api` checks a query's arguments and runs it over tables or an open connection.
"""

from duckbook.semantic.api import QueryOptions, query_warehouse
from duckbook.semantic.layer import SemanticLayer
from duckbook.semantic.spec import GRAINS, MetricError

__all__ = ["GRAINS", "MetricError", "QueryOptions", "SemanticLayer", "query_warehouse"]
