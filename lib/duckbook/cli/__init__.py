"""The ``duckbook`` command: a thin layer over the library (each command is a few lines).

Every command runs under :func:`~duckbook.cli.common.error_handler`: a
:class:`duckbook.errors.DuckbookError` becomes one line on stderr and its exit code (2 for a user
error, 1 for a failed run or check), never a traceback. Heavy imports happen inside the commands
so ``duckbook --help`` stays fast. The commands live by what they are about: running the pipeline
(:mod:`~duckbook.cli.pipeline`), the warehouse after its runs (:mod:`~duckbook.cli.warehouse`),
the semantic layer (:mod:`~duckbook.cli.metrics`), the CDC sources (:mod:`~duckbook.cli.cdc`).
"""

from duckbook.cli import cdc, metrics, pipeline, warehouse
from duckbook.cli.common import app, error_handler

__all__ = ["app", "cdc", "error_handler", "metrics", "pipeline", "warehouse"]
