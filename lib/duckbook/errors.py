"""The errors duckbook raises on purpose, each with a message a person can act on.

The CLI turns a :class:`DuckbookError` into one line on stderr and its ``exit_code`` (never a
traceback): :class:`UserError` (a bad argument, parameter, name or project file: fix the
input and retry) exits 2; anything else that duckbook detects (a failed check, a locked or
missing warehouse, an unreadable source) exits 1.
"""

from __future__ import annotations


class DuckbookError(Exception):
    """Base class of every error duckbook raises deliberately."""

    exit_code = 1


class UserError(DuckbookError):
    """The user asked for something that cannot be: an unknown name, a malformed value."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A setting in ``[tool.duckbook]`` or a ``DUCKBOOK_*`` variable is unknown or malformed."""


class ProjectError(UserError, ValueError):
    """A project file (sources, models, checks, semantic layer) is missing or malformed."""


class WarehouseNotFound(UserError, FileNotFoundError):
    """The warehouse does not exist yet: the message says to run the pipeline first."""


class ContractError(DuckbookError, ValueError):
    """A source file cannot be read under its contract (missing file, missing column), or a
    delivery cannot be ingested (re-exported by :mod:`duckbook.ingest.contracts`)."""
