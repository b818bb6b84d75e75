"""Self-registration over the web: the console's /register and POST /api/v1/registrations take
hostile input with clear 4xx answers, and the applicant's login waits for the review."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.conftest import USCC_A, USCC_B
from tests.web.test_console import log_in

from indunet import core
from indunet.core import Settings
from indunet.web import AppState, build_state, create_app
from indunet.web.guards.limits import APPLICATION_BODY

PASSWORD = "Kettle-Spout-42"
APPLICATION = {
    "name": "厦门自助注册机床有限公司",
    "uscc": USCC_A,
    "region": "福建",
    "contact": "王工",
    "contact_phone": "0592-1234567",
    "contact_email": "wang@example.cn",
    "username": "xm-admin",
    "password": PASSWORD,
}


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _form(**change: str) -> dict[str, str]:
    return {**APPLICATION, "confirm": PASSWORD, **change}


def _counts(state: AppState) -> tuple[int, int]:
    with state.engine.connect() as conn:
        return len(core.list_enterprises(conn)), len(core.list_users(conn))


async def test_the_api_applies_and_answers_201_with_the_review_state(
    client: httpx.AsyncClient, state: AppState
) -> None:
    resp = await client.post("/api/v1/registrations", json=APPLICATION)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["enterprise"]["review_state"] == "pending"
    assert body["enterprise"]["uscc"] == USCC_A
    assert (body["username"], body["role"]) == ("xm-admin", "enterprise_admin")
    again = await client.post("/api/v1/registrations", json=APPLICATION)
    assert (again.status_code, again.json()["reason"]) == (409, "user_exists")
    same_uscc = await client.post("/api/v1/registrations", json={**APPLICATION, "username": "b"})
    assert (same_uscc.status_code, same_uscc.json()["reason"]) == (409, "enterprise_exists")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"name": "x" * 201}, 422),
        ({"contact": "p" * 5000}, 422),
        ({"password": "p" * 2000}, 422),
        ({"uscc": 91350100}, 422),  # wrong type
        ({"contact_phone": ["0592"]}, 422),
        ({"role": "platform_admin"}, 422),  # no field to ask for more
        ({"uscc": "91350100M000100Y44"}, 400),
        ({"password": "password123"}, 400),
        ({"contact_phone": "", "contact_email": ""}, 400),
    ],
)
async def test_hostile_api_input_is_a_clear_4xx_and_writes_nothing(
    client: httpx.AsyncClient, state: AppState, change: dict[str, Any], status: int
) -> None:
    before = _counts(state)
    resp = await client.post("/api/v1/registrations", json={**APPLICATION, **change})
    assert resp.status_code == status, resp.text
    assert _counts(state) == before


async def test_a_body_over_the_limit_is_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    big = {**APPLICATION, "name": "x" * (1024 * 1024)}
    resp = await client.post("/api/v1/registrations", json=big)
    assert resp.status_code == 413
    assert str(APPLICATION_BODY) in resp.json()["message"].replace(",", "")
    form = await client.post("/register", data=_form(name="x" * (6 * 1024 * 1024)))
    assert form.status_code == 413


async def test_one_address_gets_five_applications_then_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    for i in range(5):
        uscc = core.make_uscc(f"913501000000{i:04d}")
        body = {**APPLICATION, "uscc": uscc, "username": f"u{i}"}
        assert (await client.post("/api/v1/registrations", json=body)).status_code == 201
    resp = await client.post("/api/v1/registrations", json={**APPLICATION, "username": "u9"})
    assert resp.status_code == 429
    assert resp.json()["reason"] == "too_many_applications"
    assert int(resp.headers["Retry-After"]) > 3000
    page = await client.post("/register", data=_form(username="u8"))  # the console shares it
    assert page.status_code == 429
    assert "Retry-After" in page.headers


async def test_the_console_form_applies_and_says_it_awaits_review(
    client: httpx.AsyncClient, state: AppState
) -> None:
    login = await client.get("/login")
    assert 'href="/register"' in login.text
    page = await client.get("/register")
    assert page.status_code == 200
    assert 'name="uscc"' in page.text
    resp = await client.post("/register", data=_form())
    assert resp.status_code == 200, resp.text
    assert "您的申请正在等待平台管理员审核" in resp.text
    assert USCC_A in resp.text


async def test_console_refusals_show_the_reason_in_the_readers_language(
    client: httpx.AsyncClient, state: AppState
) -> None:
    resp = await client.post("/register", data=_form(uscc="91350100M000100Y44"))
    assert resp.status_code == 400
    assert "校验位不正确" in resp.text
    assert 'value="厦门自助注册机床有限公司"' in resp.text  # what was typed stays
    assert PASSWORD not in resp.text  # the password is never echoed
    client.cookies.set("lang", "en")
    resp = await client.post("/register", data=_form(confirm="Something-else-42"))
    assert resp.status_code == 400
    assert "The two passwords differ." in resp.text
    long = await client.post("/register", data=_form(contact="p" * 5000))
    assert long.status_code == 422
    assert _counts(state) == (0, 0)


async def test_a_cross_site_form_is_refused(client: httpx.AsyncClient, state: AppState) -> None:
    resp = await client.post("/register", data=_form(), headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    assert resp.json()["code"] == "csrf_refused"
    assert _counts(state) == (0, 0)


async def test_switched_off_the_routes_are_404(tmp_path: Any) -> None:
    state = build_state(Settings(data_dir=tmp_path / "off", self_registration=False))
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.post("/api/v1/registrations", json=APPLICATION)).status_code == 404
        assert (await c.get("/register")).status_code == 404
        assert (await c.post("/register", data=_form())).status_code == 404
        assert 'href="/register"' not in (await c.get("/login")).text
    with state.engine.connect() as conn:
        assert core.list_enterprises(conn) == []
    state.engine.dispose()


async def _token(client: httpx.AsyncClient) -> httpx.Response:
    body = {"username": "xm-admin", "password": PASSWORD}
    return await client.post("/api/v1/auth/token", json=body)


async def test_login_waits_for_approval_and_names_the_rejection_reason(
    client: httpx.AsyncClient, state: AppState
) -> None:
    assert (await client.post("/api/v1/registrations", json=APPLICATION)).status_code == 201
    resp = await log_in(client, "xm-admin", PASSWORD)
    assert resp.status_code == 403
    assert "正在等待平台管理员审核" in resp.text
    api = await _token(client)
    assert api.status_code == 403
    assert api.json()["reason"] == "enterprise_pending_review"
    with state.engine.connect() as conn:
        ent = core.get_enterprise(conn, USCC_A)
    with state.engine.begin() as conn:
        core.enterprises.review(conn, ent.id, approve=True, reason="", actor="user:admin")
    token = (await _token(client)).json()["token"]
    mine = await client.get("/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    assert (await log_in(client, "xm-admin", PASSWORD)).status_code == 303
    client.cookies.clear()
    with state.engine.begin() as conn:
        core.enterprises.review(
            conn, ent.id, approve=False, reason="营业执照已过期", actor="user:admin"
        )
    client.cookies.set("lang", "en")
    resp = await log_in(client, "xm-admin", PASSWORD)
    assert resp.status_code == 403
    assert "was rejected: 营业执照已过期" in resp.text
    api = await _token(client)
    assert (api.json()["reason"], api.json()["params"]) == (
        "enterprise_rejected",
        {"reason": "营业执照已过期"},
    )
    stale = await client.get("/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    assert stale.status_code == 401


async def test_admins_see_pending_applications_with_their_contact(
    client: httpx.AsyncClient, state: AppState
) -> None:
    assert (await client.post("/api/v1/registrations", json=APPLICATION)).status_code == 201
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
        core.create_enterprise(conn, uscc=USCC_B, name="已核验的乙方企业", actor="t", verified=True)
    assert password is not None
    assert (await log_in(client, "admin", password)).status_code == 303
    listed = await client.get("/ids/enterprises?state=pending")
    assert "厦门自助注册机床有限公司" in listed.text
    assert "已核验的乙方企业" not in listed.text
    with state.engine.connect() as conn:
        ent = core.get_enterprise(conn, USCC_A)
    page = await client.get(f"/ids/enterprises/{ent.id}")
    assert "0592-1234567" in page.text
    assert "wang@example.cn" in page.text
    assert "企业自主注册" in page.text
