"""Complaints over the web: the public form and API take hostile input with clear 4xx answers,
operators handle complaints through the API and the console, others see none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import bearer
from tests.web.test_console import log_in

from indunet import core
from indunet.core import Role
from indunet.ids import complaints as cp
from indunet.web import AppState, create_app
from indunet.web.guards.limits import COMPLAINT_BODY

COMPLAINT = {
    "subject_kind": "identifier",
    "subject": "88.100.1/PH-1",
    "text": "这个标识解析到的网址打不开。",
    "contact": "张三",
    "contact_phone": "0592-1234567",
    "contact_email": "zhang@example.cn",
}


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_password(state: AppState) -> str:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    return password


def _open(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return cp.open_count(conn)


async def test_anyone_files_over_the_api_and_looks_the_state_up(
    client: httpx.AsyncClient, state: AppState
) -> None:
    resp = await client.post("/api/v1/complaints", json=COMPLAINT)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["state"] == "received"
    filed = datetime.fromisoformat(body["filed_at"])
    assert datetime.fromisoformat(body["due_at"]) - filed == timedelta(days=15)
    ref = body["reference"]
    look = await client.post(
        "/api/v1/complaints/status", json={"reference": ref, "contact": "zhang@example.cn"}
    )
    assert look.status_code == 200
    assert look.json()["state"] == "received" and look.json()["reply"] == ""
    assert "text" not in look.json() and "contact" not in look.json()
    wrong = await client.post(
        "/api/v1/complaints/status", json={"reference": ref, "contact": "x@example.cn"}
    )
    assert (wrong.status_code, wrong.json()["reason"]) == (404, "complaint_not_found")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({**COMPLAINT, "subject_kind": "device"}, 422, None),
        ({**COMPLAINT, "text": "x" * (cp.MAX_TEXT + 1)}, 422, None),
        ({**COMPLAINT, "text": " "}, 400, "complaint_field_length"),
        ({**COMPLAINT, "contact_phone": "", "contact_email": ""}, 400, "contact_needed"),
        ({**COMPLAINT, "extra": 1}, 422, None),
        ({**COMPLAINT, "text": 5}, 422, None),
    ],
)
async def test_bad_complaints_get_a_4xx_and_write_nothing(
    client: httpx.AsyncClient,
    state: AppState,
    body: dict[str, object],
    status: int,
    reason: str | None,
) -> None:
    resp = await client.post("/api/v1/complaints", json=body)
    assert resp.status_code == status, resp.text
    if reason:
        assert resp.json()["reason"] == reason
    assert _open(state.engine) == 0


async def test_an_oversized_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, state: AppState
) -> None:
    big = {**COMPLAINT, "text": "x" * COMPLAINT_BODY}
    assert (await client.post("/api/v1/complaints", json=big)).status_code == 413
    form = await client.post("/complain", data={**COMPLAINT, "text": "投" * 5000})
    assert form.status_code == 413
    assert _open(state.engine) == 0


async def test_each_address_files_five_an_hour_on_api_and_console_together(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(cp.PER_SOURCE):
        assert (await client.post("/api/v1/complaints", json=COMPLAINT)).status_code == 201
    resp = await client.post("/api/v1/complaints", json=COMPLAINT)
    assert (resp.status_code, resp.json()["reason"]) == (429, "too_many_complaints")
    assert int(resp.headers["Retry-After"]) > 3000
    page = await client.post("/complain", data=COMPLAINT)
    assert page.status_code == 429 and "Retry-After" in page.headers


async def test_operators_list_count_and_handle_over_the_api(
    client: httpx.AsyncClient, state: AppState
) -> None:
    ref = (await client.post("/api/v1/complaints", json=COMPLAINT)).json()["reference"]
    admin = bearer(state.engine, "op", Role.PLATFORM_ADMIN)
    regulator = bearer(state.engine, "reg", Role.REGULATOR)
    with state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3GQWXX"), name="E", actor="t", verified=True
        )
    tenant = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, ent.id)
    listed = await client.get("/api/v1/complaints?q=PH-1", headers=regulator)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    item = listed.json()[0]
    assert (item["reference"], item["overdue"], item["contact"]["name"]) == (ref, False, "张三")
    cid = item["id"]
    assert (await client.get("/api/v1/complaints", headers=tenant)).status_code == 404
    assert (await client.get(f"/api/v1/complaints/{cid}", headers=tenant)).status_code == 404
    assert (await client.get("/api/v1/complaints/stats", headers=tenant)).status_code == 404
    assert (await client.get("/api/v1/complaints")).status_code == 401
    refused = await client.post(f"/api/v1/complaints/{cid}/start", headers=regulator)
    assert refused.status_code == 403
    started = await client.post(f"/api/v1/complaints/{cid}/start", headers=admin)
    assert started.status_code == 200 and started.json()["state"] == "in_progress"
    no_reply = await client.post(f"/api/v1/complaints/{cid}/resolve", headers=admin, json={})
    assert (no_reply.status_code, no_reply.json()["reason"]) == (400, "complaint_field_length")
    done = await client.post(
        f"/api/v1/complaints/{cid}/resolve", headers=admin, json={"reply": "网址已修正。"}
    )
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    again = await client.post(f"/api/v1/complaints/{cid}/start", headers=admin)
    assert (again.status_code, again.json()["reason"]) == (409, "complaint_state")
    unknown = await client.post(f"/api/v1/complaints/{cid}/reopen", headers=admin)
    assert unknown.status_code == 422
    assert (await client.get("/api/v1/complaints/99999", headers=admin)).status_code == 404
    assert (await client.get("/api/v1/complaints/0", headers=admin)).status_code == 422
    stats = (await client.get("/api/v1/complaints/stats", headers=regulator)).json()
    assert stats["by_state"]["resolved"] == 1 and stats["open"] == 0 and stats["overdue"] == 0
    status = await client.post(
        "/api/v1/complaints/status", json={"reference": ref, "contact": "0592-1234567"}
    )
    assert status.json()["reply"] == "网址已修正。"


async def test_the_public_form_needs_no_login_and_gives_the_reference(
    client: httpx.AsyncClient, state: AppState
) -> None:
    page = await client.get("/complain?about=prefix&subject=88.100.1")
    assert page.status_code == 200
    assert 'value="prefix" selected' in page.text and 'value="88.100.1"' in page.text
    resp = await client.post("/complain", data={**COMPLAINT, "contact_email": "bad"})
    assert resp.status_code == 400
    assert "不是电子邮件地址" in resp.text or "contact_email" in resp.text
    assert "这个标识解析到的网址打不开。" in resp.text  # what was typed stays
    done = await client.post("/complain", data=COMPLAINT)
    assert done.status_code == 200
    with state.engine.connect() as conn:
        (ref,) = conn.execute(sa.text("SELECT reference FROM ids_complaints")).one()
    assert ref in done.text and "投诉已受理" in done.text
    looked = await client.post(
        "/complain/status", data={"reference": ref, "contact": "0592-1234567"}
    )
    assert looked.status_code == 200 and "已受理" in looked.text
    missed = await client.post("/complain/status", data={"reference": ref, "contact": "1"})
    assert missed.status_code == 404 and "没有与该受理编号和联系方式相符的投诉" in missed.text


async def test_a_cross_site_post_to_the_public_form_is_refused(
    client: httpx.AsyncClient, state: AppState, admin_password: str
) -> None:
    resp = await client.post(
        "/complain", data=COMPLAINT, headers={"Origin": "https://evil.example"}
    )
    assert resp.status_code == 403
    await log_in(client, "admin", admin_password)
    client.headers.pop("X-CSRF-Token", None)
    no_token = await client.post("/complain", data=COMPLAINT)  # a session needs its token
    assert no_token.status_code == 403
    assert _open(state.engine) == 0


async def test_the_console_list_highlights_overdue_ones_and_operators_handle_them(
    client: httpx.AsyncClient, state: AppState, admin_password: str
) -> None:
    with state.engine.begin() as conn:
        late = cp.file(
            conn,
            cp.ComplaintForm(**{**COMPLAINT, "subject": "88.100.1/LATE"}),
            source="t",
            now=datetime.now(UTC) - timedelta(days=16),
        )
        fresh = cp.file(conn, cp.ComplaintForm(**COMPLAINT), source="t")
    await log_in(client, "admin", admin_password)
    page = await client.get("/ids/complaints")
    assert page.status_code == 200
    assert page.text.count('<tr class="overdue">') == 1
    assert 'id="count-overdue">1<' in page.text and 'id="count-total">2<' in page.text
    assert "Asia/Shanghai" in page.text  # the named zone of the page's times
    overdue = await client.get("/ids/complaints?overdue=1")
    assert late.reference in overdue.text and fresh.reference not in overdue.text
    search = await client.get("/ids/complaints?q=LATE")
    assert late.reference in search.text and fresh.reference not in search.text
    detail = await client.get(f"/ids/complaints/{late.id}")
    assert 'id="complaint-overdue"' in detail.text
    no_reply = await client.post(f"/ids/complaints/{late.id}", data={"action": "reject"})
    assert no_reply.status_code == 400
    done = await client.post(
        f"/ids/complaints/{late.id}", data={"action": "reject", "reply": "重复投诉"}
    )
    assert done.status_code == 303
    after = await client.get(done.headers["location"])
    assert "不予受理" in after.text and "重复投诉" in after.text
    stale = await client.post(f"/ids/complaints/{late.id}", data={"action": "start"})
    assert stale.status_code == 409 and "已在处理中或已办结" in stale.text
    assert (await client.get("/ids/complaints/abc")).status_code == 404


async def test_a_tenant_sees_where_to_file_but_no_complaint(
    client: httpx.AsyncClient, state: AppState
) -> None:
    with state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3GQWXY"), name="E", actor="t", verified=True
        )
        core.create_user(
            conn,
            username="ea",
            password="Kettle-Spout-42",
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=ent.id,
        )
        filed = cp.file(conn, cp.ComplaintForm(**COMPLAINT), source="t")
    await log_in(client, "ea", "Kettle-Spout-42")
    page = await client.get("/ids/complaints")
    assert page.status_code == 200
    assert 'href="/complain"' in page.text and filed.reference not in page.text
    assert (await client.get(f"/ids/complaints/{filed.id}")).status_code == 404


async def test_monthly_statistics_over_the_api(client: httpx.AsyncClient, state: AppState) -> None:
    admin = bearer(state.engine, "op", Role.PLATFORM_ADMIN)
    with state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3GQWXX"), name="E", actor="t", verified=True
        )
    tenant = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, ent.id)
    late_at = datetime.now(UTC) - timedelta(days=40)
    with state.engine.begin() as conn:
        cp.file(conn, cp.ComplaintForm(**{**COMPLAINT, "subject_kind": "service"}), source="t")
        cp.file(conn, cp.ComplaintForm(**COMPLAINT), source="t", now=late_at)
    url = "/api/v1/complaints/stats/monthly"
    got = await client.get(url, params={"months": 3, "tz": "Asia/Shanghai"}, headers=admin)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["zone"], body["deadline_days"], len(body["months"])) == ("Asia/Shanghai", 15, 3)
    this_month = body["months"][-1]
    assert this_month["month"] == datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    assert this_month["by_kind"]["service"] == 1 and this_month["by_state"]["received"] >= 1
    assert sum(m["filed"] for m in body["months"]) == 2
    assert sum(m["overdue"] for m in body["months"]) == 1
    assert all(m["median_handling_days"] is None for m in body["months"])
    bad_zone = await client.get(url, params={"tz": "Mars/Olympus"}, headers=admin)
    assert (bad_zone.status_code, bad_zone.json()["reason"]) == (400, "complaint_stats_zone")
    assert (await client.get(url, params={"months": 0}, headers=admin)).status_code == 422
    assert (await client.get(url, params={"months": 37}, headers=admin)).status_code == 422
    assert (await client.get(url, headers=tenant)).status_code == 404
    assert (await client.get(url)).status_code == 401


async def test_the_public_form_and_the_api_follow_the_nodes_deadline(
    client: httpx.AsyncClient, state: AppState
) -> None:
    state.complaints.deadline_days = 30  # as INDUNET_COMPLAINT_DEADLINE_DAYS=30 sets it
    page = await client.get("/complain")
    assert "我们在 30 天内处理并答复" in page.text
    filed = (await client.post("/api/v1/complaints", json=COMPLAINT)).json()
    due = datetime.fromisoformat(filed["due_at"]) - datetime.fromisoformat(filed["filed_at"])
    assert due == timedelta(days=30)
    admin = bearer(state.engine, "op", Role.PLATFORM_ADMIN)
    stats = (await client.get("/api/v1/complaints/stats", headers=admin)).json()
    assert stats["deadline_days"] == 30
