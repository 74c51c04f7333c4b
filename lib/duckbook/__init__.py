"""duckbook: notebook-centric analytics engineering on Ibis and DuckDB.

The pieces a stage notebook uses:

* :func:`duckbook.connect` opens the warehouse (the one door to the engine, :mod:`duckbook.engine`);
* :func:`duckbook.start_stage` validates a stage's parameters and returns its context, whose
  ``build(schema)`` is a write-audit-publish build (:mod:`duckbook.stage`);
* :mod:`duckbook.contracts` and :mod:`duckbook.ingest` load raw files under contracts;
* :mod:`duckbook.checks` declares and runs data checks;
* :mod:`duckbook.metrics` declares and computes metrics;
* :mod:`duckbook.report` renders charts offline and pages to HTML;
* :mod:`duckbook.runner` executes the stage notebooks with papermill (``duckbook run``).
"""

from duckbook.engine import connect
from duckbook.stage import start_stage

__all__ = ["connect", "start_stage"]
__version__ = "0.1.0"
