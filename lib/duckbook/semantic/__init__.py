"""The semantic layer: semantic models and metrics declared in YAML, compiled to Ibis queries."""
