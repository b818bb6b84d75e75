"""The platform's own events from its audit log: a failed login over the network and a
command write become security events in their enterprise; history is not replayed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from indunet import core
from indunet.core import IndunetError, audit
from indunet.security import Hub, SecurityEvent
from indunet.security.ingest.gate import SourceStats
from indunet.security.ingest.platform import AuditFollower
from indunet.web import AppState


async def test_failed_logins_and_command_writes_become_events(
    state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        audit.record(conn, "system", "user.create", "user:old", enterprise_id=None)
    got: list[SecurityEvent] = []

    async def collect(batch: Sequence[SecurityEvent]) -> None:
        got.extend(batch)

    hub = Hub()
    hub.subscribe("t", collect)
    await hub.start()
    stats = SourceStats("platform audit", "platform", "audit")
    follower = AuditFollower(state.engine, hub, stats)
    # the first poll finds the newest entry and starts there: the old one is not replayed
    # (polled by hand: start()'s own loop would race this test for the new entries)
    assert await follower.poll() == 0
    with pytest.raises(IndunetError):
        state.logins.password(state.engine, "mallory", "guess", source="203.0.113.7", via="api")
    with state.engine.begin() as conn:
        audit.record(
            conn,
            "user:operator",
            "device.write",
            "device:pump-1",
            {"property": "speed", "value": 9000},
            enterprise_id=enterprise.id,
        )
    assert await follower.poll() == 2
    await hub.drained()
    login, write = got
    assert (login.kind, login.outcome, login.action, login.severity) == (
        "auth.failure",
        "failure",
        "login",
        5,
    )
    assert (login.src_ip, login.user, login.protocol) == ("203.0.113.7", "mallory", "api")
    assert login.source == "platform" and login.id.startswith("audit-")
    assert (write.kind, write.action, write.user, write.enterprise_id) == (
        "ot.command",
        "device.write",
        "operator",
        enterprise.id,
    )
    assert write.fields["detail"] == {"property": "speed", "value": 9000}
    assert await follower.poll() == 0  # nothing twice
    assert stats.submitted == 2
    await follower.stop()
    await hub.stop()
