"""A calculator that parses arithmetic with ``ast`` and evaluates only numbers and operators (no eval).

Every operation whose cost grows with a number's size is bounded before it runs: exponents and factors
(``9**9**9``), ``round``'s ``ndigits`` (``round(1, -10**9)`` builds a billion-digit power of ten), and
every intermediate value (at most 1e300 in magnitude). The tool worker's deadline (``worker.py``)
bounds anything these miss.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from bench.suite.tools.workspace import ToolFailure

__all__ = ["calculate"]

_BIN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max, "log": math.log,
    "exp": math.exp, "floor": math.floor, "ceil": math.ceil,
}  # fmt: skip
_MAX_ABS = 1e300
_MAX_NODES = 200
_MAX_NDIGITS = 400  # round(x, n): |n| beyond 400 changes nothing for a value of at most 1e300


def _call(name: str, args: list[Any]) -> Any:
    if name == "round" and len(args) == 2:
        ndigits = args[1]
        if not isinstance(ndigits, int):
            raise ToolFailure("round: ndigits must be a whole number")
        if abs(ndigits) > _MAX_NDIGITS:
            raise ToolFailure(f"round: ndigits out of range (at most {_MAX_NDIGITS} either way)")
    return _FUNCS[name](*args)


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        if abs(node.value) > _MAX_ABS:
            raise ToolFailure("number out of range")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or (abs(left) > 1e6 and abs(right) > 10)):
            raise ToolFailure("exponent too large")
        value = _BIN[type(node.op)](left, right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        value = _UNARY[type(node.op)](_eval(node.operand))
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        value = _call(node.func.id, [_eval(a) for a in node.args])
    else:
        raise ToolFailure(f"not allowed in an expression: {type(node).__name__}")
    if isinstance(value, complex) or abs(value) > _MAX_ABS:
        raise ToolFailure("result out of range")
    return value


def calculate(expression: str) -> str:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise ToolFailure(f"cannot parse the expression: {exc}") from None
    if sum(1 for _ in ast.walk(tree)) > _MAX_NODES:
        raise ToolFailure("expression too long")
    try:
        value = _eval(tree)
    except ZeroDivisionError:
        raise ToolFailure("division by zero") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ToolFailure(f"math error: {exc}") from None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
