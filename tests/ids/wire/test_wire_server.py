"""The Handle protocol endpoints answer a client written from RFC 3652 (``rfc_client``, which
shares no code with the server) over real UDP and TCP sockets on loopback."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import AsyncIterator

import pytest
from tests.ids.wire import rfc_client as rfc

from indunet.core.signals import Signal
from indunet.ids import OPERATOR, Answer, HandleValue, Node
from indunet.ids.events import RESOLUTIONS
from indunet.ids.wire.server import UDP_ANSWER_MAX, WireServer, WireService
from indunet.web.state import AppState

HOST = "127.0.0.1"
PUMP = [
    {"index": 1, "type": "URL", "data": "https://a.example.cn/pump-1"},
    {"index": 2, "type": "DESC", "data": "离心泵 1"},
    {"index": 3, "type": "URL.mirror", "data": "https://b.example.cn/pump-1", "ttl": 60},
    {"index": 4, "type": "EMAIL", "data": "ops@a.example.cn", "permissions": "1100"},
]


async def _serve(node: Node, **kw: object) -> WireServer:
    server = WireServer(WireService(node, **kw), HOST, 0)  # type: ignore[arg-type]
    await server.start()
    return server


@pytest.fixture
async def front(state: AppState) -> AsyncIterator[WireServer]:
    node = state.hierarchy.front
    await asyncio.to_thread(node.put, "88.100.1/PUMP-1", PUMP, OPERATOR)
    server = await _serve(node, site_url="http://127.0.0.1:8000/nodes/88.100", handle_port=0)
    yield server
    await server.stop()


async def udp(server: WireServer, request: bytes, wait: float = 2.0) -> rfc.Reply:
    return await asyncio.to_thread(rfc.ask_udp, HOST, server.port, request, wait)


async def tcp(server: WireServer, *requests: bytes) -> list[rfc.Reply]:
    return await asyncio.to_thread(rfc.ask_tcp, HOST, server.port, *requests)


async def test_resolution_over_udp_answers_public_values_authoritatively(
    state: AppState, front: WireServer
) -> None:
    reply = await udp(front, rfc.resolution_request("88.100.1/pump-1", request_id=4242))
    assert (reply.rc, reply.op, reply.request_id) == (1, rfc.OP_RESOLUTION, 4242)
    assert reply.flags & rfc.AUTHORITATIVE
    assert reply.handle == "88.100.1/pump-1"  # echoed as asked
    assert reply.version == (2, 10)  # the client's version back
    by_index = {v.index: v for v in reply.values}
    assert 4 not in by_index  # not public
    assert by_index[1].type == "URL" and by_index[1].data == b"https://a.example.cn/pump-1"
    assert by_index[2].data.decode() == "离心泵 1"
    assert (by_index[3].ttl_type, by_index[3].ttl) == (0, 60)
    assert by_index[1].permissions == 0b1110
    assert by_index[1].timestamp > 1_700_000_000
    admin = next(v for v in reply.values if v.type == "HS_ADMIN")
    stored = state.hierarchy.front.record("88.100.1/PUMP-1")
    assert stored is not None
    (hs_admin,) = [v.value for v in stored.values if v.type == "HS_ADMIN"]
    bits, admin_handle, admin_index = rfc.parse_admin(admin.data)
    assert (admin_handle, admin_index) == (hs_admin["handle"], hs_admin["index"])
    # Handle.Net's bits by name: add handle is bit 0, read value bit 10, list handles bit 11
    assert bits == sum(1 << (11 - i) for i, c in enumerate(hs_admin["permissions"]) if c == "1")
    assert bits & 1 == (hs_admin["permissions"][-1] == "1")
    assert reply.credential == b""


async def test_type_and_index_lists_select_values(front: WireServer) -> None:
    by_type = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", types=("url",)))
    assert [v.index for v in by_type.values] == [1]  # case ignored, URL alone (Handle.Net)
    family = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", types=("URL.",)))
    assert sorted(v.index for v in family.values) == [1, 3]  # URL. is the family
    by_index = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", indexes=(2,)))
    assert [v.type for v in by_index.values] == ["DESC"]
    both = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", indexes=(2,), types=("URL",)))
    assert sorted(v.index for v in both.values) == [1, 2]
    none = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", types=("EMAIL",)))
    assert none.rc == 200 and none.message


async def test_errors_carry_their_response_codes(front: WireServer) -> None:
    missing = await udp(front, rfc.resolution_request("88.100.1/NOPE"))
    assert missing.rc == 100 and "not registered" in missing.message
    bad = await udp(front, rfc.resolution_request("no-slash"))
    assert bad.rc == 102
    elsewhere = await udp(front, rfc.resolution_request("99.1/x"))
    assert elsewhere.rc == 301
    admin = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", op=rfc.OP_ADD_VALUE))
    assert admin.rc == 2 and "TCP" in admin.message  # administration is over TCP only
    listing = await udp(front, rfc.resolution_request("88.100.1/PUMP-1", op=105))
    assert listing.rc == 5 and "REST" in listing.message  # OC_LIST_HANDLES is not offered


async def test_request_digest_is_of_the_request_as_sent(front: WireServer) -> None:
    for version, algorithm in (((2, 10), 3), ((2, 5), 2)):
        request = rfc.resolution_request(
            "88.100.1/PUMP-1", flags=rfc.REQUEST_DIGEST, version=version
        )
        reply = await udp(front, request)
        assert reply.rc == 1 and reply.version == version
        assert reply.digest[0] == algorithm
        assert rfc.digest_ok(request, reply)


async def test_tcp_keeps_the_connection_when_asked(front: WireServer) -> None:
    first = rfc.resolution_request("88.100.1/PUMP-1", flags=rfc.KEEP_CONNECTION, request_id=1)
    second = rfc.resolution_request("88.100.1/NOPE", request_id=2)
    a, b = await tcp(front, first, second)
    assert (a.rc, a.request_id, b.rc, b.request_id) == (1, 1, 100, 2)
    assert len(a.values) == 4


async def test_long_answers_come_in_512_byte_packets(state: AppState, front: WireServer) -> None:
    long = [{"index": 1, "type": "DESC", "data": "x" * 3000}]
    await asyncio.to_thread(state.hierarchy.front.put, "88.100.1/LONG", long, OPERATOR)
    reply = await udp(front, rfc.resolution_request("88.100.1/LONG", types=("DESC",)))
    assert reply.rc == 1 and reply.values[0].data == b"x" * 3000
    huge = [{"index": 1, "type": "DESC", "data": "y" * (UDP_ANSWER_MAX + 100)}]
    await asyncio.to_thread(state.hierarchy.front.put, "88.100.1/HUGE", huge, OPERATOR)
    refused = await udp(front, rfc.resolution_request("88.100.1/HUGE", request_id=9))
    assert (refused.rc, refused.request_id) == (2, 9) and "TCP" in refused.message
    (whole,) = await tcp(front, rfc.resolution_request("88.100.1/HUGE"))
    assert whole.rc == 1 and whole.values[0].data == b"y" * (UDP_ANSWER_MAX + 100)


async def test_the_root_refers_with_hs_site_values(state: AppState) -> None:
    server = await _serve(state.hierarchy.nodes["root"])
    try:
        reply = await udp(server, rfc.resolution_request("88.100.1/PUMP-1"))
    finally:
        await server.stop()
    assert reply.rc == 302
    assert [v.type for v in reply.values] == ["HS_SITE"]
    site = rfc.parse_site(reply.values[0].data)
    assert site["primary"] is True and site["protocol"][0] == 2  # type: ignore[index]
    attributes = site["attributes"]
    assert attributes["path"] == "/nodes/88"  # type: ignore[index]
    (server_info,) = site["servers"]  # type: ignore[misc]
    assert server_info["interfaces"] == [(2, 2, int(state.settings.port))]


async def test_recursion_answers_from_the_resolver_cache_and_follows_writes(
    state: AppState, front: WireServer
) -> None:
    top = state.hierarchy.nodes["88"]
    url = [{"index": 1, "type": "URL", "data": "https://top.example.cn/a"}]
    await asyncio.to_thread(top.put, "88/TOP-1", url, OPERATOR)
    no_recursion = await udp(front, rfc.resolution_request("88/TOP-1"))
    assert no_recursion.rc == 301

    def ask(request_id: int, **kw: object) -> bytes:
        return rfc.resolution_request(
            "88/TOP-1",
            flags=rfc.RECURSIVE,
            request_id=request_id,
            **kw,  # type: ignore[arg-type]
        )

    first = await udp(front, ask(1))  # resolved through the hierarchy, now in the cache
    assert first.rc == 1 and not first.flags & rfc.AUTHORITATIVE
    service = front.service
    second = await udp(front, ask(2))  # encoded from the cached answer
    assert (second.request_id, second.values) == (2, first.values)
    assert (service.cache.hits, len(service.cache), service.repeated) == (0, 1, 0)
    third = await udp(front, ask(3))  # the same request again: the encoded answer reused
    assert (third.request_id, third.values, service.repeated) == (3, first.values, 1)
    by_type = await udp(front, ask(4, types=("URL",)))  # another selection of the same answer
    assert [v.type for v in by_type.values] == ["URL"] and len(service.cache) == 2
    (over_tcp,) = await tcp(front, ask(5))
    assert (over_tcp.request_id, over_tcp.values, service.repeated) == (5, first.values, 2)
    url[0]["data"] = "https://top.example.cn/b"
    await asyncio.to_thread(top.put, "88/TOP-1", url, OPERATOR)
    changed = await udp(front, ask(6))
    assert [v.data for v in changed.values if v.type == "URL"] == [b"https://top.example.cn/b"]
    assert service.repeated == 2  # the remembered answer was not reused after the write
    again = [await udp(front, ask(i)) for i in (7, 8)]  # cached, then remembered anew
    assert [a.values for a in again] == [changed.values] * 2 and service.repeated == 3


async def test_site_info(front: WireServer) -> None:
    reply = await udp(front, rfc.resolution_request("", op=rfc.OP_GET_SITE_INFO))
    assert reply.rc == 1
    site = rfc.parse_site(reply.site)
    assert site["attributes"]["path"] == "/nodes/88.100"  # type: ignore[index]


async def test_malformed_requests(front: WireServer) -> None:
    good = rfc.resolution_request("88.100.1/PUMP-1", request_id=77)
    # a body that claims more types than it holds: a protocol error for the same request id
    lying = bytearray(good)
    struct.pack_into("!I", lying, len(good) - 8, 1000)
    reply = await udp(front, bytes(lying))
    assert (reply.rc, reply.request_id) == (4, 77) and "too_many" in reply.message
    # not even an envelope: no answer at all
    with pytest.raises(TimeoutError):
        await udp(front, b"\x02\x0a\x00", wait=0.2)
    # TCP: an envelope announcing 2 GiB is refused and the connection closed
    huge = bytearray(good[:20])
    struct.pack_into("!I", huge, 16, 2**31)

    def closed() -> bytes:
        with socket.create_connection((HOST, front.port), timeout=2) as s:
            s.sendall(bytes(huge))
            return s.recv(100)

    assert await asyncio.to_thread(closed) == b""
    assert front.service.refused >= 1
    still = await udp(front, good)
    assert still.rc == 1


async def test_a_malformed_value_from_another_node_is_left_out(
    state: AppState, front: WireServer
) -> None:
    resolver = state.hierarchy.resolver
    assert resolver is not None
    good = HandleValue(1, "URL", "string", "https://ok.example.cn/")
    bad = [
        HandleValue(2, "DATA", "hex", "zz"),  # not hex
        HandleValue(3, "URL", "string", "x", ttl=2**40),  # does not fit a TTL
        HandleValue(2**33, "URL", "string", "x"),  # nor an index
    ]
    answer = Answer(1, "77.1/REMOTE", [good, *bad])
    resolver.answers.put("77.1/REMOTE", (answer, answer.body()), 60)
    for _ in range(2):  # encoded from the cache, then remembered
        reply = await udp(front, rfc.resolution_request("77.1/remote", flags=rfc.RECURSIVE))
        assert reply.rc == 1 and [v.index for v in reply.values] == [1]


async def test_a_recursive_node_always_resolves(state: AppState) -> None:
    top = state.hierarchy.nodes["88"]
    url = [{"index": 1, "type": "URL", "data": "https://top.example.cn/r"}]
    await asyncio.to_thread(top.put, "88/REC-1", url, OPERATOR)
    server = await _serve(state.hierarchy.nodes["recursive"])
    try:
        replies = [await udp(server, rfc.resolution_request("88/rec-1")) for _ in range(3)]
        fresh = await udp(server, rfc.resolution_request("88/rec-1", flags=rfc.AUTHORITATIVE))
    finally:
        await server.stop()
    for reply in [*replies, fresh]:
        assert reply.rc == 1 and reply.handle == "88/rec-1"
        assert [v.data for v in reply.values if v.type == "URL"] == [b"https://top.example.cn/r"]
    assert server.service.repeated == 1  # the third; AT skipped the cache


async def test_hostile_datagrams_and_streams_leave_the_server_answering(
    front: WireServer,
) -> None:
    rng = random.Random(3652)
    good = rfc.resolution_request("88.100.1/PUMP-1", flags=rfc.REQUEST_DIGEST)

    def barrage() -> int:
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for i in range(400):
                packet = bytearray(good if i % 2 else rng.randbytes(rng.randint(0, 600)))
                for _ in range(rng.randint(1, 4)):
                    if packet:
                        packet[rng.randrange(len(packet))] = rng.randrange(256)
                s.sendto(bytes(packet), (HOST, front.port))
                if i % 20 == 19:  # read what came back so far (the socket buffer is finite)
                    s.settimeout(0.02)
                    try:
                        while True:
                            reply, _ = s.recvfrom(4096)
                            assert len(reply) <= 512
                            answered += 1
                    except TimeoutError:
                        pass
            for _ in range(20):  # streams of garbage, cut short or not
                with socket.create_connection((HOST, front.port), timeout=2) as t:
                    t.sendall(rng.randbytes(rng.randint(1, 300)))
        return answered

    answered = await asyncio.to_thread(barrage)
    assert answered > 0  # protocol errors and the requests that survived the mutation
    assert front.service.refused > 0
    still = await udp(front, good)
    assert still.rc == 1 and rfc.digest_ok(good, still)


async def test_a_failure_inside_the_node_is_answered_over_tcp_not_a_dropped_connection(
    front: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that fails with something other than a Handle error (a database gone) is
    answered ``RC_ERROR`` over TCP as over UDP, and the connection goes on serving."""

    async def broken(req: object) -> bytes:
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(front.service, "answer", broken)
    keep = rfc.resolution_request("88.100.1/NOT-CACHED", flags=rfc.KEEP_CONNECTION, request_id=1)
    failed, again = await tcp(front, keep, rfc.resolution_request("88.100.1/X", request_id=2))
    assert (failed.rc, failed.request_id) == (2, 1)
    assert (again.rc, again.request_id) == (2, 2)
    assert failed.message == "internal error"  # the cause stays in the log


async def test_every_resolution_answered_is_noted_with_its_peer_and_code(
    state: AppState,
) -> None:
    top = state.hierarchy.nodes["88"]
    url = [{"index": 1, "type": "URL", "data": "https://top.example.cn/a"}]
    await asyncio.to_thread(top.put, "88/TOP-2", url, OPERATOR)
    signal = Signal(RESOLUTIONS)
    server = await _serve(state.hierarchy.front, resolutions=signal)
    try:
        ask = rfc.resolution_request("88/TOP-2", flags=rfc.RECURSIVE)
        await udp(server, ask)  # resolved through the hierarchy (the slow path)
        await udp(server, ask)  # from the resolver's cache
        await udp(server, ask)  # the same bytes again: the remembered answer
        await udp(server, rfc.resolution_request("88.100.1/MISSING"))
        await tcp(server, ask)
        await tcp(server, rfc.resolution_request("88.100.1/GONE"))
        await udp(server, rfc.resolution_request("", op=rfc.OP_GET_SITE_INFO))  # no resolution
        assert server.service.repeated >= 1
    finally:
        await server.stop()
    event = signal.take()
    assert event is not None and event.data["left_out"] == 0
    assert [
        (r["src"], r["handle"], r["rc"], r["outcome"], r["via"]) for r in event.data["records"]
    ] == [
        (HOST, "88/TOP-2", 1, "success", "udp"),
        (HOST, "88/TOP-2", 1, "success", "udp"),
        (HOST, "88/TOP-2", 1, "success", "udp"),
        (HOST, "88.100.1/MISSING", 100, "failure", "udp"),
        (HOST, "88/TOP-2", 1, "success", "tcp"),
        (HOST, "88.100.1/GONE", 100, "failure", "tcp"),
    ]
