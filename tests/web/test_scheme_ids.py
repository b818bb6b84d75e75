"""OID and Ecode identifiers registered as Handle records (``<prefix>/OID:<oid>``,
``<prefix>/ECODE:<code>``) and resolved in their own form (``oid:…``, ``urn:oid:…``,
``ecode:…``) through the native API: the scheme parses them, its parent walk finds the
configured arc's Indunet prefix; malformed or non-canonical ones are never registered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from indunet import ids
from indunet.core.settings import Settings
from indunet.web import AppState, create_app
from indunet.web.console.i18n import LANG_COOKIE

AUTH = ("300%3A0.NA/88.100.1", "s3cret-key-for-tests")
URL = [{"index": 1, "type": "URL", "data": "https://oid.example/pump-7"}]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        port=8000,
        oid_prefixes="1.2.156.3001=88.100.1, 1.2.156.3001.9=88.100.2",
        ecode_prefixes="10001=88.100.1",
    )


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def stored(state: AppState) -> list[str]:
    with state.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT hkey FROM ids_handles WHERE hkey LIKE '88.100.1/%'"))
        return sorted(r[0] for r in rows)


async def test_oids_and_ecodes_register_and_resolve_in_their_own_form(
    client: httpx.AsyncClient,
) -> None:
    for suffix in ("OID:1.2.156.3001.7", "OID:1.2.156.3001.7.1.2", "ECODE:100011234567"):
        put = await client.put(f"/api/handles/88.100.1/{suffix}", json={"values": URL}, auth=AUTH)
        assert put.status_code == 201, put.text
    for asked, handle in (
        ("oid:1.2.156.3001.7", "88.100.1/OID:1.2.156.3001.7"),
        ("urn:oid:1.2.156.3001.7", "88.100.1/OID:1.2.156.3001.7"),
        ("OID:1.2.156.3001.7.1.2", "88.100.1/OID:1.2.156.3001.7.1.2"),  # arcs walked up
        ("ecode:100011234567", "88.100.1/ECODE:100011234567"),
    ):
        got = await client.get(f"/api/v1/resolve/{asked}")
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["responseCode"] == 1 and body["handle"] == handle
        assert body["values"][0]["data"]["value"] == "https://oid.example/pump-7"


async def test_the_longest_configured_arc_wins(client: httpx.AsyncClient) -> None:
    """1.2.156.3001.9 is configured to 88.100.2, which this node does not hold."""
    got = await client.get("/api/v1/resolve/oid:1.2.156.3001.9.5")
    assert got.json()["handle"].startswith("88.100.2/OID:1.2.156.3001.9.5")


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [
        ("OID:1.2.156.03001.7", "scheme_id_invalid"),  # a leading zero
        ("oid:1.2.156.3001.x", "scheme_id_invalid"),
        ("OID:1.50.3", "scheme_id_invalid"),  # second arc above 39 under 1
        ("OID:urn:oid:1.2.156.3001.7", "scheme_id_form"),  # the canonical form only
        ("ECODE:20001123", "scheme_id_invalid"),  # version 2 is not checked, so refused
        ("ECODE:10001", "scheme_id_invalid"),  # no master data code
        ("Ecode:1000112a", "scheme_id_invalid"),
    ],
)
async def test_a_malformed_identifier_is_not_registered(
    client: httpx.AsyncClient, state: AppState, suffix: str, reason: str
) -> None:
    before = stored(state)
    put = await client.put(f"/api/handles/88.100.1/{suffix}", json={"values": URL}, auth=AUTH)
    assert put.status_code == 400 and put.json()["responseCode"] == 102, put.text
    with pytest.raises(ids.InvalidHandle) as err:
        state.hierarchy.front.put(f"88.100.1/{suffix}", URL, ids.Principal("cli:t", None, None))
    assert err.value.reason == reason
    assert stored(state) == before


@pytest.mark.parametrize(
    ("asked", "status", "reason"),
    [
        ("oid:1.2.840.113549", 404, "scheme_id_unmapped"),
        ("ecode:100021234", 404, "scheme_id_unmapped"),
        ("oid:1.2.156.3001.x", 400, "scheme_id_invalid"),
        ("ecode:1000", 400, "scheme_id_invalid"),
    ],
)
async def test_resolution_refusals_have_a_reason(
    client: httpx.AsyncClient, asked: str, status: int, reason: str
) -> None:
    got = await client.get(f"/api/v1/resolve/{asked}")
    assert got.status_code == status, got.text
    assert got.json()["reason"] == reason


async def test_an_unregistered_oid_is_not_found(client: httpx.AsyncClient) -> None:
    got = await client.get("/api/v1/resolve/oid:1.2.156.3001.404")
    assert got.json()["responseCode"] == 100


async def test_the_console_resolve_page_takes_an_oid(client: httpx.AsyncClient) -> None:
    put = await client.put(
        "/api/handles/88.100.1/OID:1.2.156.3001.7", json={"values": URL}, auth=AUTH
    )
    assert put.status_code == 201
    page = await client.get("/ids/resolve", params={"handle": "oid:1.2.156.3001.7"})
    assert page.status_code == 200 and "https://oid.example/pump-7" in page.text
    client.cookies.set(LANG_COOKIE, "zh-CN")
    unmapped = await client.get("/ids/resolve", params={"handle": "oid:1.2.840.1"})
    assert "没有已配置的 oid 弧段管辖 1.2.840.1" in unmapped.text
