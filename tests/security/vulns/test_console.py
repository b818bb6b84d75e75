"""The console's vulnerability pages: list with filters, search and paging; a match's page with
why, CVSS and remediation; dismissing with a reason; both languages; another tenant's is 404."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B
from tests.security.vulns.samples import CSAF

from indunet import core
from indunet.core import Role
from indunet.security import AssetFacts, Vulnerabilities
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"
BASE = "/security/vulnerabilities"


@pytest.fixture
async def client(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[httpx.AsyncClient]:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
        for name, role, eid in (
            ("ea", Role.ENTERPRISE_ADMIN, enterprise.id),
            ("eu", Role.ENTERPRISE_USER, enterprise.id),
            ("eb", Role.ENTERPRISE_ADMIN, b.id),
        ):
            core.create_user(
                conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
            )
    part = state.services["security"].part("vulns")
    assert isinstance(part, Vulnerabilities)
    assets = [
        AssetFacts(1, enterprise.id, "西门子", "SIMATIC CP 443-1 RNA", "V1.5.2"),
        AssetFacts(2, enterprise.id, "三菱电机", "Q12DCCPU-V", "1.0"),
        AssetFacts(3, b.id, "Siemens", "LOGO! 8 BM", "8.3"),
    ]
    part.matching.list_assets = lambda ids: [a for a in assets if ids is None or a.id in ids]
    part.csaf_dir = CSAF
    part.sync(core.User(0, "root", Role.PLATFORM_ADMIN, None))
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303, resp.text
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])


def first_match(page: str) -> int:
    return int(page.split('data-match="')[1].split('"')[0])


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("zh-CN", ("漏洞匹配", "待人工核查", "高危")),
        ("en", ("Vulnerability matches", "Needs review", "High")),
    ],
)
async def test_list_and_detail_in_both_languages(
    client: httpx.AsyncClient, locale: str, words: tuple[str, ...]
) -> None:
    await login(client, "eu")
    client.cookies.set("lang", locale)
    page = await client.get(BASE)
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert "vulns." not in page.text  # no raw catalogue keys
    assert "LOGO" not in page.text  # B's asset
    detail = await client.get(f"{BASE}/{first_match(page.text)}")
    assert detail.status_code == 200 and "vulns." not in detail.text
    assert 'id="vuln-why"' in detail.text and "CVSS:3." in detail.text
    assert 'id="vuln-decide"' not in detail.text  # an enterprise user only looks


async def test_filters_search_and_paging(client: httpx.AsyncClient) -> None:
    await login(client, "ea")
    review = await client.get(BASE, params={"state": "needs_review"})
    assert (
        'data-state="needs_review"' in review.text and 'data-state="confirmed"' not in review.text
    )
    found = await client.get(BASE, params={"q": "CVE-2022-27640"})
    assert found.text.count('data-match="') == 1
    assert "CVE-2022-27640" in found.text
    high = await client.get(BASE, params={"severity": "high"})
    assert "CVE-2022-27640" in high.text
    past = await client.get(BASE, params={"page": "99"})
    assert past.status_code in (200, 303, 404)


async def test_dismiss_with_a_reason_and_isolation(client: httpx.AsyncClient) -> None:
    await login(client, "ea")
    page = await client.get(BASE, params={"q": "CVE-2022-27640"})
    match_id = first_match(page.text)
    refused = await client.post(
        f"{BASE}/{match_id}/state", data={"state": "dismissed", "reason": " "}
    )
    assert refused.status_code == 400 and 'id="vuln-error"' in refused.text
    done = await client.post(
        f"{BASE}/{match_id}/state", data={"state": "dismissed", "reason": "备件未上线"}
    )
    assert done.status_code == 303
    detail = await client.get(f"{BASE}/{match_id}")
    assert 'data-state="dismissed"' in detail.text and "备件未上线" in detail.text
    await login(client, "eb")
    assert (await client.get(f"{BASE}/{match_id}")).status_code == 404
    gone = await client.post(f"{BASE}/{match_id}/state", data={"state": "confirmed", "reason": "x"})
    assert gone.status_code == 404
