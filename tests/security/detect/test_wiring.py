"""The service wires detection: subscribed to the hub, stored rules loaded at start, alerts
linked to the inventory's assets and kept by the alert store (the ``alerts`` part)."""

from __future__ import annotations

from dataclasses import replace

from tests.conftest import until

from indunet import core
from indunet.core import Role, User
from indunet.security import Security
from indunet.security.cases import AlertFilter, AlertStore, find_alerts
from indunet.security.detect.part import Detection
from indunet.web import AppState

from .helpers import tx

RULES = """\
rules:
  - id: wired.telnet
    version: 1
    title: {zh-CN: 远程登录, en: Telnet}
    level: 9
    techniques: [T0886]
    match: {kind: net.connection, dst_port: 23}
"""
ADMIN = User(id=1, username="root", role=Role.PLATFORM_ADMIN, enterprise_id=None)


async def test_alerts_are_linked_to_assets_and_stored(
    state: AppState, enterprise: core.Enterprise
) -> None:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    det, store = svc.part("detection"), svc.part("alerts")
    assert isinstance(det, Detection) and isinstance(store, AlertStore)
    det.store.put_file(ADMIN, "wired.yml", RULES)
    inventory = svc.part("assets")
    plc = inventory.store.create(ADMIN, enterprise.id, {"name": "PLC-1", "ips": ["10.0.0.2"]})
    await svc.start()
    try:
        assert det.engine.ruleset.get("wired.telnet") is not None
        stop = replace(
            tx("s7comm", "plc_stop", 0x29, dst="10.0.0.2", port=102), enterprise_id=enterprise.id
        )
        await svc.hub.submit([stop])
        await svc.hub.drained()

        def stored() -> list[object]:
            return find_alerts(state.engine, ADMIN, AlertFilter())[0]

        await until(stored, 10, "the alert stored")
    finally:
        await svc.stop()
    [alert] = find_alerts(state.engine, ADMIN, AlertFilter())[0]
    assert alert.rule == "ot.mode.stop"
    assert list(alert.assets) == [plc.id]
