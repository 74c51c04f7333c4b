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

import sys as _sys
from typing import Any

# jsonschema (under nbformat/papermill) imports rfc3987_syntax, when installed, for 'iri' format
# checks; building its grammar costs ~2.8 s per process and notebooks never need it.
_sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__all__ = ["connect", "start_stage"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "connect":
        from duckbook.engine import connect

        return connect
    if name == "start_stage":
        from duckbook.build.context import start_stage

        return start_stage
    raise AttributeError(f"module 'duckbook' has no attribute {name!r}")
