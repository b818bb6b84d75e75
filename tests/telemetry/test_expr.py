"""The rule expression language: what it computes, and everything it refuses before running."""

from __future__ import annotations

import ast
import builtins
import time
from typing import Any

import pytest

from indunet.telemetry import Expression, InvalidExpression, NotEvaluable
from indunet.telemetry.expr import MAX_LENGTH

VALUES: dict[str, Any] = {
    "bearing_temp": 85.5,
    "motor_current": 49.0,
    "running": True,
    "mode": "auto",
    "count": 7,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bearing_temp > 80", True),
        ("bearing_temp > 80 and not running", False),
        ("motor_current > 1.2 * 40 and running", True),
        ("motor_current > 1.3 * 40 or bearing_temp >= 85.5", True),
        ("70 < bearing_temp <= 90", True),
        ("70 < bearing_temp <= 80", False),
        ("0 < count < 5 < 10", False),
        ("mode == 'auto'", True),
        ('mode != "auto"', False),
        ("mode in ('manual', 'maintenance')", False),
        ("count not in [1, 2, 3]", True),
        ("abs(-bearing_temp) - 5.5", 80.0),
        ("max(count, 3, motor_current) + min(1, 2)", 50.0),
        ("round(bearing_temp / 2, 1)", 42.8),
        ("round(bearing_temp)", 86),
        ("count % 4 + count // 4", 4),
        ("(count + 1) ** 2", 64.0),
        ("2 ** -1", 0.5),
        ("+count - -1", 8),
        ("running == True and count * 2 == 14", True),
        ("not (running and\n bearing_temp > 100)", True),
    ],
)
def test_evaluates_what_it_accepts(text: str, expected: Any) -> None:
    assert Expression.parse(text).evaluate(VALUES) == expected


def test_parts_without_points_are_computed_once_when_parsed() -> None:
    expr = Expression.parse("motor_current > 1.2 * 40 and max(1, 2) == 2")
    assert expr.evaluate({"motor_current": 48.5}) is True
    assert expr.names == {"motor_current"}


def test_reports_the_points_it_reads() -> None:
    expr = Expression.parse("motor_current > 1.2 * 40 and running or max(a, b) > 3")
    assert expr.names == {"motor_current", "running", "a", "b"}
    assert Expression.parse("round(1.25, 1) > 1").names == frozenset()


@pytest.mark.parametrize(
    ("text", "says", "column"),
    [
        ("__import__('os')", "calling '__import__' is not allowed", 1),
        ("().__class__", "attribute access", 1),
        ("().__class__.__bases__[0].__subclasses__()", "calling", 1),
        ("bearing_temp.real > 1", "attribute access", 1),
        ("x[0]", "subscript", 1),
        ("lambda: 1", "lambda", 1),
        ("[a for a in b]", "comprehension", 1),
        ("{a for a in b}", "comprehension", 1),
        ("sum(a for a in b)", "calling 'sum'", 1),
        ("open('/etc/passwd')", "calling 'open' is not allowed", 1),
        ("eval('1')", "calling 'eval'", 1),
        ("x > 1 and getattr(x, 'y')", "calling 'getattr'", 11),
        ("__builtins__", "names starting with '_'", 1),
        ("x + __dict__", "names starting with '_'", 5),
        ("9**9**9", "exponent of '**' must be a number literal", 4),
        ("x ** 1000", "exponent of '**' must be at most 64", 6),
        ("x ** y", "number literal", 6),
        ("'%999999999d' % 1", "works on numbers, not on text", 1),
        ("'a' * 1000000000", "works on numbers", 1),
        ("x if y else z", "conditional expression", 1),
        ("(y := 1)", "assignment expression", 2),
        ("f'{x}'", "f-string", 1),
        ("{'a': 1}", "dict literal", 1),
        ("x is None", "'is' is not allowed", 1),
        ("x > 1 / 0", "1 / 0 cannot be computed: division by zero", 5),
        ("x == -'a'", "cannot be computed: arithmetic needs numbers", 6),
        ("(10 ** 64) ** 64 > x", "cannot be computed: math range error", 1),
        ("None == x", "constant None", 1),
        ("1j > x", "constant 1j", 1),
        ("b'x' == x", "constant b'x'", 1),
        ("~x", "'~'", 1),
        ("x & y", "'&' (use 'and')", 1),
        ("x in y", "literal list", 6),
        ("(1, 2)", "tuple is allowed only after 'in'", 1),
        ("abs", "must be called", 1),
        ("abs(x, y)", "abs() takes 1 argument, not 2", 1),
        ("min(x)", "min() takes 2 to 16 arguments", 1),
        ("round(x, ndigits=2)", "no keyword arguments", 1),
        ("abs(*x)", "star expression", 5),
        ("x > > 1", "not a valid expression: invalid syntax", 5),
        ("x >= 1)", "unmatched ')'", 7),
        ("x = 1", "not a valid expression", 3),
        ("", "an expression is needed", 1),
        ("   ", "an expression is needed", 1),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} are allowed", MAX_LENGTH + 1),
        ("<".join(["x"] * 201), "too large (more than 200 parts)", 399),
        ("-" * 40 + "x", "nests deeper", 34),
        ("温度 > 1 and x.y", "attribute access", 12),
    ],
)
def test_refuses_everything_else_naming_the_construct_and_column(
    text: str, says: str, column: int
) -> None:
    with pytest.raises(InvalidExpression) as caught:
        Expression.parse(text)
    err = caught.value
    assert says in err.message
    assert err.column == column
    assert f"(column {column})" in err.message
    assert err.to_dict()["code"] == "invalid_expression"
    assert err.status == 400


def test_huge_power_is_refused_fast_and_never_computed() -> None:
    started = time.perf_counter()
    for text in ("9**9**9", "(10 ** 64) ** 64 ** 64", "2 ** (2 ** 2 ** 2)"):
        with pytest.raises(InvalidExpression):
            Expression.parse(text)
    assert time.perf_counter() - started < 0.1


def test_nested_powers_overflow_into_not_evaluable_not_a_huge_number() -> None:
    expr = Expression.parse("((x ** 64) ** 64) ** 64 > 1")
    started = time.perf_counter()
    with pytest.raises(NotEvaluable, match="OverflowError"):
        expr.evaluate({"x": 10**18})
    assert time.perf_counter() - started < 0.1


def test_no_eval_or_compile_is_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def forbidden(name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} must not be used")

        return call

    expr = Expression.parse("bearing_temp > 80 and round(motor_current, 1) < 50")
    with monkeypatch.context() as m:
        for name in ("eval", "exec", "compile"):
            m.setattr(builtins, name, forbidden(name))
        m.setattr(ast, "parse", forbidden("ast.parse"))  # compiled once: evaluating never parses
        result = expr.test(VALUES)
    assert result is True
    assert calls == []


@pytest.mark.parametrize(
    ("text", "values", "says"),
    [
        ("missing > 1", VALUES, "no value for point 'missing'"),
        ("mode > 1", VALUES, "TypeError"),
        ("mode * 1000000000 > 1", VALUES, "arithmetic needs numbers"),
        ("mode + mode == 'autoauto'", VALUES, "arithmetic needs numbers"),
        ("-mode == 1", VALUES, "arithmetic needs numbers"),
        ("count / zero > 1", {"count": 1, "zero": 0}, "ZeroDivisionError"),
        ("round(x, digits) > 1", {"x": 1, "digits": 10**9}, "at most 15 digits"),
        ("(-x) ** 0.5 > 1", {"x": 8}, "ValueError"),
        ("max(mode, 1) > 0", VALUES, "arithmetic needs numbers"),
    ],
)
def test_bad_values_make_it_not_evaluable(text: str, values: dict[str, Any], says: str) -> None:
    with pytest.raises(NotEvaluable, match=says):
        Expression.parse(text).evaluate(values)


def test_a_point_missing_only_in_an_untaken_branch_does_not_matter() -> None:
    expr = Expression.parse("running or missing > 1")
    assert expr.test(VALUES) is True
    with pytest.raises(NotEvaluable):
        expr.test({"running": False})


def test_evaluation_is_fast() -> None:
    expr = Expression.parse("motor_current > 1.2 * 40 and running and 0 < bearing_temp < 120")
    started = time.perf_counter()
    for _ in range(20_000):
        expr.test(VALUES)
    per_call = (time.perf_counter() - started) / 20_000
    assert per_call < 20e-6, f"{per_call * 1e6:.1f} µs per evaluation"
