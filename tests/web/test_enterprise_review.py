"""Real-name review over the web: the applicant sends its business licence (judged by its
content, bounded), the operator reads the dossier and the licence and decides with a reason
the applicant reads; nobody else reads the licence."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_A, USCC_B, bearer
from tests.core.test_documents import EXE, JPEG, PDF, png
from tests.web.test_registration import APPLICATION, PASSWORD

from indunet import core
from indunet.core import Role, documents
from indunet.web import AppState, create_app


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


APPLICANT = basic("xm-admin", PASSWORD)


async def _applied(client: httpx.AsyncClient, uscc: str = USCC_A) -> int:
    body = {**APPLICATION, "uscc": uscc, "legal_representative": "陈法人"}
    resp = await client.post("/api/v1/registrations", json=body)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["enterprise"]["id"])


async def test_apply_send_licence_review_reject_resubmit_approve(
    client: httpx.AsyncClient, state: AppState
) -> None:
    eid = await _applied(client)
    ops = bearer(state.engine, "ops", Role.PLATFORM_ADMIN)
    before = (await client.get(f"/api/v1/enterprises/{eid}/review", headers=ops)).json()
    assert before["legal_representative"] == "陈法人" and before["documents"]["licence"] is None
    image = png()
    sent = await client.put(
        "/api/v1/registrations/licence",
        content=image,
        headers={**APPLICANT, "Content-Type": "application/x-msdownload"},  # ignored
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["licence"]["media_type"] == "image/png"
    dossier = (await client.get(f"/api/v1/enterprises/{eid}/review", headers=ops)).json()
    assert dossier["documents"]["licence"]["size"] == len(image)
    assert dossier["contact_phone"] == APPLICATION["contact_phone"]
    got = await client.get(f"/api/v1/enterprises/{eid}/licence", headers=ops)
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]

    bare = await client.post(
        f"/api/v1/enterprises/{eid}/review", json={"decision": "reject"}, headers=ops
    )
    assert (bare.status_code, bare.json()["reason"]) == (400, "review_reason_needed")
    no = await client.post(
        f"/api/v1/enterprises/{eid}/review",
        json={"decision": "reject", "reason": "营业执照不清晰"},
        headers=ops,
    )
    assert no.status_code == 200 and no.json()["review_state"] == "rejected"
    status = (await client.get("/api/v1/registrations/status", headers=APPLICANT)).json()
    assert (status["review_state"], status["review_reason"]) == ("rejected", "营业执照不清晰")
    again = await client.put("/api/v1/registrations/licence", content=PDF, headers=APPLICANT)
    assert again.status_code == 200
    status = (await client.get("/api/v1/registrations/status", headers=APPLICANT)).json()
    assert status["review_state"] == "pending"  # back to review with the new licence
    yes = await client.post(
        f"/api/v1/enterprises/{eid}/review", json={"decision": "approve"}, headers=ops
    )
    assert yes.json()["review_state"] == "approved"
    token = await client.post(
        "/api/v1/auth/token", json={"username": "xm-admin", "password": PASSWORD}
    )
    assert token.status_code == 200
    own = {"Authorization": f"Bearer {token.json()['token']}"}
    mine = await client.get(f"/api/v1/enterprises/{eid}/licence", headers=own)
    assert mine.status_code == 200 and mine.content == PDF
    with state.engine.connect() as conn:
        actions = [e.action for e in core.audit.entries(conn, limit=50)]
    assert {"enterprise.document", "enterprise.reject", "enterprise.resubmit"} <= set(actions)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (EXE, 400, "document_type"),  # a renamed .exe: the name is never looked at
        (b"GIF89a" + b"\x00" * 30, 400, "document_type"),
        (b"", 400, "document_empty"),
        (png() + b"\x00" * documents.MAX_BYTES, 413, "document_too_large"),
        (png() + b"\x00" * (6 * 1024 * 1024), 413, None),  # over the route's body limit
    ],
)
async def test_hostile_licences_are_refused_and_keep_nothing(
    client: httpx.AsyncClient, state: AppState, body: bytes, status: int, reason: str | None
) -> None:
    eid = await _applied(client)
    resp = await client.put(
        "/api/v1/registrations/licence",
        content=body,
        headers={**APPLICANT, "Content-Type": "image/png", "X-File-Name": "licence.png"},
    )
    assert resp.status_code == status, resp.text
    if reason:
        assert resp.json()["reason"] == reason
    with state.engine.connect() as conn:
        assert documents.info(conn, eid) is None


async def test_the_applicant_door_opens_for_applicants_only(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    await _applied(client, USCC_B)
    url = "/api/v1/registrations/licence"
    assert (await client.put(url, content=JPEG)).status_code == 401
    wrong = await client.put(url, content=JPEG, headers=basic("xm-admin", "not-it-at-all"))
    assert wrong.status_code == 401
    junk = await client.put(url, content=JPEG, headers={"Authorization": "Basic !!!"})
    assert junk.status_code == 401
    with state.engine.begin() as conn:  # an admin of an enterprise an operator added
        core.create_user(
            conn,
            username="plain-admin",
            password=PASSWORD,
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=enterprise.id,
        )
    plain = await client.put(url, content=JPEG, headers=basic("plain-admin", PASSWORD))
    assert plain.status_code == 401
    with state.engine.connect() as conn:
        assert documents.info(conn, enterprise.id) is None


async def test_only_reviewers_and_the_enterprise_admins_read_the_licence(
    client: httpx.AsyncClient, state: AppState
) -> None:
    eid = await _applied(client)
    await client.put("/api/v1/registrations/licence", content=JPEG, headers=APPLICANT)
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙", actor="t", verified=True)
    url = f"/api/v1/enterprises/{eid}/licence"
    regulator = bearer(state.engine, "reg", Role.REGULATOR)
    stranger = bearer(state.engine, "b-admin", Role.ENTERPRISE_ADMIN, other.id)
    assert (await client.get(url, headers=regulator)).status_code == 403
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.get(url)).status_code == 401
    missing = await client.get("/api/v1/enterprises/987654/licence", headers=stranger)
    assert missing.status_code == 404
    rev = f"/api/v1/enterprises/{eid}/review"
    assert (await client.get(rev, headers=stranger)).status_code == 404
    decided = await client.post(rev, json={"decision": "approve"}, headers=regulator)
    assert decided.status_code == 403
    bad = await client.post(rev, json={"decision": "maybe"}, headers=regulator)
    assert bad.status_code == 422


async def test_the_console_form_takes_the_licence_and_refuses_an_executable(
    client: httpx.AsyncClient, state: AppState
) -> None:
    page = await client.get("/register")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {
        **{k: v for k, v in APPLICATION.items() if k != "uscc"},
        "uscc": USCC_A,
        "confirm": PASSWORD,
        "legal_representative": "陈法人",
        "csrf_token": token,
    }
    refused = await client.post(
        "/register", data=form, files={"licence": ("licence.png", EXE, "image/png")}
    )
    assert refused.status_code == 400 and "PNG" in refused.text
    with state.engine.connect() as conn:
        assert core.list_enterprises(conn) == []
    done = await client.post(
        "/register", data=form, files={"licence": ("营业执照.pdf", PDF, "application/pdf")}
    )
    assert done.status_code == 200, done.text
    with state.engine.connect() as conn:
        ent = core.list_enterprises(conn)[0]
        info, data = documents.content(conn, ent.id)
    assert (ent.legal_representative, info.media_type, data) == ("陈法人", "application/pdf", PDF)


async def test_a_rejected_applicant_sends_a_new_licence_from_the_console(
    client: httpx.AsyncClient, state: AppState
) -> None:
    eid = await _applied(client)
    with state.engine.begin() as conn:
        core.enterprises.review(conn, eid, approve=False, reason="执照模糊", actor="user:ops")
    login = await client.post("/login", data={"username": "xm-admin", "password": PASSWORD})
    assert login.status_code == 403 and 'id="licence-upload-link"' in login.text
    page = await client.get("/register/licence")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"username": "xm-admin", "password": PASSWORD, "csrf_token": token}
    exe = await client.post(
        "/register/licence", data=form, files={"licence": ("licence.png", EXE, "image/png")}
    )
    assert exe.status_code == 400 and 'class="alert error"' in exe.text
    wrong = await client.post(
        "/register/licence",
        data={**form, "password": "not-the-password"},
        files={"licence": ("licence.pdf", PDF, "application/pdf")},
    )
    assert wrong.status_code == 401
    none = await client.post("/register/licence", data=form)
    assert none.status_code == 400
    with state.engine.connect() as conn:
        assert documents.info(conn, eid) is None
        assert core.get_enterprise_by_id(conn, eid).review_state == "rejected"
    sent = await client.post(
        "/register/licence", data=form, files={"licence": ("执照.pdf", PDF, "application/pdf")}
    )
    assert sent.status_code == 200 and 'id="licence-sent"' in sent.text
    with state.engine.connect() as conn:
        assert documents.content(conn, eid)[1] == PDF
        assert core.get_enterprise_by_id(conn, eid).review_state == "pending"
