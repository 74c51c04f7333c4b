"""The catalogue of check types, and checks from parsed YAML declarations.

A check type is one function registered with :func:`check_type`. Its parameters are the arguments
a declaration may give, validated against the signature and type hints (an unknown or missing
argument, or a value of the wrong kind, is an error listing what the type takes); its docstring
documents it; :func:`check_types` collects the catalogue. Some parameters are filled in from where
the check is declared, never from YAML (:data:`CONTEXT`): ``table``, ``column`` (the ``columns:``
entry it sits under, or ``column:``), ``qualified_name`` (``schema.table``), ``now`` (the run's
time) and ``history``. The keys of :data:`COMMON_KEYS` apply to every check: a type that does not
take one as a parameter gets it applied to the check it returns (``name: n`` names it ``n__<table>``).

>>> import datetime as dt
>>> now = dt.datetime(2024, 1, 31)
>>> spec = {"columns": {"id": {"checks": ["not_null", {"type": "unique", "severity": "warn"}]}}}
>>> [(c.name, c.severity) for c in checks_from_spec("s.t", spec, now=now, origin="m.yml")]
[('not_null__t__id', 'error'), ('unique__t__id', 'warn')]
>>> bad = {"checks": [{"type": "row_count", "minimum": 1}]}
>>> checks_from_spec("s.t", bad, now=now, origin="m.yml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
duckbook.quality.types.CheckDeclarationError: m.yml: s.t: ... for row_count; row_count takes min=None, max=None ...
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime as dt
import importlib
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

from duckbook.quality.types import Check, CheckDeclarationError

#: Name under which an audit sees the published row-count history (``ops.publish_log``, for volume).
HISTORY = "publish_log"
#: Parameters filled in from where a check is declared; a declaration cannot set them.
CONTEXT = ("table", "column", "qualified_name", "now", "history")
#: Keys every declared check may carry, whatever its type.
COMMON_KEYS = ("column", "description", "error_if", "name", "severity", "warn_if")
_COMMON_KINDS: dict[str, object] = {
    "description": str,
    "name": str,
    "severity": Literal["error", "warn"],
}  # error_if / warn_if: checked as thresholds by the check itself

F = TypeVar("F", bound=Callable[..., Check])


@dataclasses.dataclass(frozen=True)
class CheckType:
    """A registered check type: its name, its function and the arguments a declaration may give."""

    name: str
    function: Callable[..., Check]
    arguments: tuple[inspect.Parameter, ...]  # the function's parameters minus CONTEXT
    doc: str
    hints: Mapping[str, object] = dataclasses.field(repr=False, compare=False)  # what each argument's value must be

    @property
    def needs_column(self) -> bool:
        """Whether a declaration must say its column (under ``columns:`` or with ``column:``)."""
        column = inspect.signature(self.function).parameters.get("column")
        return column is not None and column.default is inspect.Parameter.empty

    def usage(self) -> str:
        """The arguments this type takes, for error messages: required ones bare, others ``=default``."""
        shown = []
        for p in self.arguments:
            if p.name in ("severity", "error_if", "warn_if"):
                continue
            if p.kind is p.VAR_POSITIONAL:
                shown.append(f"{p.name}=[column]")
            else:
                shown.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
        takes = ", ".join(shown) or "no arguments"
        return f"{self.name} takes {takes} (and every check: {', '.join(COMMON_KEYS)})"

    def build(
        self,
        arguments: Mapping[str, object],
        *,
        table: str,
        column: str | None,
        qualified_name: str,
        now: dt.datetime,
    ) -> Check:
        """The check declared by ``arguments`` (a YAML mapping without ``type``) on ``table``.

        Raises :class:`CheckDeclarationError` for an unknown or missing argument or a value of the
        wrong kind, and whatever the type's function raises for values it rejects.
        """
        args = dict(arguments)
        if "column" in args:
            given = args.pop("column")
            if not isinstance(given, str):
                raise CheckDeclarationError(f"argument 'column' of {self.name} must be text, not {given!r}")
            column = given
        own = {p.name: p for p in self.arguments}
        after: dict[str, typing.Any] = {k: args.pop(k) for k in COMMON_KEYS if k in args and k not in own}
        if unknown := sorted(set(args) - own.keys(), key=str):
            raise CheckDeclarationError(f"unknown argument(s) {unknown} for {self.name}; {self.usage()}")
        required = [p.name for p in self.arguments if p.default is p.empty and p.kind is not p.VAR_POSITIONAL]
        if missing := [name for name in required if name not in args]:
            raise CheckDeclarationError(f"missing argument(s) {missing} for {self.name}; {self.usage()}")
        for name, value in [*args.items(), *after.items()]:
            kind = self.hints.get(name, object) if name in own else _COMMON_KINDS.get(name, object)
            if not _accepts(value, kind):
                raise CheckDeclarationError(
                    f"argument {name!r} of {self.name} must be {_kind_text(kind)}, not {value!r}"
                )
        if self.needs_column and column is None:
            raise CheckDeclarationError(f"{self.name} needs a column (declare it under columns:, or give column:)")
        context = {"table": table, "column": column, "qualified_name": qualified_name, "now": now, "history": HISTORY}
        params = list(inspect.signature(self.function).parameters.values())
        values = {**args, **{p.name: context[p.name] for p in params if p.name in CONTEXT}}
        positional: list[object] = []
        if var := next((p for p in params if p.kind is p.VAR_POSITIONAL), None):
            listed = values.pop(var.name, None) or ([column] if column is not None else [])
            if not isinstance(listed, list | tuple) or not listed:
                raise CheckDeclarationError(f"{self.name} needs a column (declare it under columns:, or give column:)")
            positional = [*(values.pop(p.name) for p in params[: params.index(var)]), *listed]
        check = self.function(*positional, **values)
        if "name" in after:
            after["name"] = f"{after['name']}__{table}"
        return dataclasses.replace(check, **after) if after else check


_TYPES: dict[str, CheckType] = {}
_BUILT_IN = ("duckbook.quality.row_checks", "duckbook.quality.aggregate_checks")


def check_type(name: str) -> Callable[[F], F]:
    """Register the decorated function as the check type ``name``.

    The function takes the table first, returns a :class:`~duckbook.quality.types.Check`, and
    declares each argument with a type hint (what a declaration's value is validated against);
    parameters named in :data:`CONTEXT` are filled in by the loader. A ``*columns`` parameter takes
    a YAML list, defaulting to the declaration's column. A required ``column`` parameter makes the
    type need a column. Raises ``ValueError`` when ``name`` is taken or the signature cannot be
    declared in YAML.
    """

    def register(function: F) -> F:
        if name in _TYPES:
            raise ValueError(f"check type {name!r} is already registered (by {_TYPES[name].function.__module__})")
        params = list(inspect.signature(function).parameters.values())
        if not params or params[0].name != "table":
            raise ValueError(f"check type {name}: the first parameter must be table")
        if any(p.kind is p.VAR_KEYWORD for p in params):
            raise ValueError(f"check type {name}: **kwargs cannot be validated; name each argument")
        var = next((i for i, p in enumerate(params) if p.kind is p.VAR_POSITIONAL), len(params))
        if any(p.name not in CONTEXT for p in params[:var]) and var < len(params):
            raise ValueError(f"check type {name}: only context parameters ({', '.join(CONTEXT)}) may precede *args")
        hints: dict[str, object] = typing.get_type_hints(function)
        for p in params:  # a *columns parameter takes a YAML list of such values
            if p.kind is p.VAR_POSITIONAL:
                hints[p.name] = types.GenericAlias(list, (hints.get(p.name, object),))
        _TYPES[name] = CheckType(
            name=name,
            function=function,
            arguments=tuple(p for p in params if p.name not in CONTEXT),
            doc=inspect.getdoc(function) or "",
            hints=hints,
        )
        return function

    return register


def check_types() -> dict[str, CheckType]:
    """Every registered check type by name, sorted (the built-in ones and any registered since)."""
    # the built-in types register themselves with check_type on import, so they cannot be imported above
    for module in _BUILT_IN:
        importlib.import_module(module)
    return dict(sorted(_TYPES.items()))


def checks_from_spec(qualified: str, spec: Mapping[str, object], *, now: dt.datetime, origin: str) -> list[Check]:
    """The checks of one ``models:`` entry, ``qualified`` ``schema.table``: its table-level
    ``checks:`` then each column's (``columns: {col: {checks: [...]}}``), in declaration order.

    A check is a type name (``not_null``) or a mapping with ``type``, its arguments and the common
    keys (``severity``: error | warn, ``error_if`` / ``warn_if`` thresholds such as ``"> 10"`` or
    ``"> 1%"``, ``description``, ``name``, ``column``). ``now`` (the run's time) is what
    ``freshness`` and ``not_after: run`` compare with. Raises :class:`CheckDeclarationError`
    naming ``origin`` (the file), the table, the column and the check.
    """
    if "." not in qualified:
        raise CheckDeclarationError(f"{origin}: model {qualified!r} must be named schema.table")
    where = f"{origin}: {qualified}"
    items: list[tuple[str | None, object]] = [(None, item) for item in _list_of(spec, "checks", where)]
    for column, column_spec in _mapping(spec.get("columns") or {}, f"{where}: columns").items():
        items += [(str(column), item) for item in _list_of(column_spec or {}, "checks", f"{where}.{column}")]
    checks = [_declared(item, qualified=qualified, column=column, now=now, origin=origin) for column, item in items]
    names = [c.name for c in checks]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise CheckDeclarationError(
            f"{origin}: {qualified}: two checks are named {', '.join(dupes)}: give one a `name:`"
        )
    return checks


def source_checks(name: str, spec: Mapping[str, object], *, now: dt.datetime, origin: str) -> list[Check]:
    """The checks of one ``sources:`` entry (table ``raw.<name>``): not_null on each column of its
    ``primary_key`` and unique on the key as a whole, then its declared checks (as in
    :func:`checks_from_spec`)."""
    key = spec.get("primary_key") or []
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise CheckDeclarationError(f"{origin}: raw.{name}: primary_key must be a list of column names, not {key!r}")
    keys: list[object] = [{"type": "not_null", "column": k} for k in key]
    keys += [{"type": "unique", "columns": key}] if key else []
    qualified = f"raw.{name}"
    pk = [_declared(item, qualified=qualified, column=None, now=now, origin=origin) for item in keys]
    return [*pk, *checks_from_spec(qualified, spec, now=now, origin=origin)]


def _list_of(spec: object, key: str, where: str) -> list[object]:
    value = _mapping(spec, where).get(key) or []
    if not isinstance(value, list):
        raise CheckDeclarationError(f"{where}: {key} must be a list, not {value!r}")
    return value


def _mapping(spec: object, where: str) -> Mapping[object, object]:
    if not isinstance(spec, Mapping):
        raise CheckDeclarationError(f"{where}: expected a mapping, not {spec!r}")
    return spec


def _declared(item: object, *, qualified: str, column: str | None, now: dt.datetime, origin: str) -> Check:
    try:
        if isinstance(item, str):
            kind, arguments = item, {}
        elif isinstance(item, Mapping) and "type" in item:
            kind, arguments = item["type"], {k: v for k, v in item.items() if k != "type"}
        else:
            raise CheckDeclarationError("missing 'type': a check is a type name or a mapping with type: and arguments")
        known = check_types()
        if kind not in known:
            raise CheckDeclarationError(f"unknown check type {kind!r}; use one of {', '.join(known)}")
        table = qualified.split(".", 1)[1]
        return known[kind].build(arguments, table=table, column=column, qualified_name=qualified, now=now)
    except (ValueError, re.error) as exc:  # CheckDeclarationError, and what a type's function rejects
        where = f"{qualified}.{column}" if column else qualified
        raise CheckDeclarationError(f"{origin}: {where}: bad check {item!r}: {exc}") from None


def _accepts(value: object, kind: object) -> bool:
    """Whether a YAML value fits the type hint ``kind`` (an int is a float; callables never fit)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is object or kind is typing.Any:
        return True
    if origin is typing.Union or origin is types.UnionType:
        return any(_accepts(value, a) for a in args)
    if origin is Literal:
        return value in args
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int or kind is float:  # YAML's 3 is a fine float; true is not a number
        return isinstance(value, int if kind is int else int | float) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence):
        return isinstance(value, list | tuple) and all(_accepts(v, args[0] if args else object) for v in value)
    return False


_PYTHON_ONLY = "a Python value (not declarable in YAML)"


def _kind_text(kind: object) -> str:
    """A type hint in words, for error messages: ``float | None`` -> "a number or null"."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Literal:
        return " or ".join(map(repr, args))
    if origin is typing.Union or origin is types.UnionType:  # Python-only members (a function) are not for YAML
        return " or ".join(text for text in map(_kind_text, args) if text != _PYTHON_ONLY)
    if origin in (list, tuple, collections.abc.Sequence):
        return f"a list ({_kind_text(args[0]) if args else 'any value'} each)"
    names: dict[object, str] = {str: "text", int: "an integer", float: "a number", bool: "true or false"}
    return {**names, type(None): "null", object: "any value"}.get(kind, _PYTHON_ONLY)
