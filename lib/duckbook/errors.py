"""The errors duckbook raises on purpose, each with a message a person can act on.

The CLI turns a :class:`DuckbookError` into one line on stderr and its ``exit_code`` (never a
traceback): :class:`UserError` (a bad argument, parameter, name or project file: fix the
input and retry) exits 2; anything else that duckbook detects (a failed check, a locked or
missing warehouse, an unreadable source) exits 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


#: the one hint every "the warehouse has no data yet / this table does not exist yet" message ends with
RUN_FIRST = "run `duckbook run` (or `make run`) first"


def unknown_name(argument: str, kind: str, value: str, choices: Iterable[str], *, aliases: Iterable[str] = ()) -> str:
    """The message for a name that is not one of ``choices``: the argument, the bad value, the
    closest choices (``difflib``; ``aliases`` are other names the choices answer to, suggested but
    not listed) and every valid choice, so a typo is fixed without looking it up.

    >>> unknown_name("--by", "dimension", "locaton_name", ["location_name", "ordered_at"])
    "--by: unknown dimension 'locaton_name'; did you mean location_name? choose from: location_name, ordered_at"
    >>> unknown_name("--stage", "stage", "overveiw", ["10_ingest", "50_report_overview"], aliases=["overview"])
    "--stage: unknown stage 'overveiw'; did you mean overview? choose from: 10_ingest, 50_report_overview"
    >>> unknown_name("METRIC", "metric", "zzz", ["revenue"])
    "METRIC: unknown metric 'zzz'; choose from: revenue"
    """
    valid = list(dict.fromkeys(choices))  # in the order given: grains day..year, names sorted by the caller
    close = difflib.get_close_matches(value, list(dict.fromkeys([*valid, *aliases])), n=3, cutoff=0.75)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{argument}: unknown {kind} {value!r}; {hint}choose from: {', '.join(valid) or '(none)'}"
