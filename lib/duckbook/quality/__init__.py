"""Data quality: checks declared once and evaluated as failing rows or observed values on any Ibis
backend. :mod:`~duckbook.quality.types` (what a check is), :mod:`~duckbook.quality.registry` (the
catalogue of check types; checks from parsed YAML), :mod:`~duckbook.quality.row_checks` and
:mod:`~duckbook.quality.aggregate_checks` (the built-in check types),
:mod:`~duckbook.quality.evaluate` (running checks), and :mod:`~duckbook.quality.summary` (what the
quality report shows of a run). ``duckbook check`` is :mod:`duckbook.build.audit`."""
