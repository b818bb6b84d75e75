"""Active identifiers end to end through the ASGI app: enrolment by the enterprise, signed
announcements and key rotation by the device (Ed25519 and SM2), and every refusal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from tests.conftest import bearer

from indunet import core, ids
from indunet.core import Role
from indunet.ids import active
from indunet.ids import upkeep as ids_upkeep
from indunet.web import AppState, create_app
from indunet_device import DeviceKey, generate, sign_request
from indunet_device.signing import rotation_proof

ANNOUNCE = "/api/v1/active/announce"
ROTATE = "/api/v1/active/rotate"
ENROL = "/api/v1/active/enrol"
HANDLE = "88.100.1/ai-module-1"


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def ent(state: AppState, enterprise: core.Enterprise) -> dict[str, str]:
    return bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)


async def enrol(
    c: httpx.AsyncClient, headers: dict[str, str], key: DeviceKey, handle: str = HANDLE, **kw: Any
) -> httpx.Response:
    return await c.post(
        ENROL, json={"handle": handle, "key": key.hs_pubkey(), **kw}, headers=headers
    )


async def signed(
    c: httpx.AsyncClient,
    key: DeviceKey,
    doc: dict[str, Any],
    *,
    path: str = ANNOUNCE,
    handle: str = HANDLE,
    body: bytes | None = None,
    **kw: Any,
) -> httpx.Response:
    raw = orjson.dumps(doc) if body is None else body
    headers = sign_request(key, "POST", path, handle, raw, **kw)
    headers["Content-Type"] = "application/json"
    return await c.post(path, content=raw, headers=headers)


async def values(c: httpx.AsyncClient, handle: str = HANDLE) -> dict[int, Any]:
    got = await c.get(f"/api/handles/{handle}")
    assert got.status_code == 200, got.text
    return {v["index"]: v for v in got.json()["values"]}


def allocation_owner(state: AppState) -> int:
    return next(
        a.enterprise_id for a in ids.list_allocations(state.engine) if a.prefix == "88.100.1"
    )


def reason(resp: httpx.Response) -> str:
    return str(resp.json().get("reason"))


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
async def test_enrol_then_the_device_announces_itself(
    client: httpx.AsyncClient, ent: dict[str, str], alg: str
) -> None:
    key = generate(alg)
    made = await enrol(client, ent, key)
    assert made.status_code == 201, made.text
    rec = await values(client)
    assert rec[active.KEY_INDEX]["type"] == "HS_PUBKEY"
    assert rec[active.KEY_INDEX]["data"] == {"format": "key", "value": key.hs_pubkey()}
    assert rec[active.ADMIN_INDEX]["data"]["value"] == {
        "handle": HANDLE,
        "index": 300,
        "permissions": "000001110000",  # add, remove and modify value: nothing more
    }
    doc = {
        "handle": HANDLE,
        "status": "running",
        "firmware": "v2.4.1",
        "location": {"lat": 24.4798, "lon": 118.0894},
        "links": ["88.100.1/line-3", "https://example.com/manual.pdf"],
    }
    resp = await signed(client, key, doc)
    assert resp.status_code == 200, resp.text
    assert resp.json()["fields"] == ["status", "firmware", "location", "links"]
    rec = await values(client)
    assert rec[2101]["data"]["value"] == "running"
    assert rec[2102]["data"]["value"] == "v2.4.1"
    assert rec[2103]["data"]["value"] == "24.4798,118.0894"
    assert orjson.loads(rec[2104]["data"]["value"]) == doc["links"]
    assert rec[2106]["type"] == "announced_at"
    # a second announcement changes only what it names
    assert (await signed(client, key, {"handle": HANDLE, "status": "fault"})).status_code == 200
    rec = await values(client)
    assert rec[2101]["data"]["value"] == "fault" and rec[2102]["data"]["value"] == "v2.4.1"
    # the write went through the node: history and audit name the device
    total, changes = ids.Node.history(
        client._transport.app.state.indunet.hierarchy.front,  # type: ignore[attr-defined]
        HANDLE,
    )
    assert total == 3 and changes[0].actor == f"active:{HANDLE}"


async def test_refusals(client: httpx.AsyncClient, ent: dict[str, str], state: AppState) -> None:
    key = generate("ed25519")
    assert (await enrol(client, ent, key)).status_code == 201
    before = await values(client)
    doc = {"handle": HANDLE, "status": "online"}

    # no signature, and a signature by another key
    unsigned = await client.post(ANNOUNCE, json=doc)
    assert unsigned.status_code == 401 and reason(unsigned) == "active_signature_missing"
    wrong = await signed(client, generate("ed25519"), doc)
    assert wrong.status_code == 401 and reason(wrong) == "active_signature_bad"
    sm2 = await signed(client, generate("sm2"), doc)
    assert sm2.status_code == 401 and reason(sm2) == "active_signature_bad"

    # a body altered after signing
    raw = orjson.dumps(doc)
    headers = sign_request(key, "POST", ANNOUNCE, HANDLE, raw)
    headers["Content-Type"] = "application/json"
    tampered = await client.post(
        ANNOUNCE, content=raw.replace(b"online", b"fault "), headers=headers
    )
    assert tampered.status_code == 401 and reason(tampered) == "active_signature_bad"
    # signed for another path (rotate) and replayed at announce
    other_path = await signed(client, key, doc, path=ROTATE)
    assert other_path.status_code in (400, 401)
    moved = sign_request(key, "POST", ROTATE, HANDLE, raw)
    moved["Content-Type"] = "application/json"
    replayed_elsewhere = await client.post(ANNOUNCE, content=raw, headers=moved)
    assert reason(replayed_elsewhere) == "active_signature_bad"

    # a timestamp six minutes off either way
    for skew in (-361, 361):
        old = await signed(client, key, doc, timestamp=int(time.time()) + skew)
        assert old.status_code == 401 and reason(old) == "active_timestamp_skew"

    # the same request twice: the second is a replay, even with a valid signature
    raw = orjson.dumps(doc)
    headers = sign_request(key, "POST", ANNOUNCE, HANDLE, raw)
    headers["Content-Type"] = "application/json"
    first = await client.post(ANNOUNCE, content=raw, headers=headers)
    assert first.status_code == 200, first.text
    again = await client.post(ANNOUNCE, content=raw, headers=headers)
    assert again.status_code == 409 and reason(again) == "active_replay"

    # oversize bodies, by length and by content
    big = orjson.dumps({"handle": HANDLE, "firmware": "x" * 20_000})
    huge = await signed(client, key, {}, body=big)
    assert huge.status_code == 413 and reason(huge) == "active_body_too_large"

    # fields a device may not set, and bad values
    cases = [
        ({"handle": HANDLE, "HS_ADMIN": "x"}, "active_field_not_writable"),
        ({"handle": HANDLE, "device_id": "x"}, "active_field_not_writable"),
        ({"handle": HANDLE, "status": "exploded"}, "active_status"),
        ({"handle": HANDLE, "firmware": "v1\n"}, "active_field_text"),
        ({"handle": HANDLE, "location": {"lat": 91, "lon": 0}}, "active_location"),
        ({"handle": HANDLE, "location": {"lat": float("nan"), "lon": 0}}, "active_body_json"),
        ({"handle": HANDLE, "links": ["javascript:alert(1)"]}, "active_link"),
        ({"handle": HANDLE, "links": ["88.100.1/x"] * 17}, "active_links"),
        ({"handle": HANDLE, "device": "../etc"}, "active_device_id"),
    ]
    for body, why in cases:
        if why == "active_body_json":
            raw_body = b'{"handle": "88.100.1/ai-module-1", "location": {"lat": NaN, "lon": 0}}'
            resp = await signed(client, key, {}, body=raw_body)
        else:
            resp = await signed(client, key, body)
        assert resp.status_code == 400 and reason(resp) == why, (body, resp.text)
    bad_nonce = await signed(client, key, doc, nonce="short")
    assert bad_nonce.status_code == 400 and reason(bad_nonce) == "active_nonce_format"

    # an unknown handle is the same answer as a wrong key
    ghost = await signed(client, key, {"handle": "88.100.1/ai-ghost"}, handle="88.100.1/ai-ghost")
    assert ghost.status_code == 401 and reason(ghost) == "active_signature_bad"

    after = await values(client)
    assert after[active.KEY_INDEX] == before[active.KEY_INDEX]
    assert after[active.ADMIN_INDEX] == before[active.ADMIN_INDEX]
    with state.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM ids_active_nonces")).scalar_one()
    assert kept == 1  # the one accepted request


async def test_the_device_cannot_touch_its_admin_or_key_through_the_handle_api(
    client: httpx.AsyncClient, ent: dict[str, str]
) -> None:
    # its identity has no secret key: Handle Basic authentication as it fails
    key = generate("ed25519")
    assert (await enrol(client, ent, key)).status_code == 201
    resp = await client.put(
        f"/api/handles/{HANDLE}?index=300",
        json={"values": [{"index": 300, "type": "URL", "data": "http://x"}]},
        auth=(f"300%3A{HANDLE}", "anything"),
    )
    assert resp.status_code == 401


@pytest.mark.parametrize(("old_alg", "new_alg"), [("ed25519", "sm2"), ("sm2", "ed25519")])
async def test_key_rotation_needs_the_current_key_and_a_proof_of_the_new(
    client: httpx.AsyncClient, ent: dict[str, str], old_alg: str, new_alg: str
) -> None:
    old, new = generate(old_alg), generate(new_alg)
    assert (await enrol(client, ent, old)).status_code == 201
    nonce = "n" * 24
    # the proof made by a third key does not pass
    stranger = generate(new_alg)
    doc = {
        "handle": HANDLE,
        "key": new.hs_pubkey(),
        "proof": rotation_proof(stranger, HANDLE, nonce),
    }
    refused = await signed(client, old, doc, path=ROTATE, nonce=nonce)
    assert refused.status_code == 401 and reason(refused) == "active_proof_bad"
    # signed by the new key only: refused
    nonce = "m" * 24
    doc = {"handle": HANDLE, "key": new.hs_pubkey(), "proof": rotation_proof(new, HANDLE, nonce)}
    by_new = await signed(client, new, doc, path=ROTATE, nonce=nonce)
    assert by_new.status_code == 401 and reason(by_new) == "active_signature_bad"
    # signed by the current key, proven by the new one: done
    done = await signed(client, old, doc, path=ROTATE, nonce=nonce)
    assert done.status_code == 200, done.text
    rec = await values(client)
    assert rec[300]["data"]["value"] == new.hs_pubkey()
    # the old key is of no use now; the new one is
    stale = await signed(client, old, {"handle": HANDLE, "status": "online"})
    assert stale.status_code == 401
    fresh = await signed(client, new, {"handle": HANDLE, "status": "online"})
    assert fresh.status_code == 200, fresh.text


async def test_enrolment_is_the_enterprises(
    client: httpx.AsyncClient, ent: dict[str, str], state: AppState
) -> None:
    key = generate("sm2")
    assert (
        await client.post(ENROL, json={"handle": HANDLE, "key": key.hs_pubkey()})
    ).status_code == 401
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCF"), name="B", actor="t", verified=True
        )
    stranger = bearer(state.engine, "oa", Role.ENTERPRISE_ADMIN, other.id)
    assert (await enrol(client, stranger, key)).status_code == 404  # as for no such prefix
    assert (await enrol(client, stranger, key, "88.999.9/ai-x")).status_code == 404
    user = bearer(state.engine, "eu", Role.ENTERPRISE_USER, allocation_owner(state))
    assert (await enrol(client, user, key)).status_code == 403  # admins enrol keys
    # below the API too: a principal without the right creates neither record nor template
    nobody = ids.Principal(actor="nobody", prefixes=frozenset())
    with pytest.raises(ids.NotAuthorized):
        active.enrol(state.hierarchy.front, nobody, HANDLE, key.hs_pubkey())
    assert not state.hierarchy.front.templates.for_prefix("88.100.1")
    bad = await client.post(ENROL, json={"handle": HANDLE, "key": "QUJD"}, headers=ent)
    assert bad.status_code == 400 and reason(bad) == "active_key_format"
    assert (await enrol(client, ent, key)).status_code == 201
    twice = await enrol(client, ent, generate("sm2"))
    assert twice.status_code == 409  # the enterprise replaces a key through the Handle API


METER = {
    "id": "meter-1",
    "name": "1号电表",
    "model": "indunet:power-meter",
    "connection": {"host": "127.0.0.1", "port": 1502},
}


async def test_a_device_that_announces_itself_is_linked_to_its_device_record(
    client: httpx.AsyncClient, ent: dict[str, str], state: AppState
) -> None:
    for dev in ("meter-1", "meter-2"):
        made = await client.post("/api/v1/devices", json={**METER, "id": dev}, headers=ent)
        assert made.status_code == 201, made.text
    key, other_key = generate("sm2"), generate("ed25519")
    assert (await enrol(client, ent, key)).status_code == 201
    assert (await enrol(client, ent, other_key, "88.100.1/ai-module-2")).status_code == 201

    unknown = await signed(client, key, {"handle": HANDLE, "status": "online", "device": "nope"})
    assert unknown.status_code == 404 and reason(unknown) == "active_device_unknown"
    assert 2101 not in await values(client)  # a refused announcement writes nothing
    done = await signed(client, key, {"handle": HANDLE, "status": "online", "device": "meter-1"})
    assert done.status_code == 200, done.text
    assert done.json()["link"] == {
        "device": "meter-1",
        "identifier": "88.100.1/dev-meter-1",
        "linked": True,
    }
    assert (await values(client))[2105]["data"]["value"] == "88.100.1/dev-meter-1"
    dev = await values(client, "88.100.1/dev-meter-1")
    assert dev[2110]["data"]["value"] == HANDLE and dev[2110]["type"] == "active_id"
    assert dev[2001]["data"]["value"] == "meter-1"  # the device record keeps its values

    # announcing again is idempotent; naming another device once linked is refused
    again = await signed(client, key, {"handle": HANDLE, "device": "meter-1"})
    assert again.status_code == 200 and again.json()["link"]["linked"] is True
    moved = await signed(client, key, {"handle": HANDLE, "device": "meter-2"})
    assert moved.status_code == 403 and reason(moved) == "active_device_mismatch"
    # another module cannot take meter-1 over
    taken = await signed(
        client, other_key, {"handle": "88.100.1/ai-module-2", "device": "meter-1"},
        handle="88.100.1/ai-module-2",
    )  # fmt: skip
    assert taken.status_code == 409 and reason(taken) == "active_device_taken"


async def test_a_device_of_another_enterprise_is_never_linked(
    client: httpx.AsyncClient, ent: dict[str, str], state: AppState
) -> None:
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCF"), name="B", actor="t", verified=True
        )
    ids.allocate(state.hierarchy.front, "88.100.2", other, actor="t", secret="other-secret-22")
    theirs = bearer(state.engine, "oa", Role.ENTERPRISE_ADMIN, other.id)
    made = await client.post("/api/v1/devices", json={**METER, "id": "their-1"}, headers=theirs)
    assert made.status_code == 201, made.text
    key = generate("ed25519")
    assert (await enrol(client, ent, key)).status_code == 201
    resp = await signed(client, key, {"handle": HANDLE, "device": "their-1"})
    assert resp.status_code == 404 and reason(resp) == "active_device_unknown"
    assert 2110 not in await values(client, "88.100.2/dev-their-1")
    # nor may an enterprise bind its identifier to another's device at enrolment
    bound = await enrol(client, ent, generate("sm2"), "88.100.1/ai-x", device="their-1")
    assert bound.status_code == 404 and reason(bound) == "active_device_unknown"


async def test_a_nonce_is_kept_until_its_request_expires_then_released(
    client: httpx.AsyncClient, ent: dict[str, str], state: AppState
) -> None:
    key = generate("ed25519")
    assert (await enrol(client, ent, key)).status_code == 201
    doc = {"handle": HANDLE, "status": "online"}
    nonce = "kept-nonce-0123456789"
    assert (await signed(client, key, doc, nonce=nonce)).status_code == 200
    again = await signed(client, key, doc, nonce=nonce)  # a new timestamp does not help
    assert again.status_code == 409 and reason(again) == "active_replay"
    with state.engine.begin() as conn:  # as if 361 s had passed: the old request is dead
        conn.execute(sa.text("UPDATE ids_active_nonces SET expires = expires - 1000"))
    later = await signed(client, key, doc, nonce=nonce)
    assert later.status_code == 200, later.text
    with state.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT expires FROM ids_active_nonces")).all()
    assert len(rows) == 1 and rows[0][0] > time.time() + active.NONCE_KEEP_S - 10


async def test_a_link_across_two_prefixes_of_one_enterprise(
    client: httpx.AsyncClient, ent: dict[str, str], state: AppState, enterprise: core.Enterprise
) -> None:
    ids.allocate(state.hierarchy.front, "88.100.9", enterprise, actor="t", secret="second-key-99")
    made = await client.post("/api/v1/devices", json=METER, headers=ent)
    assert made.status_code == 201 and made.json()["identifier"] == "88.100.1/dev-meter-1"
    key = generate("ed25519")
    handle = "88.100.9/ai-meter-1"
    assert (await enrol(client, ent, key, handle)).status_code == 201
    resp = await signed(client, key, {"handle": handle, "device": "meter-1"}, handle=handle)
    assert resp.status_code == 200, resp.text
    dev = await values(client, "88.100.1/dev-meter-1")
    assert dev[2110]["data"]["value"] == handle


async def test_the_upkeep_forgets_expired_nonces_of_every_identifier(
    client: httpx.AsyncClient, ent: dict[str, str], state: AppState
) -> None:
    key = generate("ed25519")
    assert (await enrol(client, ent, key)).status_code == 201
    for _ in range(3):
        assert (await signed(client, key, {"handle": HANDLE, "status": "idle"})).status_code == 200
    with state.engine.begin() as conn:  # two of them from a request long past
        conn.execute(
            sa.text(
                "UPDATE ids_active_nonces SET expires = 0 WHERE nonce IN "
                "(SELECT nonce FROM ids_active_nonces LIMIT 2)"
            )
        )
    upkeep = ids_upkeep.Upkeep(state.engine, list(state.hierarchy.nodes.values()))
    await asyncio.to_thread(upkeep.run_once)
    with state.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM ids_active_nonces")).scalar_one()
    assert left == 1


async def test_the_enterprise_replaces_a_lost_key_through_the_handle_api(
    client: httpx.AsyncClient, ent: dict[str, str]
) -> None:
    lost, new = generate("sm2"), generate("sm2")
    assert (await enrol(client, ent, lost)).status_code == 201
    value = {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": new.hs_pubkey()}}
    put = await client.put(
        f"/api/handles/{HANDLE}?index=300",
        json={"values": [value]},
        auth=("300%3A0.NA/88.100.1", "s3cret-key-for-tests"),  # the prefix's key (pyhandle)
    )
    assert put.status_code == 200, put.text
    assert (await signed(client, lost, {"handle": HANDLE, "status": "idle"})).status_code == 401
    assert (await signed(client, new, {"handle": HANDLE, "status": "idle"})).status_code == 200
