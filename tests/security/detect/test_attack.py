"""The ATT&CK for ICS index against the bundle itself, and the Navigator layer's shape."""

from __future__ import annotations

import time

import orjson

from indunet.security.attack import index, navigator_layer
from indunet.security.attack.index import BUNDLE, load


def _bundle_count(kind: str) -> int:
    objs = orjson.loads(BUNDLE.read_bytes())["objects"]
    return sum(
        1
        for o in objs
        if o["type"] == kind and not o.get("revoked") and not o.get("x_mitre_deprecated")
    )


def test_counts_match_the_bundle() -> None:
    idx = index()
    assert len(idx.assets) == 18 == _bundle_count("x-mitre-asset")
    assert sorted(idx.assets)[0] == "A0001"
    assert len(idx.techniques) == _bundle_count("attack-pattern") == 83
    assert len(idx.mitigations) == _bundle_count("course-of-action")
    assert len(idx.strategies) == _bundle_count("x-mitre-detection-strategy")


def test_tactics_in_matrix_order() -> None:
    ids = [t.id for t in index().tactics]
    assert ids[:3] == ["TA0108", "TA0104", "TA0110"]  # Initial Access, Execution, Persistence
    assert ids[-1] == "TA0105" and len(ids) == 12  # Impact last
    assert index().tactics[0].name == "Initial Access"


def test_a_technique_its_tactics_mitigations_assets_and_detection() -> None:
    idx = index()
    t = idx.technique("T0858")
    assert t is not None and t.name == "Change Operating Mode"
    assert t.tactics == ("execution", "evasion")
    assert "T0858" in [x.id for x in idx.techniques_for_tactic("TA0104")]
    assert "T0858" in [x.id for x in idx.techniques_for_tactic("evasion")]
    mits = {m.id for m in idx.mitigations_for("T0855")}
    assert {"M0802", "M0807"} <= mits
    assert "A0003" in {a.id for a in idx.asset_types("T0855")}  # PLC
    strategies = idx.detection_strategies_for("T0855")
    assert strategies and strategies[0].analytics
    sources = [s for a in strategies[0].analytics for s in a.log_sources]
    assert sources and all(s.data_component.startswith("DC") for s in sources)
    assert any(kind == "campaign" for kind, _, _ in idx.used_by("T0855"))
    assert idx.technique("T9999") is None


def test_the_index_loads_fast() -> None:
    raw = BUNDLE.read_bytes()
    started = time.perf_counter()
    load(raw)
    assert time.perf_counter() - started < 1.0


def test_navigator_layer_follows_the_4_5_format() -> None:
    layer = navigator_layer(
        {"T0855": 3, "T0858": 1, "T9999": 5, "T0843": 0}, "Coverage", "rules per technique"
    )
    # required properties (layer format 4.5): name, domain, versions.navigator/.layer
    assert layer["name"] == "Coverage" and layer["domain"] == "ics-attack"
    assert layer["versions"] == {"attack": "18", "navigator": "5.1.0", "layer": "4.5"}
    ids = [t["techniqueID"] for t in layer["techniques"]]
    assert ids == ["T0843", "T0855", "T0858"]  # unknown ids left out
    for t in layer["techniques"]:
        assert (
            isinstance(t["score"], int)
            and isinstance(t["comment"], str)
            and isinstance(t["enabled"], bool)
        )
        assert t["color"] == "" or (t["color"].startswith("#") and len(t["color"]) == 7)
    g = layer["gradient"]
    assert len(g["colors"]) >= 2 and g["maxValue"] > g["minValue"]
    assert all(set(i) == {"label", "color"} for i in layer["legendItems"])
    assert layer["layout"]["layout"] in ("side", "flat", "mini")
    assert layer["layout"]["aggregateFunction"] in ("average", "min", "max", "sum")
    assert layer["sorting"] in (0, 1, 2, 3)
    assert all(set(m) == {"name", "value"} for m in layer["metadata"])
    orjson.dumps(layer)


def test_navigator_layer_refuses_bad_scores() -> None:
    import pytest

    with pytest.raises(ValueError):
        navigator_layer({"T0855": -1}, "x")
    assert navigator_layer({}, "x")["gradient"]["maxValue"] == 1
