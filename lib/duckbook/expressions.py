"""Small, safe expressions over table columns, written as Python: ``order_total >= 20``,
``is_food_item``, ``customer_order_number == 1 and location_name in ('Brooklyn', 'Chicago')``.

Used for measure filters and metric formulas in YAML and for ``--where`` on the command line.
The text is parsed with :mod:`ast` and translated node by node into an Ibis expression: names
are columns (or, in formulas, other metrics), and only literals, arithmetic, comparisons,
``and``/``or``/``not``, ``in``/``not in`` a tuple of literals, ``is None``/``is not None`` and the
functions ``coalesce``, ``abs`` and ``round`` are allowed. Nothing is ``eval``-ed.

>>> import ibis
>>> t = ibis.memtable({"a": [1, 5, None], "b": ["x", "y", "z"]})
>>> t.filter(to_ibis("a >= 2 or b in ('z',)", t)).b.to_pyarrow().to_pylist()
['y', 'z']
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from duckbook.errors import UserError


class ExpressionError(UserError, ValueError):
    """An expression uses a name, operator or construct that is not allowed."""


_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def names(text: str) -> set[str]:
    """The names an expression refers to."""
    return {n.id for n in ast.walk(_parse(text)) if isinstance(n, ast.Name) and n.id not in _FUNCS}


def to_ibis(text: str, table: ir.Table | Mapping[str, ir.Value]) -> ir.Value:
    """Translate ``text`` into an Ibis expression over ``table`` (a table or a name -> value map)."""
    lookup: Callable[[str], ir.Value]
    if isinstance(table, ir.Table):
        columns = set(table.columns)

        def lookup(name: str) -> ir.Value:
            if name not in columns:
                raise ExpressionError(f"unknown name {name!r} in {text!r}; available: {', '.join(sorted(columns))}")
            return table[name]
    else:

        def lookup(name: str) -> ir.Value:
            if name not in table:
                raise ExpressionError(f"unknown name {name!r} in {text!r}; available: {', '.join(sorted(table))}")
            return table[name]

    try:
        return _translate(_parse(text), lookup, text)
    except ExpressionError:
        raise
    except Exception as exc:  # type errors surface here: `not <number>`, `-<string>`, bad arity
        raise ExpressionError(f"cannot apply {text!r}: {exc}") from None


def _parse(text: str) -> ast.expr:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {text!r}: {exc.msg}") from None


_FUNCS: dict[str, Callable[..., Any]] = {
    "coalesce": lambda *args: ibis.coalesce(*args),
    "abs": lambda x: x.abs(),
    "round": lambda x, digits=0: x.round(digits),
}


def _translate(node: ast.expr, lookup: Callable[[str], ir.Value], text: str) -> Any:
    # values are Ibis expressions or Python literals: their operators are Ibis's
    def go(n: ast.expr) -> Any:
        return _translate(n, lookup, text)

    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool | int | float | str)):
        return node.value
    if isinstance(node, ast.Name):
        return lookup(node.id)
    if isinstance(node, ast.BoolOp):
        values = [go(v) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ~go(node.operand)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -go(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return _BIN[type(node.op)](go(node.left), go(node.right))
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op, right = node.ops[0], node.comparators[0]
        left = go(node.left)
        if isinstance(op, ast.In | ast.NotIn):
            literal = lambda e: (
                isinstance(e, ast.Constant)
                or (isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant))
            )
            if not isinstance(right, ast.Tuple | ast.List) or not all(literal(e) for e in right.elts):
                raise ExpressionError(f"'in' needs a tuple of literals in {text!r}")
            values = [go(e) for e in right.elts]
            result = left.isin(values)
            return ~result if isinstance(op, ast.NotIn) else result
        if isinstance(op, ast.Is | ast.IsNot) and isinstance(right, ast.Constant) and right.value is None:
            return left.isnull() if isinstance(op, ast.Is) else left.notnull()
        if type(op) in _CMP:
            value = go(right)
            if isinstance(value, str) and isinstance(left, ir.Value) and left.type().is_temporal():
                value = ibis.literal(value).cast(left.type())
            return _CMP[type(op)](left, value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        return _FUNCS[node.func.id](*[go(a) for a in node.args])
    raise ExpressionError(f"not allowed in an expression: {ast.unparse(node)!r} (in {text!r})")
