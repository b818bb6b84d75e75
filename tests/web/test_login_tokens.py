"""API tokens over HTTP: lifetimes at issue, listing without secrets, revoking by id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tests.conftest import bearer

from indunet import core
from indunet.web import AppState, create_app


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin(state: AppState) -> dict[str, str]:
    return bearer(state.engine, "root", core.Role.PLATFORM_ADMIN)


@pytest.fixture
def alice(state: AppState) -> dict[str, str]:
    return bearer(state.engine, "alice", core.Role.REGULATOR)


async def tokens(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, object]]:
    resp = await client.get("/api/v1/auth/tokens", headers=headers)
    assert resp.status_code == 200, resp.text
    body: list[dict[str, object]] = resp.json()
    return body


async def test_a_token_gets_the_lifetime_asked_for_within_the_bound(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    login = {"username": "alice", "password": "a-long-password"}
    resp = await client.post("/api/v1/auth/token", json={**login, "expires_in_days": 7})
    assert resp.status_code == 200, resp.text
    expires = datetime.fromisoformat(resp.json()["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
    resp = await client.post("/api/v1/auth/token", json=login)
    expires = datetime.fromisoformat(resp.json()["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)
    for days in (0, 366, 10**30):
        resp = await client.post("/api/v1/auth/token", json={**login, "expires_in_days": days})
        assert resp.status_code == 422, resp.text
        assert "expires_in_days" in resp.text


async def test_users_see_their_own_tokens_and_admins_everyones_never_the_secret(
    client: httpx.AsyncClient, admin: dict[str, str], alice: dict[str, str]
) -> None:
    own = await tokens(client, alice)
    assert [t["username"] for t in own] == ["alice"]
    every = await tokens(client, admin)
    assert {t["username"] for t in every} == {"alice", "root"}
    secret = alice["Authorization"].removeprefix("Bearer ")
    resp = await client.get("/api/v1/auth/tokens", headers=admin)
    assert secret not in resp.text
    assert all(
        set(t)
        == {"id", "username", "name", "kind", "created_at", "expires_at", "last_used_at", "source"}
        for t in every
    )
    only = await client.get("/api/v1/auth/tokens?username=alice", headers=admin)
    assert [t["username"] for t in only.json()] == ["alice"]


async def test_an_admin_revokes_any_token_a_user_only_their_own(
    client: httpx.AsyncClient, admin: dict[str, str], alice: dict[str, str]
) -> None:
    (root_token,) = [t for t in await tokens(client, admin) if t["username"] == "root"]
    (alice_token,) = await tokens(client, alice)
    resp = await client.delete(f"/api/v1/auth/tokens/{root_token['id']}", headers=alice)
    assert resp.status_code == 404
    assert resp.json()["code"] == "not_found"
    assert (await client.get("/api/v1/auth/tokens", headers=admin)).status_code == 200
    resp = await client.delete(f"/api/v1/auth/tokens/{alice_token['id']}", headers=admin)
    assert resp.status_code == 204
    assert (await client.get("/api/v1/auth/tokens", headers=alice)).status_code == 401


async def test_a_user_revokes_their_own_token_by_id(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    (own,) = await tokens(client, alice)
    resp = await client.delete(f"/api/v1/auth/tokens/{own['id']}", headers=alice)
    assert resp.status_code == 204
    assert (await client.get("/api/v1/auth/tokens", headers=alice)).status_code == 401


@pytest.mark.parametrize("token_id", ["0", "-1", str(2**64), "x"])
async def test_token_ids_out_of_range_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], token_id: str
) -> None:
    resp = await client.delete(f"/api/v1/auth/tokens/{token_id}", headers=admin)
    assert resp.status_code == 422
