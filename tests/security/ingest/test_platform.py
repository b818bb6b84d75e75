"""The platform's own events from its audit log: a failed login over the network and a
command write become security events in their enterprise; history is not replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from indunet import core
from indunet.core import IndunetError, audit
from indunet.security import Hub, SecurityEvent
from indunet.security.detect import Context, Engine, MemorySink, builtin_files, load_ruleset
from indunet.security.ingest.gate import SourceStats
from indunet.security.ingest.platform import AuditFollower
from indunet.web import AppState


class Followed:
    """An audit follower feeding a hub, and every event the hub handed on."""

    def __init__(self, state: AppState) -> None:
        self.got: list[SecurityEvent] = []
        self.hub = Hub()
        self.stats = SourceStats("platform audit", "platform", "audit")
        self.follower = AuditFollower(state.engine, self.hub, self.stats)

        async def collect(batch: Sequence[SecurityEvent]) -> None:
            self.got.extend(batch)

        self.hub.subscribe("t", collect)

    async def poll(self) -> int:
        """New entries read (polled by hand: start()'s own loop would race the test), once
        the hub has handed their events on."""
        n = await self.follower.poll()
        await self.hub.drained()
        return n


@asynccontextmanager
async def followed(state: AppState) -> AsyncIterator[Followed]:
    f = Followed(state)
    await f.hub.start()
    try:
        # the first poll finds the newest entry and starts there: history is not replayed
        assert await f.poll() == 0
        yield f
    finally:
        await f.follower.stop()
        await f.hub.stop()


def fired(events: list[SecurityEvent]) -> list[str]:
    """The built-in rules ``events`` raise."""
    engine = Engine(load_ruleset(builtin_files()), MemorySink(), Context())
    return [a.rule for a in engine.process(events)]


async def test_failed_logins_and_command_writes_become_events(
    state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        audit.record(conn, "system", "user.create", "user:old", enterprise_id=None)
    async with followed(state) as f:  # the old entry is not replayed
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
        assert await f.poll() == 2
        login, write = f.got
        assert await f.poll() == 0  # nothing twice
        assert f.stats.submitted == 2
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


async def test_password_guessing_then_a_success_raise_the_console_auth_rules(
    state: AppState, enterprise: core.Enterprise
) -> None:
    from tests.web.test_console_platform import PASSWORD, add_user

    add_user(state, "operator", core.Role.ENTERPRISE_USER, enterprise.id)
    async with followed(state) as f:
        # ten wrong passwords from one address, over two accounts (each account locks after
        # five, the address after twenty), then the operator's own password from it
        for account in ("operator", "admin"):
            for _ in range(5):
                with pytest.raises(IndunetError):
                    state.logins.password(
                        state.engine, account, "guess", source="203.0.113.7", via="console"
                    )
        state.logins.password(
            state.engine, "operator", PASSWORD, source="203.0.113.7", via="console"
        )
        assert await f.poll() == 11
    got = f.got
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
    assert fired(got) == ["auth.bruteforce", "auth.success-after-failures"]


async def test_an_account_guessed_from_many_addresses_is_locked_and_raises_the_lockout_rule(
    state: AppState, enterprise: core.Enterprise
) -> None:
    from tests.web.test_console_platform import add_user

    add_user(state, "operator", core.Role.ENTERPRISE_USER, enterprise.id)
    async with followed(state) as f:
        # one wrong password from each of six addresses: no source guesses much, the account
        # is locked at the sixth (five failures are free)
        for n in range(6):
            with pytest.raises(IndunetError):
                state.logins.password(
                    state.engine, "operator", "guess", source=f"198.51.100.{n + 1}", via="console"
                )
        assert await f.poll() == 7
    locked = [e for e in f.got if e.kind == "auth.lockout"]
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
    assert fired(f.got) == ["auth.lockout"]
