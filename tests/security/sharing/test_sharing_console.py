"""The threat-sharing page: collections per reader, the bundle download (valid STIX to the
OASIS validator), feeds for overseers, the feed form for platform admins, refusals named."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import sqlalchemy as sa
from stix2validator import ValidationOptions, validate_instance
from tests.conftest import USCC_B
from tests.security.sharing.stixdata import Match, alert

from indunet import core
from indunet.core import Role
from indunet.security import Security
from indunet.security.sharing import Outcome, publish
from indunet.security.sharing.puller import Puller
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"
BASE = "/security/sharing"


@pytest.fixture
async def client(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[httpx.AsyncClient]:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂专属", actor="t", verified=True)
        for name, role, eid in (
            ("root", Role.PLATFORM_ADMIN, None),
            ("reg", Role.REGULATOR, None),
            ("eu", Role.ENTERPRISE_USER, enterprise.id),
            ("eb", Role.ENTERPRISE_ADMIN, b.id),
        ):
            core.create_user(
                conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
            )
    publish(state.engine, b.id, [alert(9, enterprise_id=b.id)])
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303, resp.text
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])


async def test_an_enterprise_user_sees_and_downloads_its_own_collection(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    report = publish(state.engine, enterprise.id, [alert(1), alert(2)], [Match()])
    again = publish(state.engine, enterprise.id, [alert(1), alert(2)], [Match()])
    assert again.count(Outcome.SAME) == len(report.results)  # publishing again: no change
    await login(client, "eu")
    page = await client.get(BASE, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert enterprise.name in page.text and "乙厂专属" not in page.text
    assert 'id="feeds"' not in page.text and 'id="feed-form"' not in page.text
    assert "/taxii2/api1/collections/" in page.text
    got = await client.get(f"{BASE}/export")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/stix+json;version=2.1"
    assert "attachment" in got.headers["content-disposition"]
    bundle = orjson.loads(got.content)
    assert len(bundle["objects"]) == len(report.results)
    assert validate_instance(bundle, ValidationOptions(version="2.1")).is_valid
    # the own collection only: naming B's enterprise is 404, as a missing one
    with state.engine.connect() as conn:
        b = core.get_enterprise(conn, USCC_B)
    assert (await client.get(f"{BASE}/export", params={"enterprise_id": b.id})).status_code == 404


async def test_platform_admins_add_and_delete_feeds(client: httpx.AsyncClient) -> None:
    await login(client, "root")
    page = await client.get(BASE)
    assert "乙厂专属" in page.text and 'id="no-feeds"' in page.text
    form = {"name": "CERT feed", "api_root": "https://taxii.example.org/api1",
            "remote_collection": "abc-123", "username": "u", "password": "s3cret-pass",
            "interval_s": "600"}  # fmt: skip
    made = await client.post(f"{BASE}/feeds", data=form)
    assert made.status_code == 303
    page = await client.get(BASE)
    assert "CERT feed" in page.text and "https://taxii.example.org/api1/" in page.text
    assert "s3cret-pass" not in page.text
    refused = await client.post(
        f"{BASE}/feeds", data=form | {"api_root": "http://10.0.0.5/api1/"},
        headers={"Accept-Language": "zh-CN"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert "被拒绝" in refused.text and "s3cret-pass" not in refused.text
    bad = await client.post(f"{BASE}/feeds", data=form | {"interval_s": "5"})
    assert bad.status_code == 400
    feed_id = page.text.split('data-feed="')[1].split('"')[0]
    await login(client, "reg")
    page = await client.get(BASE)
    assert "CERT feed" in page.text and 'id="feed-form"' not in page.text
    assert (await client.post(f"{BASE}/feeds/delete", data={"feed": feed_id})).status_code == 403
    await login(client, "eb")
    assert (await client.post(f"{BASE}/feeds/delete", data={"feed": feed_id})).status_code == 404
    assert (await client.post(f"{BASE}/feeds", data=form)).status_code == 404
    await login(client, "root")
    gone = await client.post(f"{BASE}/feeds/delete", data={"feed": feed_id})
    assert gone.status_code == 303
    assert "CERT feed" not in (await client.get(BASE)).text
    assert (await client.post(f"{BASE}/feeds/delete", data={"feed": "x"})).status_code == 400


async def test_platform_admins_edit_and_pause_a_feed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    from indunet.security.sharingtables import feeds as feed_rows

    await login(client, "root")
    form = {"name": "CERT feed", "api_root": "https://taxii.example.org/api1",
            "remote_collection": "abc-123", "username": "u", "password": "s3cret-pass",
            "interval_s": "600"}  # fmt: skip
    assert (await client.post(f"{BASE}/feeds", data=form)).status_code == 303
    page = await client.get(BASE)
    feed_id = page.text.split('data-feed="')[1].split('"')[0]
    with state.engine.connect() as conn:
        sealed = conn.execute(sa.select(feed_rows.c.secret)).scalar_one()
    editing = await client.get(BASE, params={"edit": feed_id})
    assert editing.status_code == 200 and f'action="{BASE}/feeds/{feed_id}/edit"' in editing.text
    assert 'value="abc-123"' in editing.text and "s3cret-pass" not in editing.text
    assert (await client.get(BASE, params={"edit": "987654"})).status_code == 404
    # paused, a longer interval, the password left empty: the stored one is kept
    changed = await client.post(
        f"{BASE}/feeds/{feed_id}/edit", data=form | {"password": "", "interval_s": "7200"}
    )
    assert changed.status_code == 303 and "changed=1" in changed.headers["location"]
    page = await client.get(changed.headers["location"])
    assert 'id="feed-changed"' in page.text and 'data-paused="1"' in page.text
    with state.engine.connect() as conn:
        row = conn.execute(sa.select(feed_rows)).one()
    assert (row.interval_s, row.enabled, row.secret) == (7200, False, sealed)
    bad = await client.post(f"{BASE}/feeds/{feed_id}/edit", data=form | {"interval_s": "5"})
    assert bad.status_code == 400 and f'action="{BASE}/feeds/{feed_id}/edit"' in bad.text
    resumed = await client.post(f"{BASE}/feeds/{feed_id}/edit", data=form | {"enabled": "1"})
    assert resumed.status_code == 303
    with state.engine.connect() as conn:
        assert conn.execute(sa.select(feed_rows.c.enabled)).scalar_one() is True
    await login(client, "eb")
    assert (await client.post(f"{BASE}/feeds/{feed_id}/edit", data=form)).status_code == 404


async def test_the_service_runs_the_puller(state: AppState) -> None:
    svc = state.services["security"]
    assert isinstance(svc, Security) and isinstance(svc.part("sharing"), Puller)
