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


async def test_password_guessing_then_a_success_raise_the_console_auth_rules(
    state: AppState, enterprise: core.Enterprise
) -> None:
    from tests.web.test_console_platform import PASSWORD, add_user

    from indunet.security.detect import Context, Engine, MemorySink, builtin_files, load_ruleset

    add_user(state, "operator", core.Role.ENTERPRISE_USER, enterprise.id)
    got: list[SecurityEvent] = []

    async def collect(batch: Sequence[SecurityEvent]) -> None:
        got.extend(batch)

    hub = Hub()
    hub.subscribe("t", collect)
    await hub.start()
    follower = AuditFollower(state.engine, hub, SourceStats("platform audit", "platform", "audit"))
    assert await follower.poll() == 0
    # ten wrong passwords from one address, over two accounts (each account locks after
    # five, the address after twenty), then the operator's own password from it
    for account in ("operator", "admin"):
        for _ in range(5):
            with pytest.raises(IndunetError):
                state.logins.password(
                    state.engine, account, "guess", source="203.0.113.7", via="console"
                )
    state.logins.password(state.engine, "operator", PASSWORD, source="203.0.113.7", via="console")
    assert await follower.poll() == 11
    await hub.drained()
    await hub.stop()
    success = got[-1]
    assert (success.kind, success.outcome, success.user, success.src_ip) == (
        "auth.success",
        "success",
        "operator",
        "203.0.113.7",
    )
    assert success.enterprise_id is None  # the installation's, as the failures are
    assert {e.fields["target"] for e in got} == {"console"}
    assert got[0].fields["account"] == "user:operator"
    engine = Engine(load_ruleset(builtin_files()), MemorySink(), Context())
    fired = [a.rule for a in engine.process(got)]
    assert fired == ["auth.bruteforce", "auth.success-after-failures"]


async def test_an_account_guessed_from_many_addresses_is_locked_and_raises_the_lockout_rule(
    state: AppState, enterprise: core.Enterprise
) -> None:
    from tests.web.test_console_platform import add_user

    from indunet.security.detect import Context, Engine, MemorySink, builtin_files, load_ruleset

    add_user(state, "operator", core.Role.ENTERPRISE_USER, enterprise.id)
    got: list[SecurityEvent] = []

    async def collect(batch: Sequence[SecurityEvent]) -> None:
        got.extend(batch)

    hub = Hub()
    hub.subscribe("t", collect)
    await hub.start()
    follower = AuditFollower(state.engine, hub, SourceStats("platform audit", "platform", "audit"))
    assert await follower.poll() == 0
    # one wrong password from each of six addresses: no source guesses much, the account
    # is locked at the sixth (five failures are free)
    for n in range(6):
        with pytest.raises(IndunetError):
            state.logins.password(
                state.engine, "operator", "guess", source=f"198.51.100.{n + 1}", via="console"
            )
    assert await follower.poll() == 7
    await hub.drained()
    await hub.stop()
    locked = [e for e in got if e.kind == "auth.lockout"]
    assert len(locked) == 1
    (lock,) = locked
    assert (lock.outcome, lock.action, lock.user, lock.src_ip, lock.severity) == (
        "failure",
        "lockout",
        "operator",
        "198.51.100.6",
        6,
    )
    assert lock.fields["target"] == "console" and lock.fields["locked"] == "account"
    assert lock.fields["seconds"] == 1
    engine = Engine(load_ruleset(builtin_files()), MemorySink(), Context())
    assert [a.rule for a in engine.process(got)] == ["auth.lockout"]
