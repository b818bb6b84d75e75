"""CSRF: cookie-authenticated changes from another origin, or without the session's token, are
refused; the console's own forms and token-authenticated API calls keep working."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from indunet import core
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.pages import TEMPLATE_DIR
from indunet.web.csrf import FIELD, HEADER, csrf_token

from ..conftest import USCC_B, bearer

SITE = "http://testserver"
OTHER_PORT = "http://testserver:8081"  # another port of the same host is another origin


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url=SITE) as c:
        yield c


@pytest.fixture
async def admin(client: httpx.AsyncClient, state: AppState) -> httpx.AsyncClient:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    resp = await client.post("/login", data={"username": "admin", "password": password})
    assert resp.status_code == 303 and SESSION_COOKIE in client.cookies
    return client


def enterprises(state: AppState) -> list[str]:
    with state.engine.connect() as conn:
        return [e.uscc for e in core.list_enterprises(conn)]


def form(**extra: str) -> dict[str, str]:
    return {"uscc": USCC_B, "name": "杭州示例泵业", **extra}


def token_of(client: httpx.AsyncClient) -> str:
    return csrf_token(client.cookies[SESSION_COOKIE])


async def test_a_cross_origin_form_post_with_the_session_cookie_is_refused(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    # What the hidden form on another port sent: the cookie rides along, and even the right
    # token would not help (the attacker cannot know it, but the Origin check stands alone).
    resp = await admin.post(
        "/ids/enterprises", data=form(csrf_token=token_of(admin)), headers={"Origin": OTHER_PORT}
    )
    assert resp.status_code == 403
    assert resp.json()["code"] == "csrf_refused"
    assert "Origin 'http://testserver:8081' is not this site" in resp.json()["message"]
    assert USCC_B not in enterprises(state)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": f"{OTHER_PORT}/attack.html"},
        {"Origin": "null"},  # a sandboxed frame
    ],
)
async def test_other_signs_of_another_origin_are_refused(
    admin: httpx.AsyncClient, state: AppState, headers: dict[str, str]
) -> None:
    resp = await admin.post(
        "/ids/enterprises", data=form(csrf_token=token_of(admin)), headers=headers
    )
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_refused"
    assert USCC_B not in enterprises(state)


async def test_a_cookie_authenticated_post_without_the_token_is_refused(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    missing = await admin.post("/ids/enterprises", data=form(), headers={"Origin": SITE})
    assert missing.status_code == 403 and missing.json()["code"] == "csrf_refused"
    assert f"the {FIELD} form field (or {HEADER} header) is missing" in missing.json()["message"]
    wrong = await admin.post("/ids/enterprises", data=form(csrf_token="0" * 64))
    assert wrong.status_code == 403 and "does not belong to this session" in wrong.text
    other_session = csrf_token("someone-elses-session")
    stolen = await admin.post("/ids/enterprises", data=form(), headers={HEADER: other_session})
    assert stolen.status_code == 403
    assert USCC_B not in enterprises(state)


async def test_the_console_form_with_its_token_still_works(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    page = await admin.get("/ids/enterprises")
    field = re.search(rf'name="{FIELD}" value="([0-9a-f]+)"', page.text)
    assert field is not None, "the enterprise form carries no CSRF field"
    same_origin = {"Origin": SITE, "Sec-Fetch-Site": "same-origin"}
    resp = await admin.post(
        "/ids/enterprises", data=form(csrf_token=field.group(1)), headers=same_origin
    )
    assert resp.status_code == 200, resp.text
    assert USCC_B in enterprises(state)


async def test_htmx_sends_the_token_from_the_page_header(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/ids/enterprises")
    meta = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    body = re.search(r"<body hx-headers='\{\"X-CSRF-Token\": \"([0-9a-f]+)\"\}'", page.text)
    assert meta and body and meta.group(1) == body.group(1) == token_of(admin)
    resp = await admin.post(
        "/ids/enterprises", data=form(), headers={HEADER: body.group(1), "HX-Request": "true"}
    )
    assert resp.status_code == 200


async def test_a_multipart_form_carries_its_token_in_a_field(admin: httpx.AsyncClient) -> None:
    files = {"file": ("devices.csv", b"id,name,model\n", "text/csv")}
    refused = await admin.post("/platform/devices/import", files=files)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_refused"
    allowed = await admin.post(
        "/platform/devices/import", files=files, data={FIELD: token_of(admin)}
    )
    assert allowed.status_code != 403, allowed.text


async def test_logging_in_needs_no_token_but_is_refused_from_another_origin(
    client: httpx.AsyncClient, state: AppState
) -> None:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    creds = {"username": "admin", "password": password}
    forged = await client.post("/login", data=creds, headers={"Origin": OTHER_PORT})
    assert forged.status_code == 403 and SESSION_COOKIE not in client.cookies
    client.cookies.set(SESSION_COOKIE, "an-expired-session")  # a stale cookie must not block
    resp = await client.post("/login", data=creds, headers={"Origin": SITE})
    assert resp.status_code == 303


async def test_token_authenticated_api_calls_are_not_checked(
    client: httpx.AsyncClient, state: AppState
) -> None:
    headers = bearer(state.engine, "api-admin", core.Role.PLATFORM_ADMIN)
    resp = await client.post(
        "/api/v1/enterprises",
        json={"uscc": USCC_B, "name": "杭州示例泵业"},
        headers={**headers, "Origin": OTHER_PORT, "Sec-Fetch-Site": "cross-site"},
    )
    assert resp.status_code == 201, resp.text


async def test_a_session_cookie_on_the_api_needs_the_token_too(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    body = {"uscc": USCC_B, "name": "杭州示例泵业"}
    refused = await admin.post("/api/v1/enterprises", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_refused"
    allowed = await admin.post("/api/v1/enterprises", json=body, headers={HEADER: token_of(admin)})
    assert allowed.status_code == 201, allowed.text


def test_every_post_form_of_the_console_carries_the_token() -> None:
    forms = 0
    for path in sorted(TEMPLATE_DIR.rglob("*.html")):
        for tag in re.finditer(r"<form\b[^>]*>(.{0,160})", path.read_text(), re.S):
            if 'method="post"' in tag.group(0).lower():
                forms += 1
                hidden = f'<input type="hidden" name="{FIELD}" value="{{{{ csrf_token }}}}">'
                first = tag.group(1).lstrip()
                assert first.startswith(hidden), f"{path.name}: {tag.group(0)[:80]}"
    assert forms >= 10


async def test_every_response_forbids_framing_and_sniffing(admin: httpx.AsyncClient) -> None:
    for path in ("/ids/enterprises", "/login", "/api/v1/auth/token", "/api/handles/88.100.1/X"):
        resp = await admin.get(path)
        assert resp.headers["x-frame-options"] == "DENY", path
        assert resp.headers["content-security-policy"] == "frame-ancestors 'none'", path
        assert resp.headers["x-content-type-options"] == "nosniff", path
        assert resp.headers["referrer-policy"] == "same-origin", path


async def test_a_session_cookie_in_a_second_cookie_header_still_needs_the_token(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    session = admin.cookies[SESSION_COOKIE]
    admin.cookies.clear()
    split = [("cookie", "lang=en"), ("cookie", f"{SESSION_COOKIE}={session}")]
    resp = await admin.post("/ids/enterprises", data=form(), headers=split)
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_refused"
    assert USCC_B not in enterprises(state)
