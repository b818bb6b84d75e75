"""Rule conditions: a small, safe expression language over a device's point values.

``Expression.parse("bearing_temp > 80 and running")`` reads the text with Python's ``ast``
module and accepts only a whitelist: numbers, booleans, strings, point names, comparisons
(chained too, and ``in``/``not in`` a literal list), ``and``/``or``/``not``, arithmetic
``+ - * / // % **`` (the exponent a number literal of at most ``MAX_EXPONENT``), unary ``-``/``+``,
parentheses and the functions ``abs``, ``min``, ``max``, ``round``. Anything else is refused
when the rule is created, with ``InvalidExpression`` naming the construct and its column.

The accepted tree is turned once into nested closures; evaluating walks those closures and
never reaches ``eval`` or a code object. Arithmetic takes numbers only (so no string
repetition or ``%`` formatting), and a missing point or a type error makes the expression
``NotEvaluable`` rather than raising anything else.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from indunet.core import InvalidInput
from indunet.telemetry.samples import Value

MAX_LENGTH = 500
"""Longest expression text accepted, in characters."""
MAX_NODES = 200
"""Most syntax nodes in one expression."""
MAX_DEPTH = 32
"""Deepest nesting of operators and parentheses."""
MAX_EXPONENT = 64
"""Largest exponent accepted by ``**`` (it must be a number literal)."""
MAX_ROUND_DIGITS = 15
"""Largest ``ndigits`` accepted by ``round``, either sign."""

Env = Mapping[str, Value]
Fn = Callable[[Env], Any]

_BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", math.pow),  # floats: overflow raises instead of growing a huge integer
}
_REFUSED_OPERATORS = {
    ast.BitAnd: "'&' (use 'and')",
    ast.BitOr: "'|' (use 'or')",
    ast.BitXor: "'^' (use '**' for powers)",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.MatMult: "'@'",
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1),
    "min": (2, 16),
    "max": (2, 16),
    "round": (1, 2),
}
_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression",
    ast.JoinedStr: "f-string",
    ast.Dict: "dict literal",
    ast.Set: "set literal",
    ast.Starred: "star expression",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.Slice: "slice",
}


class InvalidExpression(InvalidInput):
    """A rule expression uses something outside the safe subset, or is not valid syntax."""

    code = "invalid_expression"

    def __init__(
        self,
        message: str,
        *,
        column: int,
        reason: str = "expr_invalid",
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            f"{message} (column {column})",
            detail={"column": column},
            reason=reason,
            params={**(params or {}), "column": column},
        )
        self.column = column


class NotEvaluable(Exception):
    """The expression cannot be evaluated on these values (a point is missing, a type is wrong)."""


class Expression:
    """A parsed, checked expression; call ``evaluate`` or ``test`` with point values."""

    __slots__ = ("_fn", "names", "text")

    def __init__(self, text: str, fn: Fn, names: frozenset[str]) -> None:
        self.text = text
        self._fn = fn
        self.names = names
        """The point names the expression reads."""

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse and check ``text``; raise ``InvalidExpression`` for anything not allowed."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidExpression("an expression is needed", column=1, reason="expr_empty")
        if len(text) > MAX_LENGTH:
            raise InvalidExpression(
                f"the expression has {len(text)} characters; at most {MAX_LENGTH} are allowed",
                column=MAX_LENGTH + 1,
                reason="expr_too_long",
                params={"length": len(text), "max": MAX_LENGTH},
            )
        source = " ".join(text.splitlines())  # one line: columns stay meaningful
        offset = len(source) - len(source.lstrip())
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            column = (exc.offset or 1) + offset
            raise InvalidExpression(
                f"not a valid expression: {exc.msg}",
                column=column,
                reason="expr_syntax",
                params={"detail": exc.msg, "column": column},
            ) from None
        builder = _Builder(source.strip(), offset)
        fn = builder.build(tree.body, 0)
        return cls(text, fn, frozenset(builder.names))

    def evaluate(self, values: Env) -> Any:
        """The value of the expression; ``NotEvaluable`` when a point is missing or types clash."""
        try:
            return self._fn(values)
        except KeyError as exc:
            raise NotEvaluable(f"no value for point {exc.args[0]!r}") from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise NotEvaluable(f"{type(exc).__name__}: {exc}") from None

    def test(self, values: Env) -> bool:
        """The expression's truth on these values."""
        return bool(self.evaluate(values))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _number(v: Any) -> Any:
    if isinstance(v, int | float):
        return v
    raise TypeError(f"arithmetic needs numbers, not {type(v).__name__} {v!r}")


def _round(x: Any, digits: Any = None) -> Any:
    x = _number(x)
    if digits is None:
        return round(x)
    if not isinstance(digits, int) or abs(digits) > MAX_ROUND_DIGITS:
        raise ValueError(f"round() takes at most {MAX_ROUND_DIGITS} digits")
    return round(x, digits)


def _abs(x: Any) -> Any:
    return abs(_number(x))


#: What the console's help panel lists: operators and functions, as written in a rule.
OPERATORS = (
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "and",
    "or",
    "not",
)
FUNCTIONS = dict(_FUNCTIONS)

_CALLS: dict[str, Callable[..., Any]] = {"abs": _abs, "min": min, "max": max, "round": _round}


class _Builder:
    """Walks an ``ast`` tree once, refusing what is not allowed and building closures."""

    def __init__(self, source: str, offset: int) -> None:
        self.source = source
        self.offset = offset
        self.names: set[str] = set()
        self.count = 0
        self.reads = 0  # point names met so far: a part that adds none is constant

    def fail(self, node: ast.AST, what: str, reason: str, **params: Any) -> InvalidExpression:
        line = self.source.encode()[: getattr(node, "col_offset", 0)]
        column = len(line.decode(errors="ignore")) + self.offset + 1
        return InvalidExpression(what, column=column, reason=reason, params=params)

    def build(self, node: ast.expr, depth: int) -> Fn:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"the expression is too large (more than {MAX_NODES} parts)",
                "expr_too_large",
                max=MAX_NODES,
            )
        if depth > MAX_DEPTH:
            raise self.fail(
                node,
                f"the expression nests deeper than {MAX_DEPTH} levels",
                "expr_too_deep",
                max=MAX_DEPTH,
            )
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            kind = _NAMES.get(type(node), type(node).__name__)
            raise self.fail(
                node,
                f"{kind} is not allowed in a rule expression",
                "expr_not_allowed",
                construct=kind,
            )
        reads = self.reads
        fn: Fn = method(node, depth + 1)
        if self.reads == reads and not isinstance(node, ast.Constant):
            return self._fold(node, fn)
        return fn

    def _fold(self, node: ast.expr, fn: Fn) -> Fn:
        """Compute a part that reads no point once, now (``1.2 * 40`` becomes ``48.0``)."""
        try:
            value = fn({})
        except (TypeError, ValueError, ArithmeticError) as exc:
            part = ast.unparse(node)
            raise self.fail(
                node, f"{part} cannot be computed: {exc}", "expr_not_computable", part=part
            ) from None
        return lambda _env: value

    def _Constant(self, node: ast.Constant, _depth: int) -> Fn:
        value = node.value
        if not isinstance(value, bool | int | float | str):
            raise self.fail(
                node, f"the constant {value!r} is not allowed", "expr_constant", value=repr(value)
            )
        return lambda _env: value

    def _Name(self, node: ast.Name, _depth: int) -> Fn:
        name = node.id
        if name.startswith("_"):
            raise self.fail(
                node,
                f"the name {name!r} is not allowed (names starting with '_')",
                "expr_private_name",
                name=name,
            )
        if name in _FUNCTIONS:
            raise self.fail(
                node, f"the function {name!r} must be called", "expr_uncalled", name=name
            )
        self.names.add(name)
        self.reads += 1
        return lambda env: env[name]

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> Fn:
        parts = tuple(self.build(v, depth) for v in node.values)
        if isinstance(node.op, ast.And):

            def all_of(env: Env) -> Any:
                result: Any = True
                for part in parts:
                    result = part(env)
                    if not result:
                        return result
                return result

            return all_of

        def any_of(env: Env) -> Any:
            result: Any = False
            for part in parts:
                result = part(env)
                if result:
                    return result
            return result

        return any_of

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Fn:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.Not):
            return lambda env: not operand(env)
        if isinstance(node.op, ast.USub):
            return lambda env: -_number(operand(env))
        if isinstance(node.op, ast.UAdd):
            return lambda env: _number(operand(env))
        raise self.fail(node, "the operator '~' is not allowed", "expr_operator", operator="'~'")

    def _BinOp(self, node: ast.BinOp, depth: int) -> Fn:
        entry = _BINARY.get(type(node.op))
        if entry is None:
            shown = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.fail(
                node, f"the operator {shown} is not allowed", "expr_operator", operator=shown
            )
        symbol, op = entry
        for side in (node.left, node.right):
            if isinstance(side, ast.Constant) and isinstance(side.value, str):
                raise self.fail(
                    side,
                    f"'{symbol}' works on numbers, not on text {side.value!r}",
                    "expr_text_arithmetic",
                    operator=symbol,
                    text=side.value[:50],
                )
        if symbol == "**":
            self._check_exponent(node.right)
        left, right = self.build(node.left, depth), self.build(node.right, depth)

        def binary(env: Env) -> Any:
            return op(_number(left(env)), _number(right(env)))

        return binary

    def _check_exponent(self, node: ast.expr) -> None:
        literal = node.operand if isinstance(node, ast.UnaryOp) else node
        if (
            not isinstance(literal, ast.Constant)
            or isinstance(literal.value, bool)
            or not isinstance(literal.value, int | float)
            or (isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.USub | ast.UAdd))
        ):
            raise self.fail(
                node, "the exponent of '**' must be a number literal", "expr_exponent_literal"
            )
        if not math.isfinite(literal.value) or abs(literal.value) > MAX_EXPONENT:
            raise self.fail(
                node,
                f"the exponent of '**' must be at most {MAX_EXPONENT}",
                "expr_exponent_max",
                max=MAX_EXPONENT,
            )

    def _Compare(self, node: ast.Compare, depth: int) -> Fn:
        first = self.build(node.left, depth)
        steps: list[tuple[Callable[[Any, Any], bool], Fn]] = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            compare = _COMPARE.get(type(op))
            if compare is None:
                word = "is" if isinstance(op, ast.Is | ast.IsNot) else type(op).__name__
                raise self.fail(
                    node, f"the comparison {word!r} is not allowed", "expr_comparison", word=word
                )
            if isinstance(op, ast.In | ast.NotIn):
                steps.append((compare, self._collection(right, depth)))
            else:
                steps.append((compare, self.build(right, depth)))
        if len(steps) == 1:
            [(compare, right_fn)] = steps
            return lambda env: compare(first(env), right_fn(env))

        def chain(env: Env) -> bool:
            left = first(env)
            for cmp, fn in steps:
                right = fn(env)
                if not cmp(left, right):
                    return False
                left = right
            return True

        return chain

    def _collection(self, node: ast.expr, depth: int) -> Fn:
        if not isinstance(node, ast.Tuple | ast.List):
            raise self.fail(
                node, "'in' needs a literal list, such as x in (1, 2, 3)", "expr_in_list"
            )
        items = tuple(self.build(e, depth) for e in node.elts)
        return lambda env: tuple(item(env) for item in items)

    def _Tuple(self, node: ast.Tuple, _depth: int) -> Fn:
        raise self.fail(node, "a tuple is allowed only after 'in'", "expr_in_list")

    def _List(self, node: ast.List, _depth: int) -> Fn:
        raise self.fail(node, "a list is allowed only after 'in'", "expr_in_list")

    def _Call(self, node: ast.Call, depth: int) -> Fn:
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in _FUNCTIONS:
            shown = func.id if isinstance(func, ast.Name) else ast.unparse(func)
            allowed = ", ".join(sorted(_FUNCTIONS))
            raise self.fail(
                node,
                f"calling {shown!r} is not allowed; only {allowed}",
                "expr_call",
                name=shown[:50],
                allowed=allowed,
            )
        if node.keywords:
            raise self.fail(
                node, f"{func.id}() takes no keyword arguments", "expr_keywords", name=func.id
            )
        low, high = _FUNCTIONS[func.id]
        if not low <= len(node.args) <= high:
            wanted = f"{low} argument" if low == high == 1 else f"{low} to {high} arguments"
            raise self.fail(
                node,
                f"{func.id}() takes {wanted}, not {len(node.args)}",
                "expr_arity",
                name=func.id,
                low=low,
                high=high,
                given=len(node.args),
            )
        args = tuple(self.build(a, depth) for a in node.args)
        call = _CALLS[func.id]
        if func.id in ("min", "max"):
            return lambda env: call(*(_number(a(env)) for a in args))
        return lambda env: call(*(a(env) for a in args))
