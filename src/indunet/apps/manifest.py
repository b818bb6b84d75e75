"""An app's or a mechanism model's manifest (清单): what it is, what it takes and gives, and
the test vectors that must pass before it is installed.

A manifest is JSON (docs/apps/manifest.md)::

    {"id": "indunet.oee", "version": "1.0.0", "kind": "python",
     "owner": "platform", "licence": "Apache-2.0",
     "title": {"zh-CN": "设备综合效率", "en": "Overall equipment effectiveness"},
     "description": {"zh-CN": "…", "en": "…"},
     "entry": "indunet.apps.builtin.oee:invoke",
     "inputs": [{"name": "state", "type": "series", "unit": ""}],
     "outputs": [{"name": "oee", "type": "number", "unit": "percent"}],
     "parameters": [{"name": "shift_hours", "type": "number", "default": 8,
                     "min": 1, "max": 24, "unit": "hour"}],
     "applies_to": {"points": ["state"]},
     "tests": [{"inputs": {...}, "parameters": {...}, "outputs": {...}, "tolerance": 1e-9}]}

Every field is checked and bounded; a unit must be one pint knows (``kWh``, ``rpm``,
``degC``, ``percent``; empty for a dimensionless or categorical value). Versions are
semantic (``MAJOR.MINOR.PATCH``) and immutable once installed (``registry``). ``check``
refuses the first problem with 400 ``apps_manifest`` naming the app, its version and the
field.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from indunet.core.errors import InvalidInput

KINDS = ("python", "rule", "onnx", "fmu")
TYPES = ("number", "integer", "boolean", "string", "series")
ID = re.compile(r"^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_-]{0,40}){1,3}$")
VERSION = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ENTRY = re.compile(r"^[A-Za-z_][\w.]{0,200}:[A-Za-z_]\w{0,100}$")
OWNER = re.compile(r"^(platform|[0-9A-HJ-NPQRTUWXY]{18})$")
MAX_FIELDS = 64
MAX_TESTS = 32
MAX_TEXT = 2000


def _refuse(app: str, version: str, field: str, problem: str) -> InvalidInput:
    who = f"{app or '?'} {version or '?'}"
    return InvalidInput(
        f"manifest of {who}: {field}: {problem}",
        reason="apps_manifest",
        params={"app": app or "?", "version": version or "?", "field": field, "problem": problem},
    )


@functools.cache
def _units() -> Any:
    import pint  # a third of a second to load: only when a unit is checked

    return pint.UnitRegistry()


def unit_ok(text: str) -> bool:
    """Whether ``text`` names a unit pint knows (empty: no unit)."""
    if text == "":
        return True
    try:
        _units().parse_units(text)
    except Exception:  # pint raises several kinds for a bad unit
        return False
    return True


@dataclass(frozen=True, slots=True)
class Port:
    """A typed input, output or parameter."""

    name: str
    type: str
    unit: str = ""
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "unit": self.unit}
        if self.default is not None:
            out["default"] = self.default
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """A checked manifest."""

    id: str
    version: str
    kind: str
    owner: str
    licence: str
    title: dict[str, str]
    description: dict[str, str]
    entry: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    parameters: tuple[Port, ...]
    applies_to: tuple[str, ...]
    tests: tuple[dict[str, Any], ...]

    @property
    def key(self) -> tuple[str, tuple[int, int, int]]:
        """Id and version, ordered by version number."""
        major, minor, patch = (int(x) for x in self.version.split("."))
        return self.id, (major, minor, patch)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "kind": self.kind,
            "owner": self.owner,
            "licence": self.licence,
            "title": dict(self.title),
            "description": dict(self.description),
            "entry": self.entry,
            "inputs": [p.as_dict() for p in self.inputs],
            "outputs": [p.as_dict() for p in self.outputs],
            "parameters": [p.as_dict() for p in self.parameters],
            "applies_to": {"points": list(self.applies_to)},
            "tests": [dict(t) for t in self.tests],
        }


def _texts(raw: Any, app: str, version: str, field: str) -> dict[str, str]:
    if (
        not isinstance(raw, dict)
        or set(raw) != {"zh-CN", "en"}
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in raw.values())
    ):
        raise _refuse(app, version, field, f"zh-CN and en texts of 1 to {MAX_TEXT} characters")
    return {"zh-CN": raw["zh-CN"], "en": raw["en"]}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ports(raw: Any, app: str, version: str, field: str, parameters: bool) -> tuple[Port, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        raise _refuse(app, version, field, f"a list of at most {MAX_FIELDS}")
    ports: list[Port] = []
    for i, p in enumerate(raw):
        where = f"{field}[{i}]"
        allowed = {"name", "type", "unit", "description"}
        if parameters:
            allowed |= {"default", "min", "max"}
        if not isinstance(p, dict) or not {"name", "type"} <= set(p) or set(p) - allowed:
            raise _refuse(app, version, where, f"an object with name, type and {sorted(allowed)}")
        name, kind, unit = p["name"], p["type"], p.get("unit", "")
        if not isinstance(name, str) or not NAME.match(name):
            raise _refuse(app, version, where, "name is a-z, 0-9 and _, starting with a letter")
        if name in {q.name for q in ports}:
            raise _refuse(app, version, where, f"{name} appears twice")
        if kind not in TYPES:
            raise _refuse(app, version, where, f"type is one of {', '.join(TYPES)}")
        if not isinstance(unit, str) or len(unit) > 60 or not unit_ok(unit):
            raise _refuse(app, version, where, f"unit {str(unit)[:60]!r} is not one pint knows")
        low, high, default = p.get("min"), p.get("max"), p.get("default")
        for bound, value in (("min", low), ("max", high)):
            if value is not None and (not _number(value) or kind not in ("number", "integer")):
                raise _refuse(app, version, where, f"{bound} is a number, for numbers only")
        if low is not None and high is not None and low > high:
            raise _refuse(app, version, where, "min is above max")
        if parameters:
            if default is None:
                raise _refuse(app, version, where, "a parameter has a default")
            try:
                default = coerce(kind, default, low, high)
            except ValueError as exc:
                raise _refuse(app, version, where, f"default: {exc}") from None
        ports.append(Port(name, kind, unit, default, low, high))
    return tuple(ports)


def coerce(kind: str, value: Any, low: float | None = None, high: float | None = None) -> Any:
    """``value`` as a value of ``kind`` within its bounds, else ``ValueError`` saying why."""
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("not true or false")
        return value
    if kind == "string":
        if not isinstance(value, str) or len(value) > 10_000:
            raise ValueError("not a text of at most 10,000 characters")
        return value
    if kind == "series":
        if not isinstance(value, list):
            raise ValueError("not a list")
        return value
    if not _number(value) or value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if kind == "integer":
        if float(value) != int(value):
            raise ValueError("not a whole number")
        value = int(value)
    if low is not None and value < low:
        raise ValueError(f"below the minimum {low}")
    if high is not None and value > high:
        raise ValueError(f"above the maximum {high}")
    return value


def check(raw: Any) -> Manifest:
    """A manifest checked field by field; 400 ``apps_manifest`` naming the first problem."""
    if not isinstance(raw, dict):
        raise _refuse("", "", "manifest", "a JSON object")
    app = raw.get("id") if isinstance(raw.get("id"), str) else ""
    version = raw.get("version") if isinstance(raw.get("version"), str) else ""
    app, version = str(app)[:80], str(version)[:20]
    known = {
        "id", "version", "kind", "owner", "licence", "title", "description", "entry",
        "inputs", "outputs", "parameters", "applies_to", "tests",
    }  # fmt: skip
    extra = sorted(set(raw) - known)
    if extra:
        raise _refuse(app, version, extra[0][:40], "not a manifest field")
    if not ID.match(app):
        raise _refuse(app, version, "id", "dotted lower-case names, like indunet.oee")
    if not VERSION.match(version):
        raise _refuse(app, version, "version", "MAJOR.MINOR.PATCH")
    if raw.get("kind") not in KINDS:
        raise _refuse(app, version, "kind", f"one of {', '.join(KINDS)}")
    owner = raw.get("owner")
    if not isinstance(owner, str) or not OWNER.match(owner):
        raise _refuse(app, version, "owner", "platform, or the owner enterprise's USCC")
    licence = raw.get("licence")
    if not isinstance(licence, str) or not 0 < len(licence) <= 100:
        raise _refuse(app, version, "licence", "an SPDX identifier or a licence's name")
    entry = raw.get("entry")
    if not isinstance(entry, str) or not ENTRY.match(entry):
        raise _refuse(app, version, "entry", "module:function")
    applies = raw.get("applies_to", {"points": []})
    points = applies.get("points") if isinstance(applies, dict) else None
    if (
        not isinstance(applies, dict)
        or set(applies) != {"points"}
        or not isinstance(points, list)
        or len(points) > MAX_FIELDS
        or not all(isinstance(p, str) and NAME.match(p) for p in points)
    ):
        raise _refuse(app, version, "applies_to", '{"points": [point names]}')
    tests = raw.get("tests")
    if not isinstance(tests, list) or not 0 < len(tests) <= MAX_TESTS:
        raise _refuse(app, version, "tests", f"1 to {MAX_TESTS} test vectors")
    for i, t in enumerate(tests):
        if (
            not isinstance(t, dict)
            or not {"inputs", "outputs"} <= set(t)
            or set(t) - {"inputs", "outputs", "parameters", "tolerance"}
            or not all(isinstance(t.get(k, {}), dict) for k in ("inputs", "outputs", "parameters"))
            or not _number(t.get("tolerance", 0.0))
            or not 0 <= t.get("tolerance", 0.0) <= 1
        ):
            raise _refuse(app, version, f"tests[{i}]", "inputs, outputs, parameters, tolerance")
    return Manifest(
        id=app,
        version=version,
        kind=str(raw["kind"]),
        owner=owner,
        licence=licence,
        title=_texts(raw.get("title"), app, version, "title"),
        description=_texts(raw.get("description"), app, version, "description"),
        entry=entry,
        inputs=_ports(raw.get("inputs"), app, version, "inputs", False),
        outputs=_ports(raw.get("outputs"), app, version, "outputs", False),
        parameters=_ports(raw.get("parameters", []), app, version, "parameters", True),
        applies_to=tuple(points),
        tests=tuple(tests),
    )
