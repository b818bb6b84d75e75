"""The console's prefix application pages: who sees the form, refusals shown on the page with
nothing written, another enterprise's application looking missing, the licence served to its
reviewers only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B
from tests.core.test_documents import EXE, png
from tests.web.test_console import log_in

from indunet import core
from indunet.core import Role, documents
from indunet.ids import applications
from indunet.web import AppState, create_app

PASSWORD = "Gear-Train-2026"


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


def _user(state: AppState, name: str, role: Role, eid: int | None) -> None:
    with state.engine.begin() as conn:
        core.create_user(
            conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
        )


async def test_an_admin_applies_and_hostile_forms_write_nothing(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    _user(state, "ent-admin", Role.ENTERPRISE_ADMIN, enterprise.id)
    await log_in(client, "ent-admin", PASSWORD)
    page = await client.get("/ids/prefix-applications")
    assert page.status_code == 200 and 'id="apply-form"' in page.text
    for form, status in (
        ({"prefix": "88.100.7", "purpose": ""}, 400),
        ({"prefix": "88.200.7", "purpose": "x"}, 404),
        ({"prefix": "88.100.7", "purpose": "x" * 501}, 400),
    ):
        refused = await client.post("/ids/prefix-applications", data=form)
        assert refused.status_code == status, refused.text
        assert 'class="alert error"' in refused.text
    assert applications.page_applications(state.engine)[1] == 0
    done = await client.post(
        "/ids/prefix-applications", data={"prefix": "88.100.7", "purpose": "追溯"}
    )
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert "88.100.7" in shown.text and 'id="review"' not in shown.text  # not its own reviewer
    approve = await client.post(shown.url.path, data={"decision": "approve"})
    assert approve.status_code == 403
    assert applications.page_applications(state.engine, state="pending")[1] == 1


async def test_a_user_without_the_right_gets_no_form(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    _user(state, "ent-user", Role.ENTERPRISE_USER, enterprise.id)
    await log_in(client, "ent-user", PASSWORD)
    page = await client.get("/ids/prefix-applications")
    assert page.status_code == 200 and 'id="apply-form"' not in page.text
    refused = await client.post(
        "/ids/prefix-applications", data={"prefix": "88.100.7", "purpose": "x"}
    )
    assert refused.status_code == 403
    assert applications.page_applications(state.engine)[1] == 0


async def test_reviewers_need_a_reason_to_reject_and_strangers_see_nothing(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, admin_password: str
) -> None:
    app = applications.apply(state.hierarchy.front, enterprise, "88.100.7", "追溯", actor="t")
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙", actor="t", verified=True)
        documents.store(conn, enterprise.id, png(), actor="t")
    _user(state, "b-admin", Role.ENTERPRISE_ADMIN, other.id)
    await log_in(client, "b-admin", PASSWORD)
    assert (await client.get(f"/ids/prefix-applications/{app.id}")).status_code == 404
    assert (await client.get("/ids/prefix-applications/99999")).status_code == 404
    assert (await client.get("/ids/prefix-applications/x")).status_code == 404
    listed = await client.get("/ids/prefix-applications")
    assert f'/ids/prefix-applications/{app.id}"' not in listed.text
    licence = await client.get(f"/ids/enterprises/{enterprise.id}/licence")
    assert licence.status_code == 404 and licence.content != png()
    client.cookies.clear()
    await log_in(client, "admin", admin_password)
    bare = await client.post(f"/ids/prefix-applications/{app.id}", data={"decision": "reject"})
    assert bare.status_code == 400 and 'class="alert error"' in bare.text
    odd = await client.post(f"/ids/prefix-applications/{app.id}", data={"decision": "maybe"})
    assert odd.status_code == 400
    assert applications.get_application(state.engine, app.id).state == "pending"
    page = await client.get(f"/ids/enterprises/{enterprise.id}")
    assert 'id="licence-link"' in page.text
    mine = await client.get(f"/ids/enterprises/{enterprise.id}/licence")
    assert mine.status_code == 200 and mine.content == png()
    assert mine.headers["x-content-type-options"] == "nosniff"
    with pytest.raises(core.InvalidInput), state.engine.begin() as conn:
        documents.store(conn, enterprise.id, EXE, actor="t")


async def test_the_prefix_list_shows_terms_and_lapsed_prefixes(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, admin_password: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from indunet.ids.tables import prefixes as prefix_table

    app = applications.apply(state.hierarchy.front, enterprise, "88.100.7", "追溯", actor="t")
    applications.review(
        state.hierarchy.nodes, app.id, approve=True, reason="", actor="t", term_days=30
    )
    await log_in(client, "admin", admin_password)
    fresh = await client.get("/ids/prefixes?sort=expires_at")
    assert fresh.status_code == 200 and "已到期" not in fresh.text
    with state.engine.begin() as conn:
        conn.execute(prefix_table.update().values(expires_at=datetime.now(UTC) - timedelta(days=1)))
    lapsed = await client.get("/ids/prefixes")
    assert "已到期" in lapsed.text
    page = await client.get("/ids/prefixes/88.100.7")
    assert 'id="lapsed"' in page.text and 'id="renew"' in page.text
