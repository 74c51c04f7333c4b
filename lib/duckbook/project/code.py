"""A model's code fingerprint: the source of its function and of every function, constant and
module attribute of the same package that the function uses, followed recursively.

A change to one mart function changes the fingerprint of that mart (and of nothing else), so
:mod:`duckbook.build.materialize` rebuilds it in full and its downstream models follow through the
change feed; its siblings and upstream models stay as they are.

>>> def double(x):
...     return 2 * x
>>> def uses(x):
...     return double(x) + 1
>>> a = function_digest(uses)
>>> a == function_digest(uses)
True
>>> def uses(x):
...     return double(x) + 2
>>> a == function_digest(uses)
False
"""

from __future__ import annotations

import hashlib
import inspect
import types
from collections.abc import Callable
from typing import Any

_SIMPLE = (str, int, float, bool, bytes, type(None), tuple, frozenset)


def function_digest(function: Callable[..., Any]) -> str:
    """sha256 of ``function``'s code and of the code it uses from its own package (see module
    docstring). Functions whose source cannot be read (built-ins) count by their qualified name."""
    parts: list[str] = []
    _collect(function, _package(function), parts, set())
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _package(obj: object) -> str:
    return (getattr(obj, "__module__", "") or "").partition(".")[0]


def _collect(function: Callable[..., Any], package: str, parts: list[str], seen: set[int]) -> None:
    if id(function) in seen:
        return
    seen.add(id(function))
    function = inspect.unwrap(function)
    try:
        parts.append(inspect.getsource(function))
    except (OSError, TypeError):
        parts.append(f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))}")
        return
    code = getattr(function, "__code__", None)
    if code is None:
        return
    scope = getattr(function, "__globals__", {})
    names = _names(code)
    for name in sorted(names):
        value = scope.get(name)
        if isinstance(value, types.ModuleType) and value.__name__.partition(".")[0] == package:
            for attr in sorted(names & set(vars(value))):  # `staging.latest(...)`: the attributes it names
                _use(getattr(value, attr), f"{name}.{attr}", package, parts, seen)
        elif name in scope:
            _use(value, name, package, parts, seen)
    for cell in getattr(function, "__closure__", None) or ():
        _use(_cell(cell), "<closure>", package, parts, seen)


def _use(value: object, name: str, package: str, parts: list[str], seen: set[int]) -> None:
    """Add what ``value`` (a name a function uses) contributes to the fingerprint."""
    if isinstance(value, types.FunctionType) and _package(value) == package:
        _collect(value, package, parts, seen)
    elif isinstance(value, _SIMPLE):
        parts.append(f"{name}={value!r}")


def _cell(cell: types.CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _names(code: types.CodeType) -> set[str]:
    """Global names used by ``code`` and the code objects nested in it (lambdas, comprehensions)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names
