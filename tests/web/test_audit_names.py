"""Every audit action the code records has a name in both catalogues (``audit.action.<code>``),
so a new action without one fails here rather than showing its raw code on the audit page."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from indunet.web.console.i18n import LOCALES, catalogue

SRC = Path(__file__).resolve().parents[2] / "src" / "indunet"
#: Actions built from a variable the code cannot show statically: the f-string, and the
#: values it takes (``telemetry.commands.Command.kind``).
FORMATTED = {
    "device.{kind}": ("device.write", "device.invoke"),
    # indunet.regulation: grading.py's and notices.py's actions
    "regulation.{action}": tuple(
        f"regulation.{a}"
        for a in (
            "grading.draft",
            "grading.update",
            "grading.submit",
            "grading.return",
            "grading.confirm",
            "obligation.set",
            "obligation.supersede",
            "obligation.complete",
            "notice.sign",
            "notice.report",
            "notice.close",
            "notice.return",
            "notice.escalate",
        )
    ),
}


def _texts(node: ast.expr) -> set[str]:
    """The strings ``node`` can be: a constant, either side of ``a if c else b``, an f-string
    whose only field is such an expression (else looked up in ``FORMATTED``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _texts(node.body) | _texts(node.orelse)
    if isinstance(node, ast.JoinedStr):
        heads = {""}
        for part in node.values:
            if isinstance(part, ast.Constant):
                heads = {h + str(part.value) for h in heads}
            elif isinstance(part, ast.FormattedValue) and (inner := _texts(part.value)):
                heads = {h + i for h in heads for i in inner}
            else:
                shape = ast.unparse(node)[2:-1]
                assert shape in FORMATTED, f"list the values of audit action f{shape!r}"
                return set(FORMATTED[shape])
        return heads
    return set()


def recorded_actions() -> set[str]:
    """Every action string passed to ``audit.record`` in ``src/indunet``."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned: set[str] = set()  # values given to a variable named ``action`` in the file
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (
                        [(target, node.value)]
                        if isinstance(target, ast.Name)
                        else list(
                            zip(
                                getattr(target, "elts", []),
                                getattr(node.value, "elts", []),
                                strict=False,
                            )
                        )
                    )
                    for name, value in pairs:
                        if isinstance(name, ast.Name) and name.id == "action":
                            assigned |= _texts(value)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "record"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "audit"
            ):
                continue
            arg = node.args[2] if len(node.args) > 2 else None
            arg = arg or next(k.value for k in node.keywords if k.arg == "action")
            texts = assigned if isinstance(arg, ast.Name) and arg.id == "action" else _texts(arg)
            assert texts, f"{path.name}:{node.lineno}: cannot tell the action {ast.unparse(arg)}"
            found |= texts
    return found


def test_the_scan_finds_actions_of_every_shape() -> None:
    actions = recorded_actions()
    assert {"prefix.revoke", "user.create"} <= actions  # literals
    assert {"handle.create", "handle.delete", "session.revoke_all"} <= actions  # via `action`
    assert {"user.disable", "user.enable", "device.write"} <= actions  # conditional, f-string


@pytest.mark.parametrize("locale", LOCALES)
def test_every_recorded_action_has_a_name(locale: str) -> None:
    names = catalogue(locale)
    missing = sorted(a for a in recorded_actions() if f"audit.action.{a}" not in names)
    assert not missing, f"{locale}: name these audit actions: {missing}"
