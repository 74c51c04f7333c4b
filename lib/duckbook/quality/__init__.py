"""Data quality: checks declared once, evaluated as "failing rows" or observed values on any Ibis
backend (:mod:`duckbook.quality.checks`), and the warehouse-wide check run behind
``duckbook check`` (:mod:`duckbook.quality.warehouse`)."""
