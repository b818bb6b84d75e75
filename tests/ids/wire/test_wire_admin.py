"""Administration over the Handle protocol with HS_PUBKEY challenge-response, driven over a
real TCP socket by the RFC 3652 client (``rfc_client``: its own encoding of admin requests,
challenge answers and Handle.Net's public key layout, signing with ``cryptography``)."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.ids.wire import rfc_client as rfc

from indunet import ids
from indunet.ids import OPERATOR, Node, history, prefixes
from indunet.ids.tables import prefixes as prefix_table
from indunet.ids.wire import admin as wire_admin
from indunet.ids.wire.server import WireServer, WireService
from indunet.web.state import AppState

HOST = "127.0.0.1"
ADMIN_ID = "88.100.1/WIRE-ADMIN"
NOBODY_ID = "88.100.1/WIRE-NOBODY"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALL_BITS = 0x0FFF


def _sign(key: rsa.RSAPrivateKey) -> object:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _pubkey_json(key: rsa.RSAPrivateKey) -> dict[str, object]:
    n = key.public_key().public_numbers()
    raw = rfc.rsa_pubkey(n.e, n.n)
    return {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": _b64(raw)}}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def value(index: int, vtype: str, data: bytes) -> rfc.Value:
    return rfc.Value(index, 0, 0, 3600, 0x0E, vtype, data)


def admin_value(handle: str = ADMIN_ID) -> rfc.Value:
    return value(100, "HS_ADMIN", rfc.admin_data(ALL_BITS, handle, 300))


@pytest.fixture
async def server(state: AppState, allocation: ids.Allocation) -> AsyncIterator[WireServer]:
    node = state.hierarchy.front
    await asyncio.to_thread(node.put, ADMIN_ID, [_pubkey_json(KEY)], OPERATOR)
    await asyncio.to_thread(node.put, NOBODY_ID, [_pubkey_json(OTHER_KEY)], OPERATOR)
    grant = {
        "index": 101,
        "type": "HS_ADMIN",
        "data": {
            "format": "admin",
            "value": {"handle": ADMIN_ID, "index": 300, "permissions": "111111111111"},
        },
    }
    await asyncio.to_thread(node.put, "0.NA/88.100.1", [grant], OPERATOR, indices=[101])
    srv = WireServer(WireService(node), HOST, 0)
    await srv.start()
    yield srv
    await srv.stop()


def _conversation(
    port: int,
    request: bytes,
    *,
    key: rsa.RSAPrivateKey = KEY,
    identity: str = ADMIN_ID,
    index: int = 300,
    new_connection: bool = False,
    answer: bytes | None = None,
) -> tuple[rfc.Reply, rfc.Reply, bytes]:
    """The challenge, the answer to the challenge answer, and the answer's bytes."""
    c = rfc.Connection(HOST, port)
    try:
        challenge = c.ask(request)
        assert challenge.rc == 402, challenge
        assert rfc.digest_ok(request, challenge)
        assert len(challenge.nonce) == 16 and challenge.session != 0
        if answer is None:
            answer = rfc.challenge_answer(
                challenge, identity, index, rfc.signed_response(_sign(key), challenge)
            )
        if new_connection:  # as Handle.Net's resolver does
            c.close()
            c = rfc.Connection(HOST, port)
        return challenge, c.ask(answer), answer
    finally:
        c.close()


async def admin(server: WireServer, request: bytes, **kw: object) -> rfc.Reply:
    return (await asyncio.to_thread(_conversation, server.port, request, **kw))[1]  # type: ignore[arg-type]


def _values(node: Node, handle: str) -> dict[int, tuple[str, object]]:
    rec = node.record(handle)
    assert rec is not None
    return {v.index: (v.type, v.value) for v in rec.values}


async def test_create_add_modify_remove_delete_each_authenticated(
    state: AppState, server: WireServer
) -> None:
    node = state.hierarchy.front
    h = "88.100.1/WIRE-1"
    url = value(1, "URL", b"https://a.example.cn/1")
    made = await admin(
        server, rfc.admin_request(rfc.OP_CREATE_HANDLE, h, values=(url, admin_value()))
    )
    assert (made.rc, made.op) == (1, rfc.OP_CREATE_HANDLE), made
    assert made.request_id == 12  # the answer's request id
    assert _values(node, h)[1] == ("URL", "https://a.example.cn/1")
    assert _values(node, h)[100][0] == "HS_ADMIN"

    added = await admin(
        server,
        rfc.admin_request(rfc.OP_ADD_VALUE, h, values=(value(2, "DESC", "泵".encode()),)),
        new_connection=True,
    )
    assert added.rc == 1, added
    assert _values(node, h)[2] == ("DESC", "泵")
    members = struct.pack("!i", 2) + b"".join(
        struct.pack("!I", len(m)) + m + struct.pack("!i", 300)
        for m in (ADMIN_ID.encode(), NOBODY_ID.encode())
    )
    group = await admin(
        server, rfc.admin_request(rfc.OP_ADD_VALUE, h, values=(value(3, "HS_VLIST", members),))
    )
    assert group.rc == 1, group
    kind, listed = _values(node, h)[3]
    assert kind == "HS_VLIST"
    assert [(m["handle"], m["index"]) for m in listed] == [(ADMIN_ID, 300), (NOBODY_ID, 300)]  # type: ignore[attr-defined]

    again = await admin(
        server, rfc.admin_request(rfc.OP_ADD_VALUE, h, values=(value(2, "DESC", b"x"),))
    )
    assert again.rc == 201, again  # RC_VALUE_ALREADY_EXISTS
    assert _values(node, h)[2] == ("DESC", "泵")

    new_url = value(1, "URL", b"https://b.example.cn/1")
    changed = await admin(server, rfc.admin_request(rfc.OP_MODIFY_VALUE, h, values=(new_url,)))
    assert changed.rc == 1, changed
    assert _values(node, h)[1] == ("URL", "https://b.example.cn/1")
    missing = await admin(
        server, rfc.admin_request(rfc.OP_MODIFY_VALUE, h, values=(value(9, "URL", b"u"),))
    )
    assert missing.rc == 200, missing  # RC_VALUES_NOT_FOUND

    removed = await admin(server, rfc.admin_request(rfc.OP_REMOVE_VALUE, h, indexes=(2,)))
    assert removed.rc == 1, removed
    assert 2 not in _values(node, h)

    # what was written over the wire resolves over the wire and from the node
    got = (await asyncio.to_thread(rfc.ask_tcp, HOST, server.port, rfc.resolution_request(h)))[0]
    assert [(v.index, v.data) for v in got.values if v.type == "URL"] == [
        (1, b"https://b.example.cn/1")
    ]

    gone = await admin(server, rfc.admin_request(rfc.OP_DELETE_HANDLE, h))
    assert gone.rc == 1, gone
    assert node.record(h) is None
    # each write is in the record's history, by the identity that signed it
    f = history.RecordFilter(handle=h)
    logged = [(c.action, c.actor) for c in history.export(state.engine, f)]
    assert len(logged) >= 6, logged  # create, add, add, modify, remove, delete
    assert {actor for _, actor in logged} == {f"300:{ADMIN_ID}"}, logged
    assert {"handle.create", "handle.delete"} <= {action for action, _ in logged}, logged


async def test_wrong_signature_and_unknown_identity_fail_authentication(
    state: AppState, server: WireServer
) -> None:
    h = "88.100.1/WIRE-2"
    req = rfc.admin_request(rfc.OP_CREATE_HANDLE, h, values=(admin_value(),))
    wrong = await admin(server, req, key=OTHER_KEY)
    assert wrong.rc == 403 and "signature" in wrong.message, wrong
    unknown = await admin(server, req, identity="88.100.1/NO-SUCH-ID")
    assert unknown.rc == 403, unknown
    bad_index = await admin(server, req, index=301)
    assert bad_index.rc == 403, bad_index
    assert state.hierarchy.front.record(h) is None


async def test_an_identity_without_rights_is_not_authorized(
    state: AppState, server: WireServer
) -> None:
    h = "88.100.1/WIRE-3"
    req = rfc.admin_request(rfc.OP_CREATE_HANDLE, h, values=(admin_value(NOBODY_ID),))
    refused = await admin(server, req, key=OTHER_KEY, identity=NOBODY_ID)
    assert refused.rc == 400, refused  # RC_NOT_AUTHORIZED, as Handle.Net's INVALID_ADMIN
    assert state.hierarchy.front.record(h) is None


async def test_a_challenge_answer_counts_once(state: AppState, server: WireServer) -> None:
    h = "88.100.1/WIRE-4"
    req = rfc.admin_request(rfc.OP_CREATE_HANDLE, h, values=(admin_value(),))
    _, first, answer = await asyncio.to_thread(_conversation, server.port, req)
    assert first.rc == 1, first
    await asyncio.to_thread(state.hierarchy.front.delete, h, OPERATOR)
    replay = (await asyncio.to_thread(rfc.ask_tcp, HOST, server.port, answer))[0]
    assert replay.rc == 405, replay  # RC_AUTHENTICATION_TIMEOUT: no such challenge pending
    assert state.hierarchy.front.record(h) is None


async def test_a_lapsed_challenge_is_refused(state: AppState, server: WireServer) -> None:
    admin_side = server.service.admin
    clock = [1000.0]
    admin_side.clock = lambda: clock[0]

    def lapse(port: int) -> rfc.Reply:
        c = rfc.Connection(HOST, port)
        try:
            ch = c.ask(rfc.admin_request(rfc.OP_DELETE_HANDLE, ADMIN_ID))
            clock[0] += 61
            return c.ask(
                rfc.challenge_answer(ch, ADMIN_ID, 300, rfc.signed_response(_sign(KEY), ch))
            )
        finally:
            c.close()

    late = await asyncio.to_thread(lapse, server.port)
    assert late.rc == 405, late
    assert state.hierarchy.front.record(ADMIN_ID) is not None


async def test_hs_seckey_answers_are_refused(server: WireServer) -> None:
    req = rfc.admin_request(rfc.OP_DELETE_HANDLE, ADMIN_ID)
    ch, reply, _ = await asyncio.to_thread(
        _conversation,
        server.port,
        req,
        answer=None,
    )
    assert ch.rc == 402 and reply.rc == 1  # the identity may delete itself: a control
    c = rfc.Connection(HOST, server.port)
    try:
        ch = await asyncio.to_thread(c.ask, rfc.admin_request(rfc.OP_DELETE_HANDLE, NOBODY_ID))
        seckey = rfc.challenge_answer(ch, ADMIN_ID, 300, b"\x00" * 20, auth_type=b"HS_SECKEY")
        refused = await asyncio.to_thread(c.ask, seckey)
    finally:
        c.close()
    assert refused.rc == 403 and "HS_SECKEY" in refused.message, refused


async def test_admin_requests_over_udp_are_refused(server: WireServer) -> None:
    req = rfc.admin_request(rfc.OP_DELETE_HANDLE, ADMIN_ID)
    reply = await asyncio.to_thread(rfc.ask_udp, HOST, server.port, req)
    assert reply.rc == 2 and "TCP" in reply.message, reply


async def test_malformed_answers_and_values(state: AppState, server: WireServer) -> None:
    node = state.hierarchy.front
    req = rfc.admin_request(rfc.OP_ADD_VALUE, ADMIN_ID, values=(value(5, "URL", b"u"),))
    c = rfc.Connection(HOST, server.port)
    try:
        ch = await asyncio.to_thread(c.ask, req)
        broken = rfc.challenge_answer(ch, ADMIN_ID, 300, b"\x00\x00\x00\x09abc")
        bad = await asyncio.to_thread(c.ask, broken)
    finally:
        c.close()
    assert bad.rc == 4 and "malformed" in bad.message, bad
    # truncated body of the answer: the answer's own body cannot be read
    c = rfc.Connection(HOST, server.port)
    try:
        ch = await asyncio.to_thread(c.ask, req)
        answer = rfc.challenge_answer(ch, ADMIN_ID, 300, b"")
        cut = answer[:44] + struct.pack("!I", 3) + answer[48:]  # authType length too long
        short = await asyncio.to_thread(c.ask, cut)
    finally:
        c.close()
    assert short.rc == 4, short
    assert 5 not in _values(node, ADMIN_ID)

    site = value(6, "HS_SITE", b"\x00\x01")
    refused = await admin(server, rfc.admin_request(rfc.OP_ADD_VALUE, ADMIN_ID, values=(site,)))
    assert refused.rc == 202 and "HS_SITE" in refused.message, refused
    short_admin = value(7, "HS_ADMIN", b"\x0f\xff")
    refused = await admin(
        server, rfc.admin_request(rfc.OP_ADD_VALUE, ADMIN_ID, values=(short_admin,))
    )
    assert refused.rc == 202, refused
    assert {6, 7}.isdisjoint(_values(node, ADMIN_ID))


async def test_an_answer_from_another_address_is_refused(
    state: AppState, server: WireServer
) -> None:
    def other_address(port: int) -> tuple[rfc.Reply, rfc.Reply]:
        c = rfc.Connection(HOST, port)
        try:
            ch = c.ask(rfc.admin_request(rfc.OP_DELETE_HANDLE, ADMIN_ID))
        finally:
            c.close()
        signed = rfc.challenge_answer(ch, ADMIN_ID, 300, rfc.signed_response(_sign(KEY), ch))
        elsewhere = rfc.Connection(HOST, port, source="127.0.0.2")
        try:
            stolen = elsewhere.ask(signed)
        finally:
            elsewhere.close()
        c = rfc.Connection(HOST, port)  # the address it was sent to can still answer
        try:
            return stolen, c.ask(signed)
        finally:
            c.close()

    stolen, own = await asyncio.to_thread(other_address, server.port)
    assert stolen.rc == 405, stolen
    assert own.rc == 1, own
    assert state.hierarchy.front.record(ADMIN_ID) is None


async def test_waiting_challenges_are_bounded(
    monkeypatch: pytest.MonkeyPatch, server: WireServer
) -> None:
    monkeypatch.setattr(wire_admin, "MAX_PER_PEER", 2)

    def three(port: int) -> list[rfc.Reply]:
        c = rfc.Connection(HOST, port)
        try:
            chs = [c.ask(rfc.admin_request(rfc.OP_DELETE_HANDLE, NOBODY_ID)) for _ in range(3)]
        finally:
            c.close()
        out = []
        for ch in chs:  # each answer on its own connection, as Handle.Net sends them
            signed = rfc.challenge_answer(ch, ADMIN_ID, 300, rfc.signed_response(_sign(KEY), ch))
            out.append(rfc.ask_tcp(HOST, port, signed)[0])
        return out

    replies = await asyncio.to_thread(three, server.port)
    assert len(server.service.admin) <= 2
    # the first challenge was dropped for the third; the second deletes; the third finds
    # the handle gone
    assert [r.rc for r in replies] == [405, 1, 100], replies


async def test_a_lapsed_prefix_refuses_wire_writes(state: AppState, server: WireServer) -> None:
    with state.engine.begin() as conn:  # the prefix's term ended yesterday
        conn.execute(
            prefix_table.update()
            .where(prefix_table.c.prefix == "88.100.1")
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
    prefixes.load_revoked(state.engine, state.hierarchy.nodes.values())
    h = "88.100.1/WIRE-5"
    req = rfc.admin_request(rfc.OP_CREATE_HANDLE, h, values=(admin_value(),))
    refused = await admin(server, req)
    assert refused.rc == 400 and "term ended" in refused.message, refused
    assert state.hierarchy.front.record(h) is None
