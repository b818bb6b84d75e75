"""The Handle.Net-compatible REST API in-process: response codes, HTTP statuses, filters, auth."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.ids import listing
from indunet.web import AppState, create_app
from indunet.web.csrf import HEADER, csrf_token

SECRET = "s3cret-key-for-tests"
AUTH = ("300%3A0.NA/88.100.1", SECRET)  # as pyhandle sends it: the colon percent-encoded
OTHER_SECRET = "other-tenant-key-2"
OTHER_AUTH = ("300%3A0.NA/88.100.2", OTHER_SECRET)
API = "/api/handles"
SITES = "http://127.0.0.1:8000/nodes"  # the embedded hierarchy's sites (settings port 8000)


def url_value(url: str, index: int = 1) -> dict[str, Any]:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": url}}


def text_value(index: int, vtype: str, value: str) -> dict[str, Any]:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": value}}


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def other_tenant(state: AppState) -> ids.Allocation:
    with state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn,
            uscc=core.make_uscc("91110108MA01ABCD"),
            name="北京另一家制造有限公司",
            actor="test",
            verified=True,
        )
    return ids.allocate(state.hierarchy.front, "88.100.2", ent, actor="test", secret=OTHER_SECRET)


def snapshot(state: AppState) -> tuple[list[tuple[Any, ...]], int]:
    """Every stored record and the audit log length: what a refused request must not change."""
    with state.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT node, hkey, record FROM ids_handles ORDER BY node, hkey")
        ).all()
        audits = conn.execute(sa.text("SELECT count(*) FROM core_audit_log")).scalar_one()
    return [tuple(r) for r in rows], int(audits)


async def create(c: httpx.AsyncClient, handle: str, values: list[dict[str, Any]]) -> None:
    resp = await c.put(f"{API}/{handle}", json={"values": values}, auth=AUTH)
    assert resp.status_code == 201, resp.text


async def record(c: httpx.AsyncClient, handle: str) -> dict[int, dict[str, Any]]:
    resp = await c.get(f"{API}/{handle}")
    assert resp.status_code == 200, resp.text
    return {v["index"]: v for v in resp.json()["values"]}


# -- success -----------------------------------------------------------------------------


async def test_create_is_201_replace_is_200_and_get_returns_the_record(
    client: httpx.AsyncClient,
) -> None:
    h = "88.100.1/CNC-0001"
    resp = await client.put(
        f"{API}/{h}", json={"values": [url_value("https://a.example")]}, auth=AUTH
    )
    assert (resp.status_code, resp.json()) == (201, {"responseCode": 1, "handle": h})

    got = await client.get(f"{API}/{h}")
    assert got.status_code == 200
    body = got.json()
    assert body["responseCode"] == 1 and body["handle"] == h
    values = {v["index"]: v for v in body["values"]}
    assert values[1]["data"] == {"format": "string", "value": "https://a.example"}
    assert values[1]["ttl"] == 86400 and values[1]["timestamp"].endswith("Z")
    # a record created without HS_ADMIN gets its creator as admin
    assert values[100]["type"] == "HS_ADMIN"
    assert values[100]["data"]["value"]["handle"] == "0.NA/88.100.1"
    assert values[100]["data"]["value"]["index"] == 300

    again = await client.put(
        f"{API}/{h}", json={"values": [url_value("https://b.example")]}, auth=AUTH
    )
    assert (again.status_code, again.json()["responseCode"]) == (200, 1)
    assert (await record(client, h))[1]["data"]["value"] == "https://b.example"


async def test_lookup_is_case_insensitive_and_answers_in_the_case_asked_for(
    client: httpx.AsyncClient,
) -> None:
    await create(client, "88.100.1/Pump-7", [url_value("https://p.example")])
    resp = await client.get(f"{API}/88.100.1/PUMP-7")
    assert resp.status_code == 200 and resp.json()["handle"] == "88.100.1/PUMP-7"


async def test_a_username_sent_with_a_raw_colon_is_accepted(client: httpx.AsyncClient) -> None:
    resp = await client.put(
        f"{API}/88.100.1/RAW-1",
        json={"values": [url_value("https://r.example")]},
        auth=("300:0.NA/88.100.1", SECRET),
    )
    assert resp.status_code == 201, resp.text


async def test_a_bare_list_body_is_accepted(client: httpx.AsyncClient) -> None:
    resp = await client.put(
        f"{API}/88.100.1/LIST-1", json=[url_value("https://l.example")], auth=AUTH
    )
    assert resp.status_code == 201
    assert (await record(client, "88.100.1/LIST-1"))[1]["data"]["value"] == "https://l.example"


# -- filters -----------------------------------------------------------------------------


async def test_type_and_index_filters(client: httpx.AsyncClient) -> None:
    h = "88.100.1/FILTER-1"
    await create(
        client,
        h,
        [
            url_value("https://f.example"),
            text_value(2, "EMAIL", "a@f.example"),
            text_value(3, "DESC", "lathe"),
        ],
    )

    async def indices(query: str) -> list[int]:
        resp = await client.get(f"{API}/{h}?{query}")
        assert resp.status_code == 200 and resp.json()["responseCode"] == 1
        return sorted(v["index"] for v in resp.json()["values"])

    assert await indices("type=URL") == [1]
    assert await indices("index=2") == [2]
    assert await indices("type=URL&index=3") == [1, 3]
    assert await indices("index=2&index=3") == [2, 3]
    assert await indices("index=2,3") == [2, 3]

    none = await client.get(f"{API}/{h}?type=CHECKSUM")
    assert none.status_code == 200
    assert none.json() == {"responseCode": 200, "handle": h, "values": []}

    bad = await client.get(f"{API}/{h}?index=two")
    assert bad.status_code == 400 and bad.json()["responseCode"] == 202
    assert "index='two'" in bad.json()["message"]


# -- value writes with index= and overwrite= ---------------------------------------------


async def test_put_with_index_adds_and_replaces_only_those_values(
    client: httpx.AsyncClient, state: AppState
) -> None:
    h = "88.100.1/MOD-1"
    await create(
        client, h, [url_value("https://m.example"), text_value(2, "EMAIL", "old@m.example")]
    )

    resp = await client.put(
        f"{API}/{h}?index=2&index=5",
        json={"values": [text_value(2, "EMAIL", "new@m.example"), text_value(5, "DESC", "mill")]},
        auth=AUTH,
    )
    assert (resp.status_code, resp.json()["responseCode"]) == (200, 1)
    values = await record(client, h)
    assert values[1]["data"]["value"] == "https://m.example"
    assert values[2]["data"]["value"] == "new@m.example"
    assert values[5]["data"]["value"] == "mill"

    before = snapshot(state)
    exists = await client.put(
        f"{API}/{h}?index=2&overwrite=false",
        json={"values": [text_value(2, "EMAIL", "x@m.example")]},
        auth=AUTH,
    )
    assert exists.status_code == 409 and exists.json()["responseCode"] == 201
    assert "index 2" in exists.json()["message"]

    mismatched = await client.put(  # Handle.Net: "Mismatched indexes", a protocol error
        f"{API}/{h}?index=9", json={"values": [text_value(2, "EMAIL", "y@m.example")]}, auth=AUTH
    )
    assert mismatched.status_code == 400 and mismatched.json()["responseCode"] == 4
    assert "index= names [9] but the body holds indexes [2]" in mismatched.json()["message"]

    no_handle = await client.put(
        f"{API}/88.100.1/NOPE?index=1", json={"values": [url_value("https://n.example")]}, auth=AUTH
    )
    assert no_handle.status_code == 404 and no_handle.json()["responseCode"] == 100
    assert snapshot(state) == before


async def test_overwrite_false_on_an_existing_handle_is_409_101(
    client: httpx.AsyncClient, state: AppState
) -> None:
    h = "88.100.1/DUP-1"
    await create(client, h, [url_value("https://d.example")])
    before = snapshot(state)
    resp = await client.put(
        f"{API}/{h}?overwrite=false", json={"values": [url_value("https://e.example")]}, auth=AUTH
    )
    assert resp.status_code == 409
    assert resp.json()["responseCode"] == 101 and "already exists" in resp.json()["message"]
    assert snapshot(state) == before

    fresh = await client.put(
        f"{API}/88.100.1/DUP-2?overwrite=false",
        json={"values": [url_value("https://e.example")]},
        auth=AUTH,
    )
    assert fresh.status_code == 201


async def test_mint_new_suffix(client: httpx.AsyncClient) -> None:
    resp = await client.put(
        f"{API}/88.100.1/LOT-?mintNewSuffix=true",
        json={"values": [url_value("https://lot.example")]},
        auth=AUTH,
    )
    assert resp.status_code == 201
    minted = resp.json()["handle"]
    assert minted.startswith("88.100.1/LOT-") and len(minted) == len("88.100.1/LOT-") + 36
    assert (await record(client, minted))[1]["data"]["value"] == "https://lot.example"

    second = await client.put(
        f"{API}/88.100.1/LOT-?mintNewSuffix=true",
        json={"values": [url_value("https://lot.example")]},
        auth=AUTH,
    )
    assert second.status_code == 201 and second.json()["handle"] != minted


# -- deletes -----------------------------------------------------------------------------


async def test_delete_values_then_the_handle(client: httpx.AsyncClient, state: AppState) -> None:
    h = "88.100.1/DEL-1"
    await create(client, h, [url_value("https://x.example"), text_value(2, "EMAIL", "a@x.example")])

    resp = await client.delete(f"{API}/{h}?index=2", auth=AUTH)
    assert (resp.status_code, resp.json()) == (200, {"responseCode": 1, "handle": h})
    assert 2 not in await record(client, h)

    before = snapshot(state)
    missing = await client.delete(f"{API}/{h}?index=55", auth=AUTH)
    assert missing.status_code == 400 and missing.json()["responseCode"] == 200
    assert snapshot(state) == before

    gone = await client.delete(f"{API}/{h}", auth=AUTH)
    assert gone.status_code == 200
    after = await client.get(f"{API}/{h}")
    assert after.status_code == 404 and after.json()["responseCode"] == 100

    twice = await client.delete(f"{API}/{h}", auth=AUTH)
    assert twice.status_code == 404 and twice.json()["responseCode"] == 100


# -- where a handle lives ----------------------------------------------------------------


async def test_missing_handle_under_an_allocated_prefix_is_404_100(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get(f"{API}/88.100.1/NEVER")
    assert resp.status_code == 404
    assert resp.json()["responseCode"] == 100
    assert "not registered" in resp.json()["message"]


async def test_unknown_prefix_resolves_to_not_found_naming_the_prefix(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get(f"{API}/77.1/X")
    assert resp.status_code == 404 and resp.json()["responseCode"] == 100
    assert "77.1" in resp.json()["message"]


async def test_writes_outside_the_node_prefix_are_301(
    client: httpx.AsyncClient, state: AppState
) -> None:
    before = snapshot(state)
    resp = await client.put(
        f"{API}/88.200.1/X", json={"values": [url_value("https://a.example")]}, auth=AUTH
    )
    assert resp.status_code == 404 and resp.json()["responseCode"] == 301
    assert "88.200" in resp.json()["message"]

    top = await client.get("/nodes/88/api/handles/77.1/X")
    assert top.status_code == 404 and top.json()["responseCode"] == 301

    unknown = await client.get("/nodes/nowhere/api/handles/88.100.1/X")
    assert unknown.status_code == 404 and unknown.json()["responseCode"] == 301
    assert "nowhere" in unknown.json()["message"]
    assert snapshot(state) == before


async def test_root_refers_with_http_302_and_location(client: httpx.AsyncClient) -> None:
    await create(client, "88.100.1/REF-1", [url_value("https://ref.example")])
    resp = await client.get("/nodes/root/api/handles/88.100.1/REF-1?type=URL")
    assert resp.status_code == 302
    assert resp.headers["location"] == f"{SITES}/88/api/handles/88.100.1/REF-1?type=URL"
    body = resp.json()
    assert body["responseCode"] == 302
    assert body["referral"]["prefix"] == "88"
    assert [s["url"] for s in body["referral"]["sites"]] == [f"{SITES}/88"]

    top = await client.get("/nodes/88/api/handles/88.100.1/REF-1")
    assert top.status_code == 302
    assert top.headers["location"] == f"{SITES}/88.100/api/handles/88.100.1/REF-1"

    holder = await client.get("/nodes/88.100/api/handles/88.100.1/REF-1")
    assert holder.status_code == 200 and holder.json()["responseCode"] == 1


async def test_all_sites_down_is_502_with_response_code_2(
    client: httpx.AsyncClient, state: AppState
) -> None:
    transport = state.hierarchy.transport
    assert isinstance(transport, ids.LocalTransport)
    transport.down.add(f"{SITES}/root")
    resp = await client.get(f"{API}/88.300.1/X")
    assert resp.status_code == 502
    assert resp.json()["responseCode"] == 2
    assert f"{SITES}/root" in resp.json()["message"]


# -- malformed input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handle", "words"),
    [
        ("88.100.1", "no '/'"),
        ("88.1_0/X", "segment"),
        ("88.100.1/%20X", "white space"),
        ("88.100.1/X%07Y", "control character"),
        ("88.100.1/" + "a" * 256, "limit is 255"),
        ("0.NA/88..1", "segment"),
    ],
)
async def test_malformed_identifiers_are_400_102(
    client: httpx.AsyncClient, state: AppState, handle: str, words: str
) -> None:
    got = await client.get(f"{API}/{handle}")
    assert got.status_code == 400 and got.json()["responseCode"] == 102
    assert words in got.json()["message"]

    before = snapshot(state)
    put = await client.put(
        f"{API}/{handle}", json={"values": [url_value("https://a.example")]}, auth=AUTH
    )
    assert put.status_code == 400 and put.json()["responseCode"] == 102
    assert words in put.json()["message"]
    assert snapshot(state) == before


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"values": {"index": 1}}', "must be a list"),
        (b'{"values": [{"type": "URL", "data": "x"}]}', "integer 'index'"),
        (b'{"values": [{"index": 0, "type": "URL", "data": "x"}]}', "between 1 and"),
        (
            b'{"values": [{"index": 1, "type": "URL", "data": {"format": "weird", "value": "x"}}]}',
            "unknown data format",
        ),
        (
            b'{"values": [{"index": 1, "type": "URL", "data": {"format": "hex", "value": "zz"}}]}',
            "not valid hex",
        ),
        (b'{"values": [{"index": 1, "type": "URL", "data": "x", "ttl": -1}]}', "ttl"),
        (
            b'{"values": [{"index": 1, "type": "URL", "data": "x", "permissions": "11"}]}',
            "permissions",
        ),
    ],
)
async def test_bad_values_are_400_202_and_change_nothing(
    client: httpx.AsyncClient, state: AppState, body: bytes, words: str
) -> None:
    before = snapshot(state)
    resp = await client.put(
        f"{API}/88.100.1/BAD-1",
        content=body,
        auth=AUTH,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and resp.json()["responseCode"] == 202
    assert words in resp.json()["message"]
    assert snapshot(state) == before
    assert (await client.get(f"{API}/88.100.1/BAD-1")).status_code == 404


async def test_oversized_values_are_refused(client: httpx.AsyncClient, state: AppState) -> None:
    before = snapshot(state)
    big = await client.put(
        f"{API}/88.100.1/BIG-1", json={"values": [text_value(2, "DESC", "x" * 65_536)]}, auth=AUTH
    )
    assert big.status_code == 400 and big.json()["responseCode"] == 202
    assert "65536 bytes" in big.json()["message"] and "65535" in big.json()["message"]

    many = await client.put(
        f"{API}/88.100.1/BIG-1",
        json={"values": [text_value(i, "DESC", "v") for i in range(1, 258)]},
        auth=AUTH,
    )
    assert many.status_code == 400 and "at most 256" in many.json()["message"]
    assert snapshot(state) == before


async def test_unknown_value_types_are_refused(client: httpx.AsyncClient, state: AppState) -> None:
    before = snapshot(state)
    resp = await client.put(
        f"{API}/88.100.1/TYPE-1",
        json={"values": [text_value(2, "SPINDLE_SPEED", "1200")]},
        auth=AUTH,
    )
    assert resp.status_code == 400 and resp.json()["responseCode"] == 202
    assert "unknown type 'SPINDLE_SPEED'" in resp.json()["message"]
    assert snapshot(state) == before


async def test_template_rules_are_enforced(client: httpx.AsyncClient, state: AppState) -> None:
    template = ids.parse_template(
        "88.100.1",
        {
            "name": "machine",
            "version": "1.0",
            "industry_code": "C34",
            "items": [
                {
                    "name": "serial",
                    "type": "string",
                    "index": 2000,
                    "required": True,
                    "pattern": "SN-[0-9]{4}",
                },
                {"name": "power_kw", "type": "number", "index": 2001, "minimum": 0, "maximum": 500},
            ],
        },
    )
    with state.engine.begin() as conn:
        state.hierarchy.front.templates.add(conn, template, actor="test")
    uses = {"index": 3, "type": "TEMPLATE", "data": "machine@1.0"}
    h = "88.100.1/TPL-1"

    before = snapshot(state)
    cases = [
        ([uses, text_value(2000, "serial", "12")], "does not match pattern"),
        ([uses, text_value(2001, "power_kw", "7.5")], "required item 'serial' is missing"),
        (
            [uses, text_value(2000, "serial", "SN-0001"), text_value(2001, "power_kw", "900")],
            "above maximum 500",
        ),
        ([uses, text_value(2005, "serial", "SN-0001")], "must be at index 2000"),
        ([{**uses, "data": "machine@9.9"}, text_value(2000, "serial", "SN-0001")], "machine@9.9"),
    ]
    for values, words in cases:
        resp = await client.put(f"{API}/{h}", json={"values": values}, auth=AUTH)
        assert resp.status_code == 400, (words, resp.text)
        assert resp.json()["responseCode"] == 202 and words in resp.json()["message"]
    assert snapshot(state) == before

    ok = await client.put(
        f"{API}/{h}",
        json={
            "values": [
                uses,
                text_value(2000, "serial", "SN-0001"),
                text_value(2001, "power_kw", "7.5"),
            ]
        },
        auth=AUTH,
    )
    assert ok.status_code == 201, ok.text
    # removing a required item later breaks the template too
    before = snapshot(state)
    drop = await client.delete(f"{API}/{h}?index=2000", auth=AUTH)
    assert drop.status_code == 400 and "required item 'serial'" in drop.json()["message"]
    assert snapshot(state) == before


async def test_secret_keys_are_never_shown(client: httpx.AsyncClient, state: AppState) -> None:
    h = "88.100.1/KEYED-1"
    key = "a-device-secret-key-123"
    await create(
        client,
        h,
        [url_value("https://k.example"), {"index": 300, "type": "HS_SECKEY", "data": key}],
    )
    for query in ("", "?index=300", "?type=HS_SECKEY", "?auth=true"):
        resp = await client.get(f"{API}/{h}{query}")
        assert resp.status_code == 200
        assert "HS_SECKEY" not in resp.text and key not in resp.text
    prefix = await client.get(f"{API}/0.NA/88.100.1")
    assert prefix.status_code == 200 and "HS_SECKEY" not in prefix.text
    assert SECRET not in prefix.text
    rows, _ = snapshot(state)
    assert not any(key in str(r) or SECRET in str(r) for r in rows)  # stored only as hashes


# -- authentication and authorisation ----------------------------------------------------


async def test_writes_without_credentials_are_401_402(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create(client, "88.100.1/ANON-1", [url_value("https://a.example")])
    before = snapshot(state)
    for resp in (
        await client.put(
            f"{API}/88.100.1/ANON-2", json={"values": [url_value("https://a.example")]}
        ),
        await client.delete(f"{API}/88.100.1/ANON-1"),
        await client.get(f"{API}?prefix=88.100.1"),
    ):
        assert resp.status_code == 401
        assert resp.json()["responseCode"] == 402
        assert resp.headers["www-authenticate"].startswith("Basic")
    assert snapshot(state) == before


@pytest.mark.parametrize(
    ("auth", "words"),
    [
        # One message whether the identity is unknown or the secret wrong (no enumeration).
        (("300%3A0.NA/88.100.1", "wrong-secret-key"), "unknown identity or wrong secret key"),
        (("301%3A0.NA/88.100.1", SECRET), "unknown identity or wrong secret key"),
        (("300%3A0.NA/88.100.9", SECRET), "unknown identity or wrong secret key"),
        (("admin", SECRET), "index:handle"),
    ],
)
async def test_bad_credentials_are_401_403(
    client: httpx.AsyncClient, state: AppState, auth: tuple[str, str], words: str
) -> None:
    before = snapshot(state)
    resp = await client.put(
        f"{API}/88.100.1/AUTH-1", json={"values": [url_value("https://a.example")]}, auth=auth
    )
    assert resp.status_code == 401
    assert resp.json()["responseCode"] == 403
    assert words in resp.json()["message"]
    assert snapshot(state)[0] == before[0]  # no record changed (failures are audited)


@pytest.mark.parametrize(
    "header",
    ["Basic !!!not-base64", "Basic " + "bm9jb2xvbg==", "Digest username=x", "Bearer idn_unknown"],
)
async def test_unusable_authorization_headers_are_401(
    client: httpx.AsyncClient, state: AppState, header: str
) -> None:
    before = snapshot(state)
    resp = await client.put(
        f"{API}/88.100.1/AUTH-2",
        json={"values": [url_value("https://a.example")]},
        headers={"Authorization": header},
    )
    assert resp.status_code == 401 and resp.json()["responseCode"] == 403
    assert resp.json()["message"]
    assert snapshot(state) == before


async def test_a_tenant_cannot_write_another_tenants_prefix(
    client: httpx.AsyncClient, state: AppState, other_tenant: ids.Allocation
) -> None:
    await create(client, "88.100.1/MINE-1", [url_value("https://mine.example")])
    before = snapshot(state)
    attempts = [
        await client.put(
            f"{API}/88.100.1/THEIRS-1",
            json={"values": [url_value("https://evil.example")]},
            auth=OTHER_AUTH,
        ),
        await client.put(
            f"{API}/88.100.1/MINE-1",
            json={"values": [url_value("https://evil.example")]},
            auth=OTHER_AUTH,
        ),
        await client.put(
            f"{API}/88.100.1/MINE-1?index=2",
            json={"values": [text_value(2, "DESC", "x")]},
            auth=OTHER_AUTH,
        ),
        await client.delete(f"{API}/88.100.1/MINE-1", auth=OTHER_AUTH),
        await client.delete(f"{API}/88.100.1/MINE-1?index=1", auth=OTHER_AUTH),
        await client.get(f"{API}?prefix=88.100.1", auth=OTHER_AUTH),
    ]
    for resp in attempts:
        assert resp.status_code == 403, resp.text
        assert resp.json()["responseCode"] == 400
        assert "300:0.NA/88.100.2" in resp.json()["message"]
    assert snapshot(state) == before
    assert (await record(client, "88.100.1/MINE-1"))[1]["data"]["value"] == "https://mine.example"

    own = await client.put(
        f"{API}/88.100.2/THEIRS-1",
        json={"values": [url_value("https://t.example")]},
        auth=OTHER_AUTH,
    )
    assert own.status_code == 201


async def test_platform_users_write_by_bearer_token_within_their_enterprise(
    client: httpx.AsyncClient, state: AppState, other_tenant: ids.Allocation
) -> None:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
        assert password is not None
        admin = core.authenticate(conn, "admin", password)
        admin_token = core.issue_token(conn, admin, name="t")
        member = core.create_user(
            conn,
            username="li.lei",
            password="a-long-password",
            role=core.Role.ENTERPRISE_ADMIN,
            actor="test",
            enterprise_id=other_tenant.enterprise_id,
        )
        member_token = core.issue_token(conn, member, name="t")

    as_admin = await client.put(
        f"{API}/88.100.1/BY-ADMIN",
        json={"values": [url_value("https://a.example")]},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert as_admin.status_code == 201

    before = snapshot(state)
    refused = await client.put(
        f"{API}/88.100.1/BY-MEMBER",
        json={"values": [url_value("https://a.example")]},
        headers={"Authorization": f"Bearer {member_token}"},
    )
    assert refused.status_code == 403 and refused.json()["responseCode"] == 400
    assert "88.100.1" in refused.json()["message"]
    assert snapshot(state) == before

    client.cookies.set("indunet_session", member_token)
    allowed = await client.put(
        f"{API}/88.100.2/BY-MEMBER",
        json={"values": [url_value("https://a.example")]},
        headers={HEADER: csrf_token(member_token)},
    )
    assert allowed.status_code == 201


# -- listing -----------------------------------------------------------------------------


async def test_list_handles_of_a_prefix_page_by_page(client: httpx.AsyncClient) -> None:
    names = [f"88.100.1/ITEM-{i}" for i in range(5)]
    for name in names:
        await create(client, name, [url_value("https://i.example")])

    pages = []
    for page in range(3):
        resp = await client.get(f"{API}?prefix=88.100.1&page={page}&pageSize=2", auth=AUTH)
        assert resp.status_code == 200
        body = resp.json()
        assert body["responseCode"] == 1 and body["totalCount"] == "5"
        assert body["page"] == page and body["pageSize"] == 2
        pages.append(body["handles"])
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [h for p in pages for h in p] == sorted(names)

    bad = await client.get(f"{API}?prefix=88.100.1&page=first", auth=AUTH)
    assert bad.status_code == 400 and "'first' is not a whole number" in bad.json()["message"]
    no_prefix = await client.get(API, auth=AUTH)
    assert no_prefix.status_code == 400 and no_prefix.json()["responseCode"] == 102
    bad_prefix = await client.get(f"{API}?prefix=88..1", auth=AUTH)
    assert bad_prefix.status_code == 400 and bad_prefix.json()["responseCode"] == 102


# -- hostile numbers, bodies and platform records ----------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("page=" + "9" * 5000, "page='9999"),  # too many digits for int() used to be a 500
        ("page=99999999999999999999", "is not a whole number from 0 to"),
        ("page=-1", "page='-1' is not a whole number"),
        ("pageSize=-1", "pageSize='-1' is not a whole number"),  # SQLite LIMIT -1 = no cap
        ("pageSize=10001", "pageSize=10001 is out of range"),
        ("pageSize=%C2%B2", "pageSize='²' is not a whole number"),
    ],
)
async def test_page_and_page_size_out_of_range_are_400(
    client: httpx.AsyncClient, query: str, words: str
) -> None:
    resp = await client.get(f"{API}?prefix=88.100.1&{query}", auth=AUTH)
    assert resp.status_code == 400, resp.text
    assert resp.json()["responseCode"] == int(ids.RC.INVALID_VALUE)
    assert words in resp.json()["message"]


async def test_page_size_zero_answers_the_count_alone(client: httpx.AsyncClient) -> None:
    """Handle.Net: "If the page size is zero a count of handles is returned but no handles"."""
    for suffix in ("CNT-1", "CNT-2", "CNT-3"):
        await create(client, f"88.100.1/{suffix}", [url_value("https://c.example")])
    full = (await client.get(f"{API}?prefix=88.100.1", auth=AUTH)).json()
    resp = await client.get(f"{API}?prefix=88.100.1&pageSize=0", auth=AUTH)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["handles"] == [] and body["pageSize"] == 0
    assert body["totalCount"] == full["totalCount"] and int(body["totalCount"]) >= 3


@pytest.mark.parametrize("index", ["9" * 5000, "2147483648", "0", "-3", "²"])
async def test_huge_or_odd_indices_are_400_on_read_write_and_delete(
    client: httpx.AsyncClient, index: str
) -> None:
    await create(client, "88.100.1/IDX-1", [url_value("https://i.example")])
    get = await client.get(f"{API}/88.100.1/IDX-1", params={"index": index})
    put = await client.put(
        f"{API}/88.100.1/IDX-1",
        params={"index": index},
        json={"values": [url_value("https://j.example")]},
        auth=AUTH,
    )
    delete = await client.delete(f"{API}/88.100.1/IDX-1", params={"index": index}, auth=AUTH)
    for resp in (get, put, delete):
        assert resp.status_code == 400, resp.text
        assert "index=" in resp.json()["message"]


async def test_an_oversized_put_is_refused_before_it_is_parsed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    from indunet.web.api.handles import MAX_PUT_BYTES

    before = snapshot(state)
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        piece = b" " * (1024 * 1024)
        yield b'{"values": ['
        for _ in range(MAX_PUT_BYTES // len(piece) + 8):
            sent += len(piece)
            yield piece

    resp = await client.put(f"{API}/88.100.1/BIG-1", content=chunks(), auth=AUTH)
    assert resp.status_code == 413, resp.text  # by the route's body limit or by the API's own
    assert sent < MAX_PUT_BYTES + 4 * 1024 * 1024  # the rest of the body was never read
    declared = await client.put(
        f"{API}/88.100.1/BIG-1",
        content=b"{}",
        headers={"Content-Length": str(MAX_PUT_BYTES + 1)},
        auth=AUTH,
    )
    assert declared.status_code == 413
    assert snapshot(state)[0] == before[0]


async def test_enterprise_users_cannot_change_device_identifier_records(
    client: httpx.AsyncClient, state: AppState, allocation: ids.Allocation
) -> None:
    """``<prefix>/dev-*`` records are the platform's: its admins and enterprise admins only."""
    tokens = {}
    with state.engine.begin() as conn:
        for name, role in (
            ("op.user", core.Role.ENTERPRISE_USER),
            ("op.admin", core.Role.ENTERPRISE_ADMIN),
        ):
            user = core.create_user(
                conn,
                username=name,
                password="a-long-password",
                role=role,
                actor="test",
                enterprise_id=allocation.enterprise_id,
            )
            tokens[role] = {"Authorization": f"Bearer {core.issue_token(conn, user, name='t')}"}
    await create(client, "88.100.1/dev-pump-1", [url_value("https://dev.example/1")])
    await create(client, "88.100.1/ordinary-1", [url_value("https://o.example/1")])
    user = tokens[core.Role.ENTERPRISE_USER]
    before = snapshot(state)
    for resp in (
        await client.put(
            f"{API}/88.100.1/DEV-pump-1",
            json={"values": [url_value("https://evil.example")]},
            headers=user,
        ),
        await client.put(
            f"{API}/88.100.1/dev-new",
            json={"values": [url_value("https://evil.example")]},
            headers=user,
        ),
        await client.delete(f"{API}/88.100.1/dev-pump-1", headers=user),
        await client.delete(f"{API}/88.100.1/dev-pump-1?index=1", headers=user),
    ):
        assert resp.status_code == 403, resp.text
        assert "managed by the platform" in resp.json()["message"]
    assert snapshot(state)[0] == before[0]
    ordinary = await client.put(
        f"{API}/88.100.1/ordinary-1",
        json={"values": [url_value("https://o.example/2")]},
        headers=user,
    )
    assert ordinary.status_code == 200
    admin = tokens[core.Role.ENTERPRISE_ADMIN]
    allowed = await client.put(
        f"{API}/88.100.1/dev-pump-1",
        json={"values": [url_value("https://dev.example/2")]},
        headers=admin,
    )
    assert allowed.status_code == 200, allowed.text


# -- listing: the whole list, its cap, and the prefix handle form (issue 11) --------------


async def _register(client: httpx.AsyncClient, count: int, stem: str = "ALL") -> list[str]:
    names = [f"88.100.1/{stem}-{i}" for i in range(count)]
    for name in names:
        await create(client, name, [url_value("https://l.example")])
    return names


async def test_without_paging_the_whole_list_is_streamed_in_batches(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "BATCH", 2)  # five handles walk in three batches
    names = await _register(client, 5)
    resp = await client.get(f"{API}?prefix=88.100.1", auth=AUTH)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["responseCode"] == 1 and body["prefix"] == "88.100.1"
    assert body["handles"] == sorted(names) and body["totalCount"] == "5"
    assert "page" not in body and "pageSize" not in body  # as Handle.Net: no paging, no keys


async def test_a_whole_list_above_the_cap_is_refused_before_anything_is_sent(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _register(client, 4)
    monkeypatch.setattr(listing, "MAX_WHOLE_LIST", 3)
    resp = await client.get(f"{API}?prefix=88.100.1", auth=AUTH)
    assert resp.status_code == 400 and resp.json()["responseCode"] == 2
    assert "4 handles are registered under 88.100.1" in resp.json()["message"]
    assert "page= and pageSize=" in resp.json()["message"]
    paged = await client.get(f"{API}?prefix=88.100.1&page=1&pageSize=3", auth=AUTH)
    assert paged.status_code == 200 and len(paged.json()["handles"]) == 1


def test_a_walk_that_grows_past_the_cap_stops_with_an_error(
    state: AppState, allocation: ids.Allocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    front = state.hierarchy.front
    for i in range(3):
        front.put(f"88.100.1/GROW-{i}", [url_value("https://g.example")], ids.OPERATOR)
    monkeypatch.setattr(listing, "MAX_WHOLE_LIST", 3)
    walk = front.listing("88.100.1", ids.OPERATOR)
    assert walk.total == 3
    for i in range(3, 5):  # registered after the count, before the walk
        front.put(f"88.100.1/GROW-{i}", [url_value("https://g.example")], ids.OPERATOR)
    batches = walk.batches(2)
    assert len(next(batches)) == 2
    with pytest.raises(listing.ListTooLarge, match="at most 3"):
        next(batches)


@pytest.mark.parametrize("prefix", ["0.NA/88.100.1", "0.na/88.100.1"])
async def test_the_prefix_may_be_given_as_its_prefix_handle(
    client: httpx.AsyncClient, prefix: str
) -> None:
    names = await _register(client, 3, "NA")
    whole = await client.get(API, params={"prefix": prefix}, auth=AUTH)
    assert whole.status_code == 200, whole.text
    assert whole.json()["handles"] == sorted(names) and whole.json()["prefix"] == prefix
    page = await client.get(API, params={"prefix": prefix, "page": 0, "pageSize": 2}, auth=AUTH)
    assert page.json()["handles"] == sorted(names)[:2] and page.json()["totalCount"] == "3"


async def test_page_size_alone_is_the_first_page_and_empty_numbers_are_refused(
    client: httpx.AsyncClient, state: AppState
) -> None:
    names = await _register(client, 3, "PS")
    first = await client.get(f"{API}?prefix=88.100.1&pageSize=2", auth=AUTH)
    assert first.json()["handles"] == sorted(names)[:2] and first.json()["page"] == 0
    for query in ("page=", "pageSize=", "page=-1&pageSize=2", "page=0&pageSize=-5"):
        resp = await client.get(f"{API}?prefix=88.100.1&{query}", auth=AUTH)
        assert resp.status_code == 400, query
        assert "is not a whole number from 0 to" in resp.json()["message"]


# -- PUT: what Handle.Net's servlet refuses, and what it keeps (issue 11) -----------------


async def _refused(
    client: httpx.AsyncClient,
    state: AppState,
    url: str,
    status: int,
    rc: int,
    words: str,
    **kw: Any,
) -> None:
    before = snapshot(state)
    resp = await client.put(url, auth=AUTH, **kw)
    assert (resp.status_code, resp.json()["responseCode"]) == (status, rc), resp.text
    assert words in resp.json()["message"]
    assert snapshot(state) == before


async def test_a_body_not_sent_as_json_is_415(client: httpx.AsyncClient, state: AppState) -> None:
    body = b'{"values": [{"index": 1, "type": "URL", "data": "https://x.example"}]}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        await _refused(
            client,
            state,
            f"{API}/88.100.1/CT-1",
            415,
            4,
            "must be sent as application/json",
            content=body,
            headers={"Content-Type": content_type},
        )
    ok = await client.put(
        f"{API}/88.100.1/CT-1",
        content=body,
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
        auth=AUTH,
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"index": 1, "type": "URL"}', '{"values": [...]}, a list of values, or one value'),
        (b'"https://x.example"', '{"values": [...]}, a list of values, or one value'),
        (
            b'{"handle": "88.100.1/OTHER", "values": [{"index": 1, "type": "URL", "data": "x"}]}',
            "the body names handle '88.100.1/OTHER' but the request is for '88.100.1/BODY-1'",
        ),
        (b'{"handle": 7, "values": []}', "the body names handle '7'"),
    ],
)
async def test_malformed_put_bodies_are_protocol_errors(
    client: httpx.AsyncClient, state: AppState, body: bytes, words: str
) -> None:
    await _refused(
        client,
        state,
        f"{API}/88.100.1/BODY-1",
        400,
        4,
        words,
        content=body,
        headers={"Content-Type": "application/json"},
    )


async def test_the_body_handle_matches_case_insensitively_and_one_value_is_a_body(
    client: httpx.AsyncClient,
) -> None:
    named = await client.put(
        f"{API}/88.100.1/Named-1",
        json={"handle": "88.100.1/NAMED-1", "values": [url_value("https://n.example")]},
        auth=AUTH,
    )
    assert named.status_code == 201, named.text
    one = await client.put(
        f"{API}/88.100.1/ONE-1", json=text_value(2, "DESC", "a single value"), auth=AUTH
    )
    assert one.status_code == 201, one.text
    assert (await record(client, "88.100.1/ONE-1"))[2]["data"]["value"] == "a single value"
    listed = await client.put(
        f"{API}/88.100.1/LIST-1", json=[url_value("https://l.example")], auth=AUTH
    )
    assert listed.status_code == 201


async def test_duplicate_indexes_are_409_201_and_change_nothing(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """Handle.Net's server: "Index conflict", RC_VALUE_ALREADY_EXISTS, HTTP 409."""
    values = [url_value("https://a.example"), text_value(1, "DESC", "same index")]
    await _refused(
        client, state, f"{API}/88.100.1/TWICE-1", 409, 201, "index 1 appears twice", json=values
    )
    await create(client, "88.100.1/TWICE-2", [url_value("https://a.example")])
    await _refused(
        client,
        state,
        f"{API}/88.100.1/TWICE-2?index=2",
        409,
        201,
        "index 2 appears twice",
        json={"values": [text_value(2, "DESC", "a"), text_value(2, "DESC", "b")]},
    )


async def test_indexes_in_the_body_must_be_those_of_the_query_unless_various(
    client: httpx.AsyncClient, state: AppState
) -> None:
    h = "88.100.1/IDXQ-1"
    await create(client, h, [url_value("https://q.example")])
    await _refused(
        client,
        state,
        f"{API}/{h}?index=2&index=3",
        400,
        4,
        "index= names [2, 3] but the body holds indexes [2]",
        json={"values": [text_value(2, "DESC", "two")]},
    )
    await _refused(
        client,
        state,
        f"{API}/{h}?index=2",
        400,
        4,
        "index= names [2] but the body holds indexes [2, 4]",
        json={"values": [text_value(2, "DESC", "two"), text_value(4, "DESC", "four")]},
    )
    await _refused(
        client, state, f"{API}/{h}?index=various", 400, 4, "holds no value", json={"values": []}
    )
    various = await client.put(
        f"{API}/{h}?index=various",
        json={"values": [text_value(2, "DESC", "two"), text_value(4, "DESC", "four")]},
        auth=AUTH,
    )
    assert various.status_code == 200, various.text
    got = await record(client, h)
    assert got[1]["data"]["value"] == "https://q.example"  # kept: only 2 and 4 were written
    assert (got[2]["data"]["value"], got[4]["data"]["value"]) == ("two", "four")


async def test_absolute_ttls_and_references_are_stored_and_returned(
    client: httpx.AsyncClient,
) -> None:
    h = "88.100.1/TTL-1"
    refs = [{"handle": "88.100.1/OTHER", "index": 1}, {"handle": "0.NA/88.100.1", "index": 300}]
    await create(
        client,
        h,
        [
            {**url_value("https://t.example"), "ttl": "2030-01-01T08:00:00+08:00"},
            {**text_value(2, "DESC", "relative"), "ttl": 60, "references": refs},
        ],
    )
    got = await record(client, h)
    assert got[1]["ttl"] == "2030-01-01T00:00:00Z"  # an absolute TTL is answered as a time
    assert got[2]["ttl"] == 60 and got[2]["references"] == refs
    assert "references" not in got[1]
    replaced = await client.put(
        f"{API}/{h}?index=1", json={"values": [url_value("https://u.example")]}, auth=AUTH
    )
    assert replaced.status_code == 200
    assert (await record(client, h))[1]["ttl"] == 86_400


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"ttl": "next tuesday"}, "is neither a whole number of seconds nor a time"),
        ({"ttl": "2040-01-01T00:00:00Z"}, "to 2038-01-19T03:14:07Z"),
        ({"ttl": 2**31}, "ttl must be a whole number of seconds or a time"),
        ({"references": {"handle": "x", "index": 1}}, "references must be a list"),
        ({"references": [{"handle": "88.100.1/X"}]}, "each reference needs a 'handle'"),
        ({"references": [{"handle": "", "index": 1}]}, "each reference needs a 'handle'"),
        ({"references": [{"handle": "h", "index": 1}] * 65}, "at most 64"),
    ],
)
async def test_bad_ttls_and_references_are_400_202(
    client: httpx.AsyncClient, state: AppState, value: dict[str, Any], words: str
) -> None:
    await _refused(
        client,
        state,
        f"{API}/88.100.1/BADTTL-1",
        400,
        202,
        words,
        json={"values": [{**url_value("https://b.example"), **value}]},
    )


def test_an_absolute_ttl_caches_until_its_time_and_not_after() -> None:
    value = ids.HandleValue(1, "URL", "string", "x", ttl=1_000, ttl_absolute=True)
    assert value.seconds_to_live(now=400) == 600
    assert value.seconds_to_live(now=2_000) == 0
    assert ids.HandleValue(1, "URL", "string", "x", ttl=60).seconds_to_live(now=2_000) == 60


async def test_the_whole_list_leaves_the_server_batch_by_batch(
    state: AppState, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed, not built: with batches of 2, five handles leave in separate body messages."""
    monkeypatch.setattr(listing, "BATCH", 2)
    names = await _register(client, 5, "CHUNK")
    app = create_app(state)
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": API,
        "raw_path": API.encode(),
        "root_path": "",
        "query_string": b"prefix=88.100.1",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Basic {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer ends
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert len(bodies) >= 5  # the head, three batches (2 + 2 + 1) and the tail
    assert orjson.loads(b"".join(bodies))["handles"] == sorted(names)
