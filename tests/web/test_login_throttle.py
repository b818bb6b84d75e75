"""Brute force against the three password doors: token login, console login, Handle Basic auth.

Each door is tried 50 times with a wrong password; the 51st try, with the right one, is
refused (429, ``Retry-After``, code ``too_many_attempts``) until the backoff has passed on
the throttle's clock, and every checked failure is in the audit log with the source as actor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from indunet import core, ids
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE

SECRET = "s3cret-key-for-tests"
HANDLE_USER = "300%3A0.NA/88.100.1"
RECORD = {"values": [{"index": 1, "type": "URL", "data": {"format": "string", "value": "x"}}]}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(state: AppState) -> Clock:
    clock = Clock()
    state.logins = core.Logins(core.Throttle(clock=clock))
    return clock


def client_at(state: AppState, address: str) -> httpx.AsyncClient:
    """A client at ``address`` over HTTPS (credentials from another host over plain HTTP are
    refused before any throttle sees them: tests/web/test_handles_http.py)."""
    transport = httpx.ASGITransport(app=create_app(state), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


@pytest.fixture
async def client(
    state: AppState, allocation: ids.Allocation, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(state, "198.51.100.7") as c:
        yield c


@pytest.fixture
def admin_password(state: AppState) -> str:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    return password


def failures(state: AppState) -> list[core.audit.AuditEntry]:
    with state.engine.connect() as conn:
        return [e for e in core.audit.entries(conn, limit=1000) if e.action == "login.failed"]


def assert_throttled(resp: httpx.Response) -> int:
    assert resp.status_code == 429, resp.text
    retry = int(resp.headers["retry-after"])
    assert retry >= 1
    return retry


async def test_token_login_locks_after_failures_until_the_backoff_passes(
    client: httpx.AsyncClient, state: AppState, clock: Clock, admin_password: str
) -> None:
    statuses = []
    for i in range(50):
        resp = await client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": f"wrong-{i}"}
        )
        statuses.append(resp.status_code)
    free = core.throttle.ACCOUNT.free
    assert statuses[: free + 1] == [401] * (free + 1)  # the last of these locks the account
    assert set(statuses[free + 1 :]) == {429}
    right = {"username": "admin", "password": admin_password}
    resp = await client.post("/api/v1/auth/token", json=right)
    retry = assert_throttled(resp)
    assert resp.json()["code"] == "too_many_attempts"
    assert resp.json()["detail"]["retry_after"] == retry
    # another address is refused too: the account itself is locked
    async with client_at(state, "203.0.113.9") as elsewhere:
        assert_throttled(await elsewhere.post("/api/v1/auth/token", json=right))
    clock.now += retry
    resp = await client.post("/api/v1/auth/token", json=right)
    assert resp.status_code == 200, resp.text
    logged = failures(state)
    # checked failures only: refused attempts cost nothing and log nothing
    assert len(logged) == free + 1
    assert {(e.actor, e.target, e.detail["via"]) for e in logged} == {
        ("source:198.51.100.7", "user:admin", "token")
    }


async def test_a_success_clears_the_account_so_a_typo_later_is_not_punished(
    client: httpx.AsyncClient, clock: Clock, admin_password: str
) -> None:
    for _ in range(core.throttle.ACCOUNT.free):
        bad = await client.post("/api/v1/auth/token", json={"username": "admin", "password": "x"})
        assert bad.status_code == 401
    ok = await client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": admin_password}
    )
    assert ok.status_code == 200
    for _ in range(core.throttle.ACCOUNT.free):
        bad = await client.post("/api/v1/auth/token", json={"username": "admin", "password": "x"})
        assert bad.status_code == 401


async def test_one_source_guessing_many_accounts_is_locked_out(
    client: httpx.AsyncClient, state: AppState, clock: Clock, admin_password: str
) -> None:
    for i in range(core.throttle.SOURCE.free + 1):
        resp = await client.post(
            "/api/v1/auth/token", json={"username": f"user{i}", "password": "guess-guess"}
        )
        assert resp.status_code == 401
    right = {"username": "admin", "password": admin_password}
    assert_throttled(await client.post("/api/v1/auth/token", json=right))
    async with client_at(state, "203.0.113.9") as elsewhere:
        assert (await elsewhere.post("/api/v1/auth/token", json=right)).status_code == 200


async def test_console_login_is_throttled_and_says_so(
    client: httpx.AsyncClient, state: AppState, clock: Clock, admin_password: str
) -> None:
    for i in range(50):
        await client.post("/login", data={"username": "admin", "password": f"wrong-{i}"})
    resp = await client.post("/login", data={"username": "admin", "password": admin_password})
    retry = assert_throttled(resp)
    assert SESSION_COOKIE not in resp.cookies
    assert str(retry) in resp.text
    clock.now += retry
    resp = await client.post("/login", data={"username": "admin", "password": admin_password})
    assert resp.status_code == 303
    assert SESSION_COOKIE in resp.cookies
    assert {e.detail["via"] for e in failures(state)} == {"console"}


async def test_handle_basic_auth_is_throttled_per_source(
    client: httpx.AsyncClient, state: AppState, clock: Clock
) -> None:
    url = "/api/handles/88.100.1/brute"
    for i in range(50):
        await client.put(url, json=RECORD, auth=(HANDLE_USER, f"wrong-{i}"))
    resp = await client.put(url, json=RECORD, auth=(HANDLE_USER, SECRET))
    retry = assert_throttled(resp)
    assert resp.json()["responseCode"] != 1
    clock.now += retry
    resp = await client.put(url, json=RECORD, auth=(HANDLE_USER, SECRET))
    assert resp.status_code == 201, resp.text
    logged = failures(state)
    assert len(logged) == core.throttle.SOURCE.free + 1
    assert {(e.actor, e.detail["via"]) for e in logged} == {("source:198.51.100.7", "handle")}


async def test_a_stranger_cannot_lock_a_prefix_key_out(
    client: httpx.AsyncClient, state: AppState, clock: Clock
) -> None:
    """``300:0.NA/<prefix>`` is public: failures from elsewhere must not refuse its owner."""
    url = "/api/handles/88.100.1/owner"
    async with client_at(state, "203.0.113.9") as stranger:
        for i in range(50):
            await stranger.put(url, json=RECORD, auth=(HANDLE_USER, f"wrong-{i}"))
        assert_throttled(await stranger.put(url, json=RECORD, auth=(HANDLE_USER, SECRET)))
    resp = await client.put(url, json=RECORD, auth=(HANDLE_USER, SECRET))
    assert resp.status_code == 201, resp.text
