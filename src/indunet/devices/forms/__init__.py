"""Protocol bindings of Thing Model forms: one reader per protocol, and the table of them.

Follows the W3C WoT Binding Templates where they define terms, and adds ``indunet:`` terms
where they do not (``indunet:datatype``, ``indunet:scale``, ``indunet:jsonPath``,
``indunet:samplingInterval``). Each problem is reported with the JSON path of the term.

Each protocol's reader lives in ``devices/forms/<protocol>.py`` and exposes a
``BINDING``; ``BINDINGS`` lists them. Adding a protocol adds a module and a row here (see
docs/contributing/adding-a-protocol.md); ``FormReader`` and ``binding_of`` consult only
the table.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from indunet.devices.forms import http, modbus, mqtt, opcua
from indunet.devices.forms.common import (
    FormBinding,
    FormInput,
    Problem,
    Problems,
    Reporter,
    json_path,
)
from indunet.devices.forms.modbus import overlaps
from indunet.devices.models import DEVICE_PLACEHOLDER, DataType, Form

__all__ = [
    "BINDINGS",
    "FormBinding",
    "FormInput",
    "FormReader",
    "Problem",
    "Problems",
    "Reporter",
    "binding_of",
    "json_path",
    "overlaps",
]

BINDINGS: tuple[FormBinding, ...] = (modbus.BINDING, opcua.BINDING, mqtt.BINDING, http.BINDING)
"""Every form binding, in the order ``FormReader``'s hint names them."""

_BY_NAME = {b.name: b for b in BINDINGS}
_PLACEHOLDER = re.compile(r"\{\{[ -~]+?\}\}")


def _prefixed(form: dict[str, Any]) -> set[str]:
    return {b.name for key in form for b in BINDINGS for pre in b.prefixes if key.startswith(pre)}


def binding_of(form: dict[str, Any], base: str = "") -> str | None:
    """The protocol a form is for, from its vocabulary prefixes or its href's URI scheme."""
    found = _prefixed(form)
    href = form.get("href")
    scheme = urlsplit(href).scheme if isinstance(href, str) else ""
    if not scheme and not found and base:
        scheme = urlsplit(base).scheme
    found |= {b.name for b in BINDINGS if scheme in b.schemes}
    if len(found) == 1:
        return found.pop()
    return None


class FormReader:
    """Turns forms into typed forms through the binding table, appending problems."""

    def __init__(self, problems: Problems, base: str = "") -> None:
        self.problems = problems
        self.base = base
        self.reporter = Reporter(problems)

    def problem(self, path: str, message: str, reason: str = "other", **params: Any) -> None:
        """Record one problem at ``path``."""
        self.reporter.problem(path, message, reason, **params)

    def read(
        self,
        path: str,
        form: dict[str, Any],
        *,
        ptype: DataType | None,
        writable: bool,
        name: str,
    ) -> Form | None:
        """Parse one form; ``ptype`` is None for actions. HTTP forms are accepted, not mapped."""
        self._placeholders(path, form)
        name_of = binding_of(form, self.base)
        if name_of is None:
            kinds = _prefixed(form)
            if len(kinds) > 1:
                self.problem(
                    path,
                    f"mixes terms of several bindings ({', '.join(sorted(kinds))})",
                    "mixed_bindings",
                    bindings=", ".join(sorted(kinds)),
                )
            else:
                hints = [b.hint for b in BINDINGS]
                self.problem(
                    path,
                    "no known protocol binding: use " + ", ".join(hints[:-1]) + ", or " + hints[-1],
                    "no_binding",
                )
            return None
        reader = _BY_NAME[name_of].read
        if reader is None:
            return None
        return reader(FormInput(path, form, ptype, writable, name), self.reporter)

    def _placeholders(self, path: str, form: dict[str, Any]) -> None:
        for key, value in form.items():
            if isinstance(value, str):
                for ph in _PLACEHOLDER.findall(value):
                    if ph != DEVICE_PLACEHOLDER:
                        self.problem(
                            f"{path}.{key}",
                            f"placeholder {ph} is unknown; forms may use only {DEVICE_PLACEHOLDER}",
                            "placeholder",
                            placeholder=ph,
                            allowed=DEVICE_PLACEHOLDER,
                        )
