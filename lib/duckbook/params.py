"""Parameter validation: names are identifiers, values are typed, dates parse.

papermill escapes string values but not parameter names, and passes non-JSON values through
unescaped, so everything that reaches a notebook is checked here first. Every error names the
parameter.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import keyword
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from duckbook.errors import UserError, unknown_name

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ParameterError(UserError, ValueError):
    """A parameter is unknown, malformed or of the wrong type."""


def validate_identifier(param: str, value: str, *, extra: str = "") -> str:
    """Return ``value`` if it is an identifier (letters, digits, ``_`` plus the characters in
    ``extra``, not starting with a digit), else raise :class:`ParameterError` naming ``param``.

    >>> validate_identifier("schema", "marts")
    'marts'
    >>> validate_identifier("schema", "x; drop table y")
    Traceback (most recent call last):
    ...
    duckbook.params.ParameterError: schema: 'x; drop table y' is not a valid identifier (letters, digits and _ only)
    """
    if not isinstance(value, str):
        raise ParameterError(f"{param}: {value!r} is not a valid identifier (it is not a string)")
    probe = value
    for ch in extra:
        probe = probe.replace(ch, "_")
    if not isinstance(value, str) or not _IDENT.match(probe) or keyword.iskeyword(value):
        allowed = "letters, digits and _" + "".join(f" and {c}" for c in extra)
        raise ParameterError(f"{param}: {value!r} is not a valid identifier ({allowed} only)")
    return value


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def validate_token(param: str, value: str) -> str:
    """Return ``value`` if it is a safe token for ids and file names (letters, digits, ``_ . -``,
    at most 128 characters, not starting with punctuation), else raise naming ``param``.

    >>> validate_token("run_id", "20240101T000000Z-ab12cd")
    '20240101T000000Z-ab12cd'
    """
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ParameterError(
            f"{param}: {value!r} must be letters, digits, '_', '.' or '-' (at most 128, starting with a letter or digit)"
        )
    return value


#: the relative dates every date option and ``*_date`` parameter accepts, as days before today
RELATIVE_DATES = {"today": 0, "yesterday": 1}


def parse_date(param: str, value: str) -> dt.date:
    """Parse an ISO date (``YYYY-MM-DD``), ``today`` or ``yesterday`` (the local date) or raise
    :class:`ParameterError` naming ``param`` and the expected format.

    >>> parse_date("--start", "2024-02-29")
    datetime.date(2024, 2, 29)
    >>> parse_date("--run-date", "yesterday") == dt.date.today() - dt.timedelta(days=1)
    True
    >>> parse_date("--run-date", "29.02.2024")
    Traceback (most recent call last):
    ...
    duckbook.params.ParameterError: --run-date: '29.02.2024' is not a date (expected YYYY-MM-DD, today or yesterday)
    """
    if isinstance(value, str) and value.strip().lower() in RELATIVE_DATES:
        return dt.date.today() - dt.timedelta(days=RELATIVE_DATES[value.strip().lower()])
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{param}: {value!r} is not a date (expected YYYY-MM-DD, today or yesterday)") from None


def parse_timestamp(param: str, value: str) -> dt.datetime:
    """Parse an ISO timestamp (``YYYY-MM-DDTHH:MM:SS``, UTC, naive) or raise naming ``param``."""
    try:
        ts = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{param}: {value!r} is not a timestamp (expected YYYY-MM-DDTHH:MM:SS)") from None
    return ts.astimezone(dt.UTC).replace(tzinfo=None) if ts.tzinfo else ts


_UNSUPPORTED = object()


def coerce(name: str, raw: str, type_name: str) -> object:
    """Convert the command-line text ``raw`` to the type declared in the notebook.

    Names ending in ``_date`` must be ISO dates (or ``today`` / ``yesterday``, passed on as the
    ISO date) and names ending in ``_at`` ISO timestamps; they stay strings (papermill passes
    literals) but are checked here.
    """
    type_name = (type_name or "str").strip()
    try:
        if type_name == "int":
            value: object = int(raw)
        elif type_name == "float":
            value = float(raw)
        elif type_name == "bool":
            lowered = raw.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError
            value = lowered in {"true", "1", "yes"}
        elif type_name == "str":
            value = raw
        else:
            value = _UNSUPPORTED
    except ValueError:
        raise ParameterError(f"{name}: {raw!r} is not a valid {type_name}") from None
    if value is _UNSUPPORTED:
        raise ParameterError(
            f"{name}: the notebook declares type {type_name!r}, which cannot be set from the command line"
        )
    if isinstance(value, str) and value:
        if name.endswith("_date"):
            value = parse_date(name, value).isoformat()  # the notebook gets YYYY-MM-DD, also for `yesterday`
        elif name.endswith("_at"):
            parse_timestamp(name, value)
    return value


def validate(given: Mapping[str, str], declared: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """Check ``NAME=VALUE`` pairs from the command line against the parameters the stage
    notebooks declare (``{notebook: {name: type}}``) and return them typed.

    Raises :class:`ParameterError` listing every problem at once.
    """
    types: dict[str, str] = {}
    for params in declared.values():
        for name, type_name in params.items():
            types.setdefault(name, type_name)
    errors, typed = [], {}
    for name, raw in given.items():
        if not _IDENT.match(name) or keyword.iskeyword(name):
            errors.append(f"{name!r} is not a valid parameter name")
        elif name not in types:
            errors.append(unknown_name("-p", "parameter", name, sorted(types)))
        else:
            try:
                typed[name] = coerce(name, raw, types[name])
            except ParameterError as exc:
                errors.append(str(exc))
    if errors:
        raise ParameterError("invalid parameter(s):\n" + "\n".join(f"- {e}" for e in errors))
    return typed


def split_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``["a=1", "b=x"]`` into ``{"a": "1", "b": "x"}``; raise for a pair without ``=``."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ParameterError(f"parameter {pair!r} must be written NAME=VALUE")
        out[name.strip()] = value
    return out


def declared_in_notebook(path: Path) -> dict[str, str]:
    """``{name: type}`` of the notebook's ``parameters`` cell (the cell tagged ``parameters``).

    Each parameter is an annotated literal assignment (``name: int = 3  # help``), as the house
    rules ask; anything else in that cell raises :class:`ParameterError` naming the notebook.
    This reads the cell with ``ast``, without importing papermill (which costs seconds).
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    source = cells[0]["source"]
    source = "".join(source) if isinstance(source, list) else source
    out = {}
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.annotation, ast.Name)
        ):
            raise ParameterError(f"{path}: parameters cell line {node.lineno} is not 'name: type = literal'")
        out[node.target.id] = node.annotation.id
    return out
