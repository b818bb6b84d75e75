"""The service wires detection: subscribed to the hub, alerts into the ``alerts`` part when
there is one (else a logging memory sink), stored rules and lists loaded at start."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from indunet.core import Role, User
from indunet.security import Alert
from indunet.security.detect import MemorySink
from indunet.security.detect.part import Detection
from indunet.security.service import from_state

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


class Store:
    """A stand-in for the alert store (the ``cases`` part)."""

    def __init__(self) -> None:
        self.got: list[Alert] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def raise_alerts(self, alerts: Sequence[Alert]) -> None:
        self.got.extend(alerts)


class State:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine


async def test_alerts_go_to_the_alerts_part_and_stored_rules_load(engine: sa.Engine) -> None:
    admin = User(id=1, username="root", role=Role.PLATFORM_ADMIN, enterprise_id=None)
    svc = from_state(State(engine))
    det = svc.part("detection")
    assert isinstance(det, Detection)
    det.store.put_file(admin, "wired.yml", RULES)
    store = Store()
    svc.add("alerts", store)  # added after detection: looked up at start
    await svc.start()
    try:
        assert det.engine.sink is store
        assert det.engine.ruleset.get("wired.telnet") is not None
        await svc.hub.submit([tx("s7comm", "plc_stop", 0x29, port=102)])
        await svc.hub.drained()
    finally:
        await svc.stop()
    assert [a.rule for a in store.got] == ["ot.mode.stop"]


async def test_without_an_alert_store_a_memory_sink_logs(engine: sa.Engine) -> None:
    svc = from_state(State(engine))
    await svc.start()
    try:
        await svc.hub.submit([tx("s7comm", "plc_stop", 0x29, port=102)])
        await svc.hub.drained()
    finally:
        await svc.stop()
    det = svc.part("detection")
    assert isinstance(det.engine.sink, MemorySink) and det.engine.sink.total == 1
