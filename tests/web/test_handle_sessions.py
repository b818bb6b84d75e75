"""Handle.Net's challenge-response authentication (``/api/sessions``, ``Authorization: Handle``)
with HS_PUBKEY keys, in-process, driven by an independent client (``handle_pubkey_client``)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.web.handle_pubkey_client import answer, open_session, pubkey_value
from tests.web.test_handles_api import API, AUTH, snapshot, text_value, url_value

from indunet import ids
from indunet.ids import active
from indunet.web import AppState, create_app
from indunet_device import generate

ADMIN_ID = "88.100.1/ADMIN-RSA"
IDENTITY = f"300:{ADMIN_ID}"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RIGHTS = "011111110011"  # pyhandle's default, every right but the derived-prefix ones


def admin_value(handle: str, index: int = 300, perms: str = RIGHTS) -> dict[str, Any]:
    return {
        "index": 100,
        "type": "HS_ADMIN",
        "data": {
            "format": "admin",
            "value": {"handle": handle, "index": index, "permissions": perms},
        },
    }


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        # the RSA identity, and a record it administers, written with the prefix's key
        ident = await c.put(
            f"{API}/{ADMIN_ID}", json={"values": [pubkey_value(300, KEY)]}, auth=AUTH
        )
        assert ident.status_code == 201, ident.text
        owned = [url_value("https://a.example"), admin_value(ADMIN_ID)]
        made = await c.put(f"{API}/88.100.1/OWNED-1", json={"values": owned}, auth=AUTH)
        assert made.status_code == 201, made.text
        made = await c.put(
            f"{API}/88.100.1/NOT-OWNED",
            json={"values": [url_value("https://b.example")]},
            auth=AUTH,
        )
        assert made.status_code == 201, made.text
        yield c


def _hdr(value: str) -> dict[str, str]:
    return {"Authorization": value}


async def test_an_rsa_session_authenticates_and_writes_with_the_identity_s_rights(
    client: httpx.AsyncClient,
) -> None:
    opened = await client.post("/api/sessions")
    assert opened.status_code == 201 and opened.headers["location"] == "/api/sessions/this"
    assert set(opened.json()) == {"sessionId", "nonce"}
    assert len(base64.b64decode(opened.json()["nonce"])) == 16

    signed = answer(KEY, IDENTITY, opened.json()["sessionId"], opened.json()["nonce"])
    resp = await client.put("/api/sessions/this", headers=_hdr(signed.header))
    assert resp.status_code == 200, resp.text
    assert resp.json()["authenticated"] is True and resp.json()["id"] == IDENTITY
    assert resp.json()["nonce"] != opened.json()["nonce"]  # the answered nonce is spent

    session = _hdr(f'Handle sessionId="{signed.session_id}"')
    got = await client.get("/api/sessions/this", headers=session)
    assert got.json()["authenticated"] is True and got.json()["id"] == IDENTITY
    put = await client.put(
        f"{API}/88.100.1/OWNED-1?index=2",
        json={"values": [text_value(2, "EMAIL", "ops@x.example")]},
        headers=session,
    )
    assert put.status_code == 200, put.text
    again = await client.put(  # the header that authenticated it is still taken on it
        f"{API}/88.100.1/OWNED-1?index=3",
        json={"values": [text_value(3, "EMAIL", "b@x.example")]},
        headers=_hdr(signed.header),
    )
    assert again.status_code == 200, again.text
    refused = await client.put(
        f"{API}/88.100.1/NOT-OWNED?index=2",
        json={"values": [text_value(2, "EMAIL", "x@x.example")]},
        headers=session,
    )
    assert refused.status_code == 403 and refused.json()["responseCode"] == 400
    gone = await client.delete("/api/sessions/this", headers=session)
    assert gone.status_code == 204
    after = await client.put(
        f"{API}/88.100.1/OWNED-1?index=4",
        json={"values": [text_value(4, "EMAIL", "c@x.example")]},
        headers=session,
    )
    assert after.status_code == 401 and after.json()["responseCode"] == 402


async def test_an_answer_without_a_session_gets_a_challenge_then_succeeds_in_one_request(
    client: httpx.AsyncClient,
) -> None:
    first = await client.put(
        f"{API}/88.100.1/OWNED-1?index=2",
        json={"values": [text_value(2, "EMAIL", "ops@x.example")]},
        headers=_hdr(f'Handle id="{IDENTITY}", type="HS_PUBKEY", alg="SHA256"'),
    )
    assert first.status_code == 401 and first.json()["responseCode"] == 402
    challenges = first.headers.get_list("www-authenticate")
    assert 'Basic realm="handle"' in challenges
    (handle_challenge,) = [c for c in challenges if c.startswith("Handle ")]
    fields = dict(
        part.strip().split("=", 1) for part in handle_challenge.removeprefix("Handle ").split(",")
    )
    sid, nonce = fields["sessionId"].strip('"'), fields["nonce"].strip('"')
    signed = answer(KEY, IDENTITY, sid, nonce)
    second = await client.put(
        f"{API}/88.100.1/OWNED-1?index=2",
        json={"values": [text_value(2, "EMAIL", "ops@x.example")]},
        headers=_hdr(signed.header),
    )
    assert second.status_code == 200, second.text
    got = await client.get("/api/handles/88.100.1/OWNED-1")
    assert any(v["index"] == 2 for v in got.json()["values"])


async def test_an_answer_can_come_in_a_json_body_as_handle_net_takes_it(
    client: httpx.AsyncClient,
) -> None:
    opened = await open_session(client)
    signed = answer(KEY, IDENTITY, opened["sessionId"], opened["nonce"])
    fields = dict(
        p.strip().split("=", 1) for p in signed.header.removeprefix("Handle ").split(", ")
    )
    body = {k: v.strip('"') for k, v in fields.items() if k != "sessionId"}
    body["id"] = IDENTITY
    resp = await client.put(
        "/api/sessions/this",
        json=body,
        headers=_hdr(f'Handle sessionId="{opened["sessionId"]}"'),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == IDENTITY


async def test_a_wrong_key_or_unknown_identity_is_refused_with_one_answer_and_changes_nothing(
    client: httpx.AsyncClient, state: AppState
) -> None:
    before = snapshot(state)
    answers = []
    for key, who in ((OTHER_KEY, IDENTITY), (KEY, "300:88.100.1/NOBODY"), (KEY, "301:" + ADMIN_ID)):
        opened = await open_session(client)
        signed = answer(key, who, opened["sessionId"], opened["nonce"])
        resp = await client.put("/api/sessions/this", headers=_hdr(signed.header))
        assert resp.status_code == 401, resp.text
        assert "authenticated" not in resp.json()
        answers.append(resp.json()["error"])
        write = await client.put(
            f"{API}/88.100.1/OWNED-1?index=9",
            json={"values": [text_value(9, "EMAIL", "x@x.example")]},
            headers=_hdr(signed.header),
        )
        assert write.status_code == 401 and write.json()["responseCode"] == 403
    assert len(set(answers)) == 1 and "signature does not match" in answers[0]
    rows, _ = snapshot(state)
    assert rows == before[0]  # no record changed (failed logins are audited)


async def test_a_captured_answer_cannot_be_replayed(client: httpx.AsyncClient) -> None:
    opened = await open_session(client)
    signed = answer(KEY, IDENTITY, opened["sessionId"], opened["nonce"])
    ok = await client.put("/api/sessions/this", headers=_hdr(signed.header))
    assert ok.status_code == 200
    # the same signature over the same nonce with a new cnonce? no: the nonce is spent
    resigned = answer(KEY, IDENTITY, opened["sessionId"], opened["nonce"])
    spent = await client.put("/api/sessions/this", headers=_hdr(resigned.header))
    assert spent.status_code == 401 and "signature does not match" in spent.json()["error"]
    # the captured header on another session: that session's nonce differs
    other = await open_session(client)
    moved = signed.header.replace(opened["sessionId"], other["sessionId"])
    replay = await client.put("/api/sessions/this", headers=_hdr(moved))
    assert replay.status_code == 401
    assert (
        "authenticated"
        not in (
            await client.get(
                "/api/sessions/this", headers=_hdr(f'Handle sessionId="{other["sessionId"]}"')
            )
        ).json()
    )
    # after the session ended, the header opens nothing
    await client.delete("/api/sessions/this", headers=_hdr(signed.header))
    dead = await client.put(
        f"{API}/88.100.1/OWNED-1?index=2",
        json={"values": [text_value(2, "EMAIL", "x@x.example")]},
        headers=_hdr(signed.header),
    )
    assert dead.status_code == 401 and dead.json()["responseCode"] == 402


async def test_a_session_is_bound_to_its_identity(client: httpx.AsyncClient) -> None:
    second = "88.100.1/ADMIN-TWO"
    made = await client.put(
        f"{API}/{second}", json={"values": [pubkey_value(300, OTHER_KEY)]}, auth=AUTH
    )
    assert made.status_code == 201
    opened = await open_session(client)
    signed = answer(KEY, IDENTITY, opened["sessionId"], opened["nonce"])
    assert (await client.put("/api/sessions/this", headers=_hdr(signed.header))).status_code == 200
    now = (await client.get("/api/sessions/this", headers=_hdr(signed.header))).json()
    switch = answer(OTHER_KEY, f"300:{second}", opened["sessionId"], now["nonce"])
    resp = await client.put("/api/sessions/this", headers=_hdr(switch.header))
    assert resp.status_code == 401 and "bound to" in resp.json()["error"]


BAD_HEADERS = [
    "Handle",
    "Handle    ",
    "Handle sessionId",
    'Handle sessionId="unterminated',
    "Handle a=b c=d",
    "Handle =x",
    "Handle " + ", ".join(f"p{i}=v" for i in range(40)),
    'Handle sessionId="' + "x" * 9000 + '"',
    'Handle id="300:88.100.1/ADMIN-RSA", cnonce="!!", type="HS_PUBKEY", alg="SHA256", '
    'signature="AAAA", sessionId="{sid}"',
    'Handle id="300:88.100.1/ADMIN-RSA", cnonce="AAAA", type="HS_PUBKEY", alg="SHA256", '
    'signature="not base64", sessionId="{sid}"',
    'Handle id="300:88.100.1/ADMIN-RSA", cnonce="AAAA", type="HS_SECKEY", alg="SHA256", '
    'signature="AAAA", sessionId="{sid}"',
    'Handle id="300:88.100.1/ADMIN-RSA", cnonce="AAAA", type="HS_PUBKEY", alg="SHA256", '
    'signature="AAAA", sessionId="{sid}", version="7"',
    'Handle id="300:88.100.1/ADMIN-RSA", type="HS_PUBKEY", sessionId="{sid}"',
    'Handle id="no-index", cnonce="AAAA", type="HS_PUBKEY", alg="SHA256", '
    'signature="AAAA", sessionId="{sid}"',
    'Handle id="300:", cnonce="AAAA", type="HS_PUBKEY", alg="MD5", signature="AAAA", '
    'sessionId="{sid}"',
    'Handle sessionId="no-such-session"',
    'Handle sessionId="{sid}", id="300:88.100.1/ADMIN-RSA", cnonce="AAAA", type="HS_PUBKEY", '
    'alg="SHA256", signature="' + "A" * 6000 + '"',
]


@pytest.mark.parametrize("template", BAD_HEADERS)
async def test_hostile_headers_get_a_clear_4xx_and_change_nothing(
    client: httpx.AsyncClient, state: AppState, template: str
) -> None:
    opened = await open_session(client)
    header = template.replace("{sid}", opened["sessionId"])
    before = snapshot(state)[0]
    write = await client.put(
        f"{API}/88.100.1/OWNED-1?index=9",
        json={"values": [text_value(9, "EMAIL", "x@x.example")]},
        headers=_hdr(header),
    )
    assert write.status_code in (400, 401), write.text
    assert write.json()["responseCode"] in (402, 403) and write.json()["message"]
    sessions = await client.put("/api/sessions/this", headers=_hdr(header))
    assert sessions.status_code in (400, 401, 403), sessions.text
    assert sessions.json()["error"]
    assert snapshot(state)[0] == before


async def test_session_paths_answer_as_handle_net_does(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/sessions/this")).status_code == 403  # no session named
    assert (await client.get("/api/sessions/other")).status_code == 403
    named = await client.post("/api/sessions", headers=_hdr('Handle sessionId="x"'))
    assert named.status_code == 400
    unknown = await client.delete("/api/sessions/this", headers=_hdr('Handle sessionId="x"'))
    assert unknown.status_code == 403 and unknown.json()["authenticated"] is False
    # a session of the front node is no session of another node of the process
    opened = await open_session(client)
    other = await client.get(
        "/nodes/root/api/sessions/this", headers=_hdr(f'Handle sessionId="{opened["sessionId"]}"')
    )
    assert other.status_code == 403


async def test_sessions_over_plain_http_are_refused(
    state: AppState, allocation: ids.Allocation
) -> None:
    state.settings.plain_http_auth = "refuse"  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        resp = await c.post("/api/sessions")
        assert resp.status_code == 403 and resp.json()["reason"] == "plain_http_auth"


async def test_a_device_key_opens_a_session_but_cannot_replace_keys_it_should_not(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """An active identifier's HS_ADMIN gives its own identity value rights only: through the
    Handle API it may write values, and replace its own key (a rotation), but never add a key,
    an HS_SECKEY or touch its HS_ADMIN."""
    device = generate("ed25519")
    handle = "88.100.1/ACTIVE-7"
    active.enrol(state.hierarchy.front, ids.OPERATOR, handle, device.hs_pubkey())
    opened = await open_session(client)
    nonce = base64.b64decode(opened["nonce"])
    cnonce = b"device-cnonce-16"
    sig = base64.b64encode(device.sign(nonce + cnonce)).decode()
    header = (
        f'Handle sessionId="{opened["sessionId"]}", id="300%3A{handle}", '
        f'cnonce="{base64.b64encode(cnonce).decode()}", type="HS_PUBKEY", alg="Ed25519", '
        f'signature="{sig}"'
    )
    assert (await client.put("/api/sessions/this", headers=_hdr(header))).status_code == 200
    session = _hdr(f'Handle sessionId="{opened["sessionId"]}"')

    async def write(index: int, value: dict[str, Any]) -> httpx.Response:
        return await client.put(
            f"{API}/{handle}?index={index}", json={"values": [value]}, headers=session
        )

    assert (await write(2101, text_value(2101, "status", "running"))).status_code == 200
    intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for index, value in (
        (301, pubkey_value(301, intruder)),
        (302, text_value(302, "HS_SECKEY", "a-secret-of-mine")),
        (100, admin_value(handle, 301, "111111111111")),
    ):
        resp = await write(index, value)
        assert resp.status_code == 403, (index, resp.text)
        assert resp.json()["responseCode"] == 400
    gone = await client.delete(f"{API}/{handle}?index=300", headers=session)
    assert gone.status_code == 403  # nor remove its key
    whole = await client.get(f"{API}/{handle}")
    values = [*whole.json()["values"], pubkey_value(301, intruder)]
    replaced = await client.put(f"{API}/{handle}", json={"values": values}, headers=session)
    assert replaced.status_code == 403  # nor add one by replacing the whole record
    assert "modify_admin" in replaced.json()["message"]
    rotated = generate("ed25519")
    own = {
        "index": 300,
        "type": "HS_PUBKEY",
        "data": {"format": "key", "value": rotated.hs_pubkey()},
    }
    assert (await write(300, own)).status_code == 200  # its own key: a rotation
