"""Manifests: a good one is read whole; each way one can be wrong is refused with the app,
its version and the field named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from indunet.apps.manifest import check, coerce, unit_ok
from indunet.core.errors import InvalidInput

GOOD: dict[str, Any] = {
    "id": "acme.spindle_load",
    "version": "1.2.0",
    "kind": "python",
    "owner": "platform",
    "licence": "Apache-2.0",
    "title": {"zh-CN": "主轴负载", "en": "Spindle load"},
    "description": {"zh-CN": "主轴功率与额定功率之比", "en": "Spindle power over its rating"},
    "entry": "acme_apps.spindle:load",
    "inputs": [{"name": "power", "type": "series", "unit": "kW"}],
    "outputs": [{"name": "load", "type": "number", "unit": "percent"}],
    "parameters": [
        {"name": "rated", "type": "number", "unit": "kW", "default": 7.5, "min": 0.1, "max": 500}
    ],
    "applies_to": {"points": ["spindle_power"]},
    "tests": [{"inputs": {"power": [3.75]}, "outputs": {"load": 50.0}, "tolerance": 1e-9}],
}


def test_a_good_manifest_is_read_whole() -> None:
    m = check(GOOD)
    assert (m.id, m.version, m.key) == (
        "acme.spindle_load",
        "1.2.0",
        ("acme.spindle_load", (1, 2, 0)),
    )
    assert m.parameters[0].default == 7.5 and m.parameters[0].unit == "kW"
    assert m.applies_to == ("spindle_power",)
    assert check(m.as_dict()) == m  # what it writes, it reads back


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "Acme"}, "id"),
        ({"version": "1.2"}, "version"),
        ({"version": "01.2.0"}, "version"),
        ({"kind": "exe"}, "kind"),
        ({"owner": "someone"}, "owner"),
        ({"entry": "no colon"}, "entry"),
        ({"title": {"en": "only English"}}, "title"),
        (
            {"inputs": [{"name": "power", "type": "series", "unit": "furlongs per fortnightz"}]},
            "inputs[0]",
        ),
        ({"inputs": [{"name": "x", "type": "tensor"}]}, "inputs[0]"),
        (
            {"inputs": [{"name": "x", "type": "number"}, {"name": "x", "type": "number"}]},
            "inputs[1]",
        ),
        (
            {"parameters": [{"name": "rated", "type": "number", "default": 900, "max": 500}]},
            "parameters[0]",
        ),
        (
            {"parameters": [{"name": "rated", "type": "number", "min": 5, "max": 1, "default": 2}]},
            "parameters[0]",
        ),
        ({"parameters": [{"name": "rated", "type": "number"}]}, "parameters[0]"),
        ({"applies_to": {"points": ["Bad Name"]}}, "applies_to"),
        ({"tests": []}, "tests"),
        ({"tests": [{"inputs": {}}]}, "tests[0]"),
        ({"tests": [{"inputs": {}, "outputs": {}, "tolerance": 5}]}, "tests[0]"),
        ({"script": "rm -rf /"}, "script"),
    ],
)
def test_each_problem_is_refused_naming_app_version_and_field(
    change: dict[str, Any], field: str
) -> None:
    raw = {**copy.deepcopy(GOOD), **change}
    with pytest.raises(InvalidInput) as refused:
        check(raw)
    e = refused.value
    assert e.reason == "apps_manifest" and e.params["field"] == field, e.message
    assert e.params["app"] == str(raw["id"])[:80] and e.params["version"] == raw["version"]


def test_units_and_values() -> None:
    assert all(unit_ok(u) for u in ("", "kWh", "rpm", "degC", "percent", "m/s**2", "kW*h"))
    assert not unit_ok("parsec per bogon")
    assert coerce("integer", 3.0) == 3 and coerce("number", 2, 0, 5) == 2
    for kind, value in (("integer", 2.5), ("number", float("nan")), ("number", True),
                        ("boolean", 1), ("number", 9)):  # fmt: skip
        with pytest.raises(ValueError):
            coerce(kind, value, None, 5)
