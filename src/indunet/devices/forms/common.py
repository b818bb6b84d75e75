"""What every form reader shares: the form being read, problem reporting and common terms.

A reader turns one form (a JSON object) into a typed form (``ModbusForm``, ``OpcUaForm``,
``MqttForm``) or reports why it cannot, each problem with the JSON path of the term.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from indunet.devices.models import DataType, Form


class Problem(NamedTuple):
    """One problem of a Thing Model: where (a JSON path), what (English), and its stable
    ``reason`` with ``params``, which the console shows as ``model.problem.<reason>``."""

    path: str
    message: str
    reason: str = "other"
    params: dict[str, Any] | None = None


Problems = list[Problem]
_PLAIN_KEY = re.compile(r"[A-Za-z_@][A-Za-z0-9_:@-]*\Z")


def json_path(*parts: str | int) -> str:
    """``$.properties.temp.forms[0].modv:type`` from its parts."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _PLAIN_KEY.match(p):
            out += f".{p}"
        else:
            out += "[" + repr(p) + "]"
    return out


@dataclass(frozen=True)
class FormInput:
    """One form to read: where it is, its terms, and the point (or action) it belongs to."""

    path: str
    form: dict[str, Any]
    ptype: DataType | None  # None for an action
    writable: bool
    name: str

    @property
    def action(self) -> bool:
        """True for an action's form."""
        return self.ptype is None


class Reporter:
    """Collects problems, and reads the term kinds several bindings use."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems

    def problem(self, path: str, message: str, reason: str = "other", **params: Any) -> None:
        """Record one problem at ``path`` (``reason`` and ``params`` as in ``Problem``)."""
        self.problems.append(Problem(path, message, reason, params))

    def flag(self, path: str, form: dict[str, Any], key: str) -> bool:
        """A true/false term (default true)."""
        v = form.get(key, True)
        if not isinstance(v, bool):
            self.problem(f"{path}.{key}", "must be true or false", "not_boolean")
            return True
        return v

    def positive(
        self,
        path: str,
        form: dict[str, Any],
        key: str,
        default: float,
        *,
        allow_negative: bool = False,
    ) -> float:
        """A number above 0 (or non-zero with ``allow_negative``); ``default`` when absent."""
        v = form.get(key)
        if v is None:
            return default
        if (
            isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
            or v == 0
            or (v < 0 and not allow_negative)
        ):
            need = "a non-zero number" if allow_negative else "a number above 0"
            self.problem(
                f"{path}.{key}",
                f"must be {need}",
                "not_nonzero" if allow_negative else "not_positive",
            )
            return default
        return float(v)


ReadForm = Callable[[FormInput, Reporter], Form | None]


@dataclass(frozen=True)
class FormBinding:
    """How forms of one protocol are recognised and read: one row of ``forms.BINDINGS``.

    A form belongs to the binding whose vocabulary ``prefixes`` its terms use, or whose URI
    ``schemes`` its ``href`` (or the model's ``base``) has. ``read`` is None for a binding
    whose forms are accepted but not mapped (HTTP: the device pushes). ``hint`` completes
    the sentence "use ..." when a form matches no binding.
    """

    name: str
    prefixes: tuple[str, ...]
    schemes: tuple[str, ...]
    hint: str
    read: ReadForm | None
    form_type: type | None = None
