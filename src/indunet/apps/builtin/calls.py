"""The built-in methods as apps: each adapter takes the unified call's ``inputs`` and
``parameters`` (JSON values, already checked against the manifest by the registry) and
returns JSON-ready outputs. They run in the sandbox's workers like any app (``MANIFESTS``)."""

from __future__ import annotations

from typing import Any

from . import spc


def spc_imr(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Individuals and moving-range charts of a series, with the Western Electric or Nelson
    rules that fire on the individuals."""
    chart = spc.imr(inputs["values"])
    if parameters["rules"] == "nelson":
        rules = chart.location.nelson()
    else:
        rules = chart.location.western_electric()
    fired = [hit.as_dict() for hit in rules if hit.fired]
    return {
        "centre": chart.location.centre,
        "ucl": float(chart.location.ucl[0]),
        "lcl": float(chart.location.lcl[0]),
        "sigma": chart.sigma,
        "beyond": [int(i) for i in chart.location.beyond()],
        "rules": fired,
    }


_TEXTS = {
    "spc_imr": (
        {"zh-CN": "单值-移动极差控制图", "en": "Individuals and moving-range chart"},
        {
            "zh-CN": "单值控制图的中心线与控制限（σ = MR̄/d2），以及触发的判异规则。",
            "en": "The individuals chart's centre line and limits (σ = MR̄/d2) and the run "
            "rules that fire.",
        },
    ),
}

#: The built-in apps' manifests (installed as ``builtin`` at start; docs/apps/).
MANIFESTS: tuple[dict[str, Any], ...] = (
    {
        "id": "indunet.spc_imr",
        "version": "1.0.0",
        "kind": "python",
        "owner": "platform",
        "licence": "Apache-2.0",
        "title": _TEXTS["spc_imr"][0],
        "description": _TEXTS["spc_imr"][1],
        "entry": "indunet.apps.builtin.calls:spc_imr",
        "inputs": [{"name": "values", "type": "series", "unit": ""}],
        "outputs": [
            {"name": "centre", "type": "number", "unit": ""},
            {"name": "ucl", "type": "number", "unit": ""},
            {"name": "lcl", "type": "number", "unit": ""},
            {"name": "sigma", "type": "number", "unit": ""},
            {"name": "beyond", "type": "series", "unit": ""},
            {"name": "rules", "type": "series", "unit": ""},
        ],
        "parameters": [{"name": "rules", "type": "string", "default": "western_electric"}],
        "applies_to": {"points": []},
        "tests": [
            {
                # x = 10, 12, 11, 13, 12: mean 11.6; moving ranges 2, 1, 2, 1 → MR̄ 1.5;
                # d2(2) = 2/√π = 1.128379, σ = 1.5 / 1.128379 = 1.329341; 3σ = 3.988022;
                # limits 11.6 ± 3σ = 7.611978 and 15.588022
                "inputs": {"values": [10, 12, 11, 13, 12]},
                "outputs": {"centre": 11.6, "ucl": 15.588022, "lcl": 7.611978, "beyond": []},
                "tolerance": 1e-5,
            }
        ],
    },
)
