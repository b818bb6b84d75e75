"""ATT&CK Navigator layers (layer format 4.5) for the ICS domain: a score per technique
(rules covering it, alerts raised for it) as a layer the Navigator opens as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .index import ATTACK_VERSION, index

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
LOW, HIGH = "#ffffff", "#d62728"
MAX_TEXT = 2_000


def _hex(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _color(score: int, top: int) -> str:
    """The gradient's colour for ``score`` (so the layer reads the same without the
    Navigator, e.g. in the console's matrix)."""
    share = 0.0 if top <= 0 else min(1.0, max(0.0, score / top))
    lo, hi = _hex(LOW), _hex(HIGH)
    r, g, b = (round(a + (b - a) * share) for a, b in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def navigator_layer(
    scores: Mapping[str, int],
    name: str,
    description: str = "",
    comments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Navigator 4.5 layer scoring ``scores`` (ATT&CK for ICS technique id → a whole number
    ≥ 0); techniques the bundle does not know are left out (``ValueError`` for a bad score)."""
    known = index().techniques
    kept = {}
    for tid, score in scores.items():
        if isinstance(score, bool) or not isinstance(score, int) or score < 0:
            raise ValueError(f"{tid}: a score is a whole number of 0 or more")
        if tid in known:
            kept[tid] = score
    top = max(kept.values(), default=0)
    top = max(top, 1)
    techniques = []
    for tid in sorted(kept):
        entry: dict[str, Any] = {
            "techniqueID": tid,
            "score": kept[tid],
            "color": _color(kept[tid], top) if kept[tid] else "",
            "comment": (comments or {}).get(tid, "")[:MAX_TEXT],
            "enabled": True,
            "showSubtechniques": False,
        }
        techniques.append(entry)
    return {
        "name": name[:200] or "Indunet",
        "versions": {
            "attack": ATTACK_VERSION,
            "navigator": NAVIGATOR_VERSION,
            "layer": LAYER_VERSION,
        },
        "domain": "ics-attack",
        "description": description[:MAX_TEXT],
        "sorting": 0,
        "layout": {
            "layout": "side",
            "showID": True,
            "showName": True,
            "showAggregateScores": False,
            "countUnscored": False,
            "aggregateFunction": "average",
            "expandedSubtechniques": "none",
        },
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": [LOW, HIGH], "minValue": 0, "maxValue": top},
        "legendItems": [
            {"label": "0", "color": LOW},
            {"label": str(top), "color": HIGH},
        ],
        "metadata": [{"name": "generator", "value": "Indunet"}],
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }
