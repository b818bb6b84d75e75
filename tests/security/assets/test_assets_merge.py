"""Merging: by MAC, then IP (within an enterprise), then identifier/device id; precedence
manual > csv > platform > identification > observation; losing values kept; history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B

from indunet import core
from indunet.security.assets import ASSET_TYPES, Assets, Observation
from indunet.security.assets.merge import merge
from indunet.web import AppState

BUNDLE = Path(__file__).parents[3] / "src/indunet/security/data/ics-attack.json"


def test_asset_types_are_the_bundles() -> None:
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    found = {
        ref["external_id"]: o["name"]
        for o in bundle["objects"]
        if o["type"] == "x-mitre-asset" and not o.get("revoked") and not o.get("x_mitre_deprecated")
        for ref in o["external_references"]
        if ref.get("source_name") == "mitre-attack"
    }
    assert found == ASSET_TYPES


def test_precedence_and_alternatives() -> None:
    cur: dict[str, object] = {}
    first = merge(cur, {"vendor": "Schneider", "ips": ["10.0.0.5"]}, "observation", "t1")
    cur.update(first.changes)
    assert cur["provenance"] == {"vendor": "observation"}
    up = merge(cur, {"vendor": "Schneider Electric", "ips": ["10.0.0.6"]}, "platform", "t2")
    cur.update(up.changes)
    assert cur["vendor"] == "Schneider Electric" and cur["ips"] == ["10.0.0.5", "10.0.0.6"]
    assert [d["why"] for d in up.decisions] == ["outranks", "added"]
    assert cur["alternatives"]["vendor"][0]["value"] == "Schneider"  # type: ignore[index]
    low = merge(cur, {"vendor": "SE"}, "identification", "t3")
    cur.update(low.changes)
    assert cur["vendor"] == "Schneider Electric"
    assert low.decisions[0]["why"] == "kept" and low.decisions[0]["other"] == "SE"
    assert [a["value"] for a in cur["alternatives"]["vendor"]] == ["Schneider", "SE"]  # type: ignore[index]
    same = merge(cur, {"vendor": "Schneider Electric"}, "platform", "t4")
    assert same.decisions == [] and "sources" not in same.changes


@pytest.fixture
def store(state: AppState) -> Assets:
    return Assets(state.engine)


def test_merge_by_mac_then_ip_then_device(store: Assets, enterprise: core.Enterprise) -> None:
    eid = enterprise.id
    store.observe(
        [
            Observation(
                eid,
                "observation",
                {"ips": ["10.0.0.5"], "macs": ["00:1b:1b:00:00:01"], "protocols": ["modbus"]},
                seen=True,
            )
        ]
    )
    # the same MAC at another address: the same asset
    store.observe(
        [Observation(eid, "observation", {"ips": ["10.0.0.9"], "macs": ["00:1b:1b:00:00:01"]})]
    )
    # the platform knows it by IP and device id
    store.observe(
        [
            Observation(
                eid,
                "platform",
                {"ips": ["10.0.0.9"], "device_id": "plc-1", "vendor": "Siemens", "name": "1号PLC"},
            )
        ]
    )
    # CSV says the device id only
    store.observe(
        [
            Observation(
                eid, "csv", {"device_id": "plc-1", "vendor": "Siemens AG", "serial": "S C-123"}
            )
        ]
    )
    admin = _admin(store.engine, eid)
    items, total = store.page(admin)
    assert total == 1
    a = items[0]
    assert a.ips == ["10.0.0.5", "10.0.0.9"] and a.macs == ["00:1b:1b:00:00:01"]
    assert a.vendor == "Siemens AG" and a.provenance["vendor"] == "csv"
    assert a.name == "1号PLC" and set(a.sources) == {"sensor", "platform", "csv"}
    detail = store.get(admin, a.id)
    matched = [m.matched for m in reversed(detail.merges)]
    assert matched == ["new", "ip 10.0.0.9", "device plc-1"]
    csv_entry = detail.merges[0]
    assert csv_entry.source == "csv"
    vendor = next(d for d in csv_entry.decisions if d["attribute"] == "vendor")
    assert vendor == {
        "attribute": "vendor",
        "value": "Siemens AG",
        "source": "csv",
        "why": "outranks",
        "other": "Siemens",
        "other_source": "platform",
    }
    assert store.by_ip(eid, "10.0.0.5") == store.by_ip(eid, "10.0.0.9") != None  # noqa: E711
    assert store.by_ip(None, "10.0.0.5") is None
    [m] = store.list_for_matching(eid)
    assert (m.vendor, m.product, m.serial) == ("Siemens AG", "", "S C-123")


def test_an_ip_with_another_mac_is_another_asset_and_enterprises_apart(
    store: Assets, enterprise: core.Enterprise
) -> None:
    with store.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    eid = enterprise.id
    store.observe(
        [Observation(eid, "observation", {"ips": ["10.0.0.5"], "macs": ["00:00:00:00:00:01"]})]
    )
    store.observe(
        [Observation(eid, "observation", {"ips": ["10.0.0.5"], "macs": ["00:00:00:00:00:02"]})]
    )
    store.observe(
        [Observation(b.id, "observation", {"ips": ["10.0.0.5"], "macs": ["00:00:00:00:00:01"]})]
    )
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT enterprise_id FROM security_assets ORDER BY id")).all()
    assert [r[0] for r in rows] == [eid, eid, b.id]


def _admin(engine: sa.Engine, eid: int) -> core.User:
    with engine.begin() as conn:
        return core.create_user(
            conn,
            username=f"adm{eid}",
            password="a-long-password",
            role=core.Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=eid,
        )


def test_an_observation_matching_two_assets_merges_them(
    store: Assets, enterprise: core.Enterprise
) -> None:
    eid = enterprise.id
    store.observe(
        [
            Observation(
                eid,
                "csv",
                {"name": "主站PLC", "macs": ["00:80:f4:00:00:07"], "vendor": "Schneider Electric"},
            )
        ]
    )
    store.observe(
        [
            Observation(
                eid,
                "platform",
                {"name": "plc-7", "ips": ["10.0.0.7"], "device_id": "plc-7", "model": "M340"},
            )
        ]
    )
    # another machine with its own MAC at a third address is not pulled in
    store.observe(
        [Observation(eid, "observation", {"ips": ["10.0.0.8"], "macs": ["00:80:f4:00:00:08"]})]
    )
    store.observe(
        [
            Observation(
                eid,
                "observation",
                {"ips": ["10.0.0.7"], "macs": ["00:80:f4:00:00:07"], "ports": [502]},
                seen=True,
            )
        ]
    )
    admin = _admin(store.engine, eid)
    items, total = store.page(admin)
    assert total == 2
    a = next(i for i in items if i.device_id)
    assert (a.name, a.vendor, a.model) == ("主站PLC", "Schneider Electric", "M340")
    assert a.ips == ["10.0.0.7"] and a.macs == ["00:80:f4:00:00:07"] and a.ports == [502]
    assert set(a.sources) == {"csv", "platform", "sensor"}
    assert store.by_ip(eid, "10.0.0.7") == store.get(admin, a.id).asset
    history = store.get(admin, a.id).merges
    absorbed = [m for m in history if m.matched.startswith("asset ")]
    assert len(absorbed) == 1 and absorbed[0].matched.endswith("(ip 10.0.0.7)")
    assert {m.matched for m in history} >= {"new"}  # the absorbed asset's history moved here
    assert len([m for m in history if m.matched == "new"]) == 2
    with store.engine.connect() as conn:
        kinds = conn.execute(
            sa.text(
                "SELECT kind, value FROM security_asset_keys WHERE asset_id = :a ORDER BY kind"
            ),
            {"a": a.id},
        ).all()
    assert [tuple(k) for k in kinds] == [
        ("device", "plc-7"),
        ("ip", "10.0.0.7"),
        ("mac", "00:80:f4:00:00:07"),
    ]
