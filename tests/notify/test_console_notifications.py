"""The notification pages in-process: channels (create, test-send, delete, secrets never shown),
subscription rules (create, edit, delete), the delivery log (search, filters, paging),
tenancy (another enterprise's channel is 404), roles (a regulator only looks), hostile forms."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B, bearer
from tests.notify.conftest import Receiver, context

from indunet import core, notify
from indunet.core import Role
from indunet.notify import DestinationPolicy
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"
BASE = "/platform/notifications"
SIGNING_KEY = "the-signing-key-1234"


@pytest.fixture
async def client(
    state: AppState, enterprise: core.Enterprise, loopback: DestinationPolicy
) -> AsyncIterator[httpx.AsyncClient]:
    dispatcher = state.services["notify"]
    assert isinstance(dispatcher, notify.Dispatcher)
    dispatcher.store.ctx = context(loopback)  # the receiver lives on loopback
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
        for name, role, eid in (
            ("ea", Role.ENTERPRISE_ADMIN, enterprise.id),
            ("eu", Role.ENTERPRISE_USER, enterprise.id),
            ("eb", Role.ENTERPRISE_ADMIN, b.id),
            ("reg", Role.REGULATOR, None),
        ):
            core.create_user(
                conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
            )
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303, resp.text
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])


async def make_channel(client: httpx.AsyncClient, receiver: Receiver, name: str = "值班群") -> int:
    form = {
        "name": name,
        "kind": "webhook",
        "url": receiver.url("/hook-7f3a"),
        "secret": SIGNING_KEY,
    }
    resp = await client.post(f"{BASE}/channels", data=form)
    assert resp.status_code == 303, resp.text
    page = (await client.get(BASE, params={"q": name})).text
    return int(page.split('data-channel="')[1].split('"')[0])


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_pages_render_in_both_languages(client: httpx.AsyncClient, locale: str) -> None:
    await login(client, "ea")
    client.cookies.set("lang", locale)
    for path in (BASE, f"{BASE}/rules", f"{BASE}/log"):
        resp = await client.get(path)
        assert resp.status_code == 200, path
        assert "notify." not in resp.text.replace("notifications", ""), path  # no raw keys
    assert ("通道" if locale == "zh-CN" else "Channels") in (await client.get(BASE)).text


async def test_channel_create_test_send_and_delete_with_secrets_never_shown(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await login(client, "ea")
    cid = await make_channel(client, receiver)
    page = (await client.get(BASE)).text
    assert "值班群" in page and "http://127.0.0.1:" in page
    assert SIGNING_KEY not in page and "hook-7f3a" not in page  # the key and the URL's path
    resp = await client.post(f"{BASE}/channels/{cid}/test")
    assert resp.status_code == 303 and resp.headers["location"] == BASE  # post-redirect-get
    shown = await client.get(resp.headers["location"])
    assert 'id="test-sent"' in shown.text and "值班群" in shown.text
    assert 'id="test-sent"' not in (await client.get(BASE)).text  # shown once
    (hit,) = receiver.hits
    assert hit.headers["x-indunet-signature"].startswith("sha256=")
    log = (await client.get(f"{BASE}/log", params={"kind": "test"})).text
    assert 'data-status="sent"' in log
    receiver.status = 500
    failed = await client.post(f"{BASE}/channels/{cid}/test")
    assert failed.status_code == 303
    page = (await client.get(failed.headers["location"])).text
    assert "接收地址返回了 HTTP 500，未接受消息。" in page and 'id="test-sent"' not in page
    log = (await client.get(f"{BASE}/log", params={"status": "failed"})).text
    assert "接收地址返回了 HTTP 500，未接受消息。" in log
    assert len(receiver.hits) == 2
    assert (await client.post(f"{BASE}/channels/{cid}/delete")).status_code == 303
    assert "值班群" not in (await client.get(BASE)).text


async def test_another_enterprises_channel_and_rule_are_not_found(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await login(client, "ea")
    cid = await make_channel(client, receiver)
    rule = {"name": "r", "channel_id": str(cid), "kinds": "alarm.raised", "zone": "UTC"}
    assert (await client.post(f"{BASE}/rules", data=rule)).status_code == 303
    rid = int((await client.get(f"{BASE}/rules")).text.split('data-rule="')[1].split('"')[0])
    await login(client, "eb")
    assert "值班群" not in (await client.get(BASE)).text
    assert (await client.post(f"{BASE}/channels/{cid}/test")).status_code == 404
    assert (await client.post(f"{BASE}/channels/{cid}/delete")).status_code == 404
    assert (await client.get(f"{BASE}/rules/{rid}")).status_code == 404
    assert (await client.post(f"{BASE}/rules/{rid}/delete")).status_code == 404
    assert (await client.post(f"{BASE}/rules", data=rule)).status_code == 404  # their channel
    assert receiver.hits == []


async def test_roles_regulators_look_users_subscribe_themselves(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await login(client, "ea")
    cid = await make_channel(client, receiver)
    await login(client, "reg")
    assert "值班群" in (await client.get(BASE)).text  # overseers see every enterprise
    form = {"name": "x", "kind": "webhook", "url": receiver.url("/h"), "secret": SIGNING_KEY}
    assert (await client.post(f"{BASE}/channels", data=form)).status_code == 403
    assert (await client.post(f"{BASE}/channels/{cid}/delete")).status_code == 403
    await login(client, "eu")
    assert (await client.post(f"{BASE}/channels", data=form)).status_code == 403
    rule = {"name": "mine", "channel_id": str(cid), "kinds": "device.offline", "zone": "UTC"}
    assert (await client.post(f"{BASE}/rules", data=rule)).status_code == 403  # not personal
    assert (await client.post(f"{BASE}/rules", data=rule | {"personal": "1"})).status_code == 303
    page = (await client.get(f"{BASE}/rules")).text
    rid = int(page.split('data-rule="')[1].split('"')[0])
    edit = rule | {"name": "mine, renamed", "min_severity": "critical"}
    assert (await client.post(f"{BASE}/rules/{rid}", data=edit)).status_code == 303
    assert "mine, renamed" in (await client.get(f"{BASE}/rules/{rid}")).text
    assert (await client.post(f"{BASE}/rules/{rid}/delete")).status_code == 303


@pytest.mark.parametrize(
    ("form", "text"),
    [
        ({"kind": "webhook", "url": "http://10.0.0.1/x", "secret": SIGNING_KEY}, "10.0.0.1"),
        ({"kind": "webhook", "url": "https://example.com/x", "secret": "short"}, "16"),
        ({"kind": "carrier-pigeon"}, "kind"),
        (
            {"kind": "email", "host": "smtp.example.com", "sender": "nobody", "to": "a@b.cn"},
            "nobody",
        ),
        (
            {"kind": "email", "host": "smtp.example.com", "sender": "a@b.cn", "to": "x@y.cn," * 30},
            "20",
        ),
        (
            {"kind": "email", "host": "h", "port": "99999", "sender": "a@b.cn", "to": "a@b.cn"},
            "99999",
        ),
        ({"kind": "wecom", "url": "https://example.com/" + "x" * 6000}, "5000"),
        ({"kind": "email", "host": "h", "sender": "a@b.cn", "to": "x" * 6000}, "5000"),
        (
            {"kind": "webhook", "url": "https://example.com/x", "secret": SIGNING_KEY, "name": ""},
            "",
        ),
    ],
)
async def test_hostile_channel_forms_are_4xx_naming_the_problem(
    client: httpx.AsyncClient, form: dict[str, str], text: str
) -> None:
    await login(client, "ea")
    resp = await client.post(f"{BASE}/channels", data={"name": "n"} | form)
    assert 400 <= resp.status_code < 500, resp.text
    assert 'role="alert"' in resp.text and text in resp.text
    assert 'data-channel="' not in resp.text  # nothing was made


async def test_a_platform_admin_names_an_enterprise_or_none(
    state: AppState, client: httpx.AsyncClient, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    client.cookies.clear()
    await client.post("/login", data={"username": "admin", "password": password})
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])
    form = {"name": "p", "kind": "webhook", "url": "https://example.com/x", "secret": SIGNING_KEY}
    for eid, status in (("x", 400), ("99999", 404), ("9" * 30, 400), (str(enterprise.id), 303)):
        resp = await client.post(f"{BASE}/channels", data=form | {"enterprise_id": eid})
        assert resp.status_code == status, eid
    resp = await client.post(f"{BASE}/channels", data=form | {"name": "platform-wide"})
    assert resp.status_code == 303
    page = (await client.get(BASE)).text
    assert "platform-wide" in page and "平台（全部企业）" in page


async def test_duplicate_names_conflict_and_hostile_rules_are_refused(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await login(client, "ea")
    cid = await make_channel(client, receiver)
    dup = {"name": "值班群", "kind": "webhook", "url": receiver.url("/x"), "secret": SIGNING_KEY}
    assert (await client.post(f"{BASE}/channels", data=dup)).status_code == 409
    base = {"name": "r", "channel_id": str(cid), "kinds": "alarm.raised", "zone": "UTC"}
    for change in (
        {"channel_id": "abc"},
        {"channel_id": "99999999999999999999999"},
        {"kinds": "evil"},
        {"zone": "Nowhere/Land"},
        {"quiet_start": "99:99", "quiet_end": "01:00"},
        {"devices_mode": "list", "devices": ""},
    ):
        resp = await client.post(f"{BASE}/rules", data=base | change)
        assert 400 <= resp.status_code < 500, change
    assert 'data-rule="' not in (await client.get(f"{BASE}/rules")).text
    for path in (f"{BASE}/rules/0", f"{BASE}/rules/abc", f"{BASE}/rules/99999"):
        assert (await client.get(path)).status_code in (404, 422), path


async def test_log_search_filters_and_paging_hold_with_many_rows(
    state: AppState, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await login(client, "ea")
    cid = await make_channel(client, receiver)
    store = state.services["notify"].store  # type: ignore[attr-defined]
    info = store.open_channel(cid)[0]
    for i in range(45):
        kind = "alarm.raised" if i % 3 else "device.offline"
        row = store.log(None, info, kind, f"pump-{i}", f"subject {i}", 1)
        store.logged(row, "sent" if i % 2 else "failed", 1, None if i % 2 else "boom")
    page = (await client.get(f"{BASE}/log", params={"size": "20"})).text
    assert page.count('data-delivery="') == 20 and "subject 44" in page
    two = (await client.get(f"{BASE}/log", params={"page": "3"})).text
    assert two.count('data-delivery="') == 5
    failed = (await client.get(f"{BASE}/log", params={"status": "failed", "size": "50"})).text
    assert failed.count('data-delivery="') == 23 and 'data-status="sent"' not in failed
    offline = (
        await client.get(f"{BASE}/log", params={"kind": "device.offline", "size": "50"})
    ).text
    assert offline.count('data-delivery="') == 15
    found = (await client.get(f"{BASE}/log", params={"q": "pump-17"})).text
    assert found.count('data-delivery="') == 1
    odd = await client.get(
        f"{BASE}/log",
        params={"status": "<x>", "kind": "'", "channel_id": "-1", "page": "-5", "q": "%_\\" * 80},
    )
    assert odd.status_code == 200
    by_channel = await client.get(f"{BASE}/log", params={"channel_id": str(cid), "size": "50"})
    assert by_channel.text.count('data-delivery="') == 45
    await login(client, "eb")
    assert 'data-delivery="' not in (await client.get(f"{BASE}/log")).text
    assert (await client.get(f"{BASE}/log", params={"channel_id": str(cid)})).status_code == 404


async def test_metrics_count_messages(client: httpx.AsyncClient, receiver: Receiver) -> None:
    text = (await client.get("/metrics")).text
    assert 'indunet_notify_messages_total{outcome="sent"} 0' in text
    assert "indunet_notify_open_groups 0" in text


async def test_the_read_api_lists_without_secrets_and_scopes_by_enterprise(
    state: AppState, client: httpx.AsyncClient, receiver: Receiver, enterprise: core.Enterprise
) -> None:
    await login(client, "ea")
    cid = await make_channel(client, receiver)
    await client.post(f"{BASE}/channels/{cid}/test")
    client.cookies.clear()
    mine = bearer(state.engine, "api-a", Role.ENTERPRISE_USER, enterprise.id)
    channels = (await client.get("/api/v1/notify/channels", headers=mine)).json()
    assert channels["total"] == 1 and "secret" not in channels["items"][0]
    assert SIGNING_KEY not in str(channels) and "hook-7f3a" not in str(channels)
    log = await client.get("/api/v1/notify/deliveries", params={"channel_id": cid}, headers=mine)
    assert log.status_code == 200 and log.json()["items"][0]["status"] == "sent"
    assert log.json()["items"][0]["created_at"].endswith("+00:00")
    with state.engine.connect() as conn:
        other = next(e for e in core.list_enterprises(conn) if e.id != enterprise.id)
    theirs = bearer(state.engine, "api-b", Role.ENTERPRISE_USER, other.id)
    assert (await client.get("/api/v1/notify/channels", headers=theirs)).json()["total"] == 0
    refused = await client.get(
        "/api/v1/notify/deliveries", params={"channel_id": cid}, headers=theirs
    )
    assert refused.status_code == 404
    for bad in ({"limit": "0"}, {"offset": "-1"}, {"q": "x" * 101}, {"channel_id": "0"}):
        resp = await client.get("/api/v1/notify/deliveries", params=bad, headers=mine)
        assert resp.status_code in (400, 422), bad


async def test_a_closed_mail_port_reads_as_refused_in_both_languages(
    client: httpx.AsyncClient,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await login(client, "ea")
    form = {
        "name": "邮件",
        "kind": "email",
        "host": "127.0.0.1",
        "port": str(port),
        "security": "starttls",
        "sender": "a@example.com",
        "to": "b@example.com",
    }
    assert (await client.post(f"{BASE}/channels", data=form)).status_code == 303
    page = (await client.get(BASE, params={"q": "邮件"})).text
    cid = int(page.split('data-channel="')[1].split('"')[0])
    sent = await client.post(f"{BASE}/channels/{cid}/test")
    assert sent.status_code == 303
    zh = (await client.get(sent.headers["location"])).text
    assert f"127.0.0.1 的端口 {port} 拒绝连接" in zh
    assert "Errno" not in zh and "ConnectionRefusedError" not in zh
    client.cookies.set("lang", "en")
    log = (await client.get(f"{BASE}/log")).text
    assert f"127.0.0.1 refused the connection on port {port}" in log and "Errno" not in log
