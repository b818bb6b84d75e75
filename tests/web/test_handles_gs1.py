"""Registering GS1 identifiers (handle suffixes ``GS1:<element string>``) through the Handle REST
API, the console and a bulk import: a wrong check digit, an unpadded GTIN in AI 01 or a
character outside CSET 82 is refused with its reason and nothing is written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.i18n import LANG_COOKIE
from indunet.web.csrf import HEADER, csrf_token

SECRET = "s3cret-key-for-tests"
AUTH = ("300%3A0.NA/88.100.1", SECRET)
API = "/api/handles"
GOOD = "88.100.1/GS1:01/09506000134352/21/SN-0001"
URL = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://a.example"}}]
OPS = ids.Principal(actor="cli:test", identity=None, prefixes=None)


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def stored(state: AppState) -> list[str]:
    with state.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT hkey FROM ids_handles WHERE hkey LIKE '%GS1:%'"))
        return sorted(r[0] for r in rows)


async def test_a_valid_gs1_identifier_registers_and_resolves(
    client: httpx.AsyncClient, state: AppState
) -> None:
    for handle in (
        GOOD,
        "88.100.1/GS1:01/09506000134352/22/2A/10/LOT-7/21/SN-2",
        "88.100.1/GS1:00/106141411234567897",
        "88.100.1/gs1:414/9506000134352",
        "88.100.1/GS1:8004/9506000134352ASSET-1",
    ):
        put = await client.put(f"{API}/{handle}", json={"values": URL}, auth=AUTH)
        assert put.status_code == 201, put.text
    got = await client.get(f"{API}/{GOOD}")
    assert got.status_code == 200 and got.json()["handle"] == GOOD
    assert len(stored(state)) == 5


BAD = [
    (
        "GS1:01/09506000134353/21/SN-1",
        "gs1_check_digit",
        {"title": "GTIN (AI 01)", "value": "09506000134353", "got": "3", "expected": "2"},
    ),
    (
        "GS1:01/96385074/21/SN-1",
        "gs1_gtin_pad",
        {"value": "96385074", "padded": "000000" + "96385074"},
    ),
    (
        "GS1:01/09506000134352/21/SN-1%7E",
        "gs1_charset",
        {"title": "SERIAL (AI 21)", "value": "SN-1~", "position": 5, "char": "~"},
    ),
    (
        "GS1:01/09506000134352/21/%E6%89%B9%E6%AC%A1",
        "gs1_charset",
        {"title": "SERIAL (AI 21)", "value": "批次", "position": 1, "char": "批"},
    ),
    ("GS1:00/106141411234567890", "gs1_check_digit", None),
    ("GS1:8018/095060001343528883", "gs1_check_digit", None),
    ("GS1:21/SN-1", "gs1_key_first", {"ai": "21"}),
    ("GS1:01/09506000134352/21/" + "x" * 21, "gs1_length", None),
    ("GS1:7003/2512310000", "gs1_ai_unknown", None),
]
MESSAGES = {
    "gs1_check_digit": "fails the GS1 mod-10 check",
    "gs1_gtin_pad": "a GTIN in AI 01 is written with 14 digits: pad",
    "gs1_charset": "GS1 character set 82",
    "gs1_key_first": "must start with a key AI",
    "gs1_length": "its format is X..20",
    "gs1_ai_unknown": "AI '7003' is not one Indunet accepts",
}


@pytest.mark.parametrize(("suffix", "reason", "params"), BAD)
async def test_a_malformed_gs1_identifier_is_400_102_and_writes_nothing(
    client: httpx.AsyncClient, state: AppState, suffix: str, reason: str, params: Any
) -> None:
    put = await client.put(f"{API}/88.100.1/{suffix}", json={"values": URL}, auth=AUTH)
    body = put.json()
    assert put.status_code == 400 and body["responseCode"] == 102
    assert MESSAGES[reason] in body["message"]
    assert stored(state) == []


@pytest.mark.parametrize(("suffix", "reason", "params"), BAD)
def test_the_node_refuses_with_a_stable_reason_and_params(
    state: AppState, allocation: ids.Allocation, suffix: str, reason: str, params: Any
) -> None:
    handle = unquote(f"88.100.1/{suffix}")  # as the API decodes the path
    with pytest.raises(ids.InvalidHandle) as err:
        state.hierarchy.front.put(handle, URL, OPS)
    assert err.value.reason == reason
    if params is not None:
        assert err.value.params == params


async def test_the_console_says_the_refusal_in_chinese(
    state: AppState, allocation: ids.Allocation
) -> None:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await c.post("/login", data={"username": "admin", "password": password, "next": "/"})
        c.headers[HEADER] = csrf_token(c.cookies[SESSION_COOKIE])
        c.cookies.set(LANG_COOKIE, "zh-CN")
        resp = await c.post(
            "/ids/register",
            data={
                "handle": "88.100.1/GS1:01/96385074/21/A1",
                "template": "",
                "index": ["1"],
                "type": ["URL"],
                "value": ["https://a.example"],
            },
        )
    assert resp.status_code == 400
    assert "AI 01 中的 GTIN 应写成 14 位：请将 96385074 在前面补零为 00000096385074" in resp.text
    assert stored(state) == []


def test_a_bulk_import_refuses_bad_gs1_rows_by_line(
    state: AppState, allocation: ids.Allocation, tmp_path: Path
) -> None:
    path = tmp_path / "gs1.csv"
    path.write_text(
        "handle,URL\n"
        f"{GOOD},https://a.example/1\n"
        "88.100.1/GS1:01/09506000134353/21/SN-2,https://a.example/2\n"
        "88.100.1/GS1:01/09506000134352/21/SN 3,https://a.example/3\n",
        encoding="utf-8",
    )
    report = ids.import_file(state.hierarchy.front, path, OPS)
    assert (report.registered, report.failed) == (1, 2)
    messages = {line: message for line, _, message in report.errors}
    assert "check digit is 3, expected 2" in messages[3]
    assert "GS1 character set 82" in messages[4]
    assert stored(state) == [ids.handle.key(GOOD)]
