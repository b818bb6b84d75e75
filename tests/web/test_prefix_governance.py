"""Prefix governance over the API: apply → review → renew → rotate → revoke, each step by the
role the access rule allows, hostile input answered with a clear 4xx that writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import USCC_B, bearer

from indunet import core
from indunet.core import Role
from indunet.ids import prefixes
from indunet.ids.tables import prefixes as prefix_table
from indunet.web import AppState, create_app

APPS = "/api/v1/prefix-applications"
VALUE = {
    "values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://a.example/1"}}
    ]
}


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def who(state: AppState, enterprise: core.Enterprise) -> dict[str, dict[str, str]]:
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙方", actor="t", verified=True)
    return {
        "ops": bearer(state.engine, "ops", Role.PLATFORM_ADMIN),
        "reg": bearer(state.engine, "reg", Role.REGULATOR),
        "ent": bearer(state.engine, "ent-admin", Role.ENTERPRISE_ADMIN, enterprise.id),
        "ent_user": bearer(state.engine, "ent-user", Role.ENTERPRISE_USER, enterprise.id),
        "other": bearer(state.engine, "other-admin", Role.ENTERPRISE_ADMIN, other.id),
    }


async def _apply(c: httpx.AsyncClient, headers: dict[str, str], prefix: str = "88.100.7") -> Any:
    resp = await c.post(APPS, json={"prefix": prefix, "purpose": "产品追溯"}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_apply_review_renew_rotate_revoke(
    client: httpx.AsyncClient, state: AppState, who: dict[str, dict[str, str]]
) -> None:
    app = await _apply(client, who["ent"])
    assert app["state"] == "pending" and app["kind"] == "new"
    listed = await client.get(APPS, params={"state": "pending"}, headers=who["ops"])
    assert listed.headers["X-Total-Count"] == "1" and listed.json()[0]["id"] == app["id"]
    # the enterprise may not approve itself; a regulator reads but does not review
    for role in ("ent", "reg"):
        refused = await client.post(f"{APPS}/{app['id']}/approve", json={}, headers=who[role])
        assert refused.status_code == 403
    ok = await client.post(f"{APPS}/{app['id']}/approve", json={}, headers=who["ops"])
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    assert "secret" not in ok.text  # the operator never sees the enterprise's key
    mine = (await client.get("/api/v1/prefixes", headers=who["ent"])).json()
    assert [p["prefix"] for p in mine] == ["88.100.7"] and mine[0]["lapsed"] is False
    assert mine[0]["expires_at"] is not None

    # the enterprise takes its key by rotating it; the key writes identifiers
    first = await client.post("/api/v1/prefixes/88.100.7/rotate-key", headers=who["ent"])
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    key = first.json()["secret"]
    user = "300%3A0.NA/88.100.7"
    put = await client.put("/api/handles/88.100.7/a-1", json=VALUE, auth=(user, key))
    assert put.status_code == 201, put.text
    second = await client.post("/api/v1/prefixes/88.100.7/rotate-key", headers=who["ops"])
    new_key = second.json()["secret"]
    assert new_key != key
    old = await client.put("/api/handles/88.100.7/a-2", json=VALUE, auth=(user, key))
    assert old.status_code == 401  # the old key stopped working at once
    new = await client.put("/api/handles/88.100.7/a-2", json=VALUE, auth=(user, new_key))
    assert new.status_code == 201

    # lapsed: resolves, refuses writes; a renewal approved lifts it
    with state.engine.begin() as conn:
        conn.execute(
            prefix_table.update().values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )
    prefixes.load_revoked(state.engine, state.hierarchy.nodes.values())
    assert (await client.get("/api/handles/88.100.7/a-1")).status_code == 200
    lapsed = await client.put("/api/handles/88.100.7/a-3", json=VALUE, auth=(user, new_key))
    assert lapsed.status_code == 403 and "renewed" in lapsed.json()["message"], lapsed.text
    renewal = await client.post(
        "/api/v1/prefixes/88.100.7/renewals", json={"purpose": "续用"}, headers=who["ent"]
    )
    assert renewal.status_code == 201 and renewal.json()["kind"] == "renew"
    done = await client.post(f"{APPS}/{renewal.json()['id']}/approve", json={}, headers=who["ops"])
    assert done.status_code == 200
    until = datetime.fromisoformat(done.json()["expires_at"])
    assert until - datetime.now(UTC) > timedelta(days=state.settings.prefix_term_days - 1)
    again = await client.put("/api/handles/88.100.7/a-3", json=VALUE, auth=(user, new_key))
    assert again.status_code == 201

    # revocation: an enterprise may not; the operator must give a reason
    nope = await client.post(
        "/api/v1/prefixes/88.100.7/revoke", json={"reason": "x"}, headers=who["ent"]
    )
    assert nope.status_code == 403
    bare = await client.post(
        "/api/v1/prefixes/88.100.7/revoke", json={"reason": ""}, headers=who["ops"]
    )
    assert (bare.status_code, bare.json()["reason"]) == (400, "revoke_reason_needed")
    gone = await client.post(
        "/api/v1/prefixes/88.100.7/revoke", json={"reason": "冒用他人名义"}, headers=who["ops"]
    )
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    assert (await client.get("/api/handles/88.100.7/a-1")).status_code == 404
    dead = await client.put("/api/handles/88.100.7/a-4", json=VALUE, auth=(user, new_key))
    assert dead.status_code in (401, 404)
    after = await client.post("/api/v1/prefixes/88.100.7/rotate-key", headers=who["ent"])
    assert (after.status_code, after.json()["reason"]) == (409, "prefix_revoked")
    with state.engine.connect() as conn:
        actions = [e.action for e in core.audit.entries(conn, limit=200)]
    for action in (
        "prefix.apply",
        "prefix.approve",
        "prefix.allocate",
        "prefix.rotate_key",
        "prefix.apply_renewal",
        "prefix.renew",
        "prefix.revoke",
    ):
        assert action in actions, action


async def test_a_rejection_shows_its_reason_to_the_enterprise(
    client: httpx.AsyncClient, who: dict[str, dict[str, str]]
) -> None:
    app = await _apply(client, who["ent"])
    bare = await client.post(f"{APPS}/{app['id']}/reject", json={}, headers=who["ops"])
    assert (bare.status_code, bare.json()["reason"]) == (400, "prefix_application_text")
    no = await client.post(
        f"{APPS}/{app['id']}/reject", json={"reason": "前缀号段保留"}, headers=who["ops"]
    )
    assert no.status_code == 200
    seen = await client.get(f"{APPS}/{app['id']}", headers=who["ent"])
    assert seen.json()["state"] == "rejected" and seen.json()["reason"] == "前缀号段保留"
    twice = await client.post(f"{APPS}/{app['id']}/approve", json={}, headers=who["ops"])
    assert (twice.status_code, twice.json()["reason"]) == (409, "prefix_application_state")


async def test_another_enterprise_sees_nothing_of_an_application(
    client: httpx.AsyncClient, who: dict[str, dict[str, str]]
) -> None:
    app = await _apply(client, who["ent"])
    assert (await client.get(f"{APPS}/{app['id']}", headers=who["other"])).status_code == 404
    assert (await client.get(f"{APPS}/987654", headers=who["other"])).status_code == 404
    theirs = await client.get(APPS, headers=who["other"])
    assert theirs.json() == [] and theirs.headers["X-Total-Count"] == "0"
    assert (await client.get(APPS, headers=who["reg"])).headers["X-Total-Count"] == "1"


async def test_only_verified_enterprises_and_their_admins_apply(
    client: httpx.AsyncClient, state: AppState, who: dict[str, dict[str, str]]
) -> None:
    with state.engine.begin() as conn:
        pending = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA0ABCDE"), name="未核验", actor="t"
        )
    unverified = bearer(state.engine, "new-admin", Role.ENTERPRISE_ADMIN, pending.id)
    body = {"prefix": "88.100.8", "purpose": "x"}
    resp = await client.post(APPS, json=body, headers=unverified)
    assert (resp.status_code, resp.json()["reason"]) == (403, "enterprise_unverified")
    assert (await client.post(APPS, json=body, headers=who["ent_user"])).status_code == 403
    assert (await client.post(APPS, json=body, headers=who["reg"])).status_code == 403
    no_ent = await client.post(APPS, json=body, headers=who["ops"])
    assert (no_ent.status_code, no_ent.json()["reason"]) == (400, "prefix_application_enterprise")
    assert (await client.get(APPS, headers=who["ops"])).headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"prefix": "88.100.7"}, 422),  # no purpose
        ({"prefix": "88.100.7", "purpose": "x" * 501}, 422),
        ({"prefix": 88100, "purpose": "x"}, 422),
        ({"prefix": "88.100.7", "purpose": "x", "state": "approved"}, 422),
        ({"prefix": "88.100.7", "purpose": "x", "enterprise_id": 2**70}, 422),
        ({"prefix": "88.200.1", "purpose": "x"}, 404),  # not under the node (not responsible)
        ({"prefix": "88.100.7", "purpose": "  "}, 400),
        ({"prefix": "88.100.7", "purpose": "a\x07b"}, 400),
        ({"prefix": "x" * 129, "purpose": "x"}, 422),
    ],
)
async def test_hostile_applications_are_4xx_and_write_nothing(
    client: httpx.AsyncClient,
    who: dict[str, dict[str, str]],
    body: dict[str, Any],
    status: int,
) -> None:
    resp = await client.post(APPS, json=body, headers=who["ent"])
    assert resp.status_code == status, resp.text
    assert (await client.get(APPS, headers=who["ops"])).headers["X-Total-Count"] == "0"


async def test_hostile_list_parameters_are_422(
    client: httpx.AsyncClient, who: dict[str, dict[str, str]]
) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"state": "x"}, {"offset": -1}, {"q": "q" * 101}):
        assert (await client.get(APPS, params=params, headers=who["ops"])).status_code == 422
    for path in (f"{APPS}/0", f"{APPS}/{2**64}", f"{APPS}/x"):
        assert (await client.get(path, headers=who["ops"])).status_code == 422
