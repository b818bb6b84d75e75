"""UDP response rate limiting: a forged source asking for one handle again and again gets a
bounded number of answers, every other one over the limit as a short error; loopback and
other networks are not affected. The server's datagram callback is driven with a recording
transport, so the source address can be one that is not this host's."""

from __future__ import annotations

import asyncio

import pytest
from tests.ids.wire import rfc_client as rfc

from indunet.ids import OPERATOR
from indunet.ids.wire.ratelimit import ResponseRateLimit, Verdict, network_of
from indunet.ids.wire.server import SLIP_MESSAGE, WireService, _Udp
from indunet.web.state import AppState

SERVER_TOO_BUSY = 3  # RFC 3652 RC_SERVER_TOO_BUSY
BIG = [{"index": i, "type": "DESC", "data": "x" * 300} for i in range(1, 11)]  # ~3.5 kB answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A datagram transport that keeps what was sent, per destination."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))

    def bytes_to(self, host: str) -> int:
        return sum(len(d) for d, a in self.sent if a[0] == host)


@pytest.mark.parametrize(
    ("host", "net"),
    [
        ("203.0.113.7", "203.0.113"),
        ("203.0.113.250", "203.0.113"),
        ("::ffff:203.0.113.9", "203.0.113"),
        ("2001:db8:1:2ff::1", "20010db8000102"),
        ("2001:db8:1:200::9", "20010db8000102"),
        ("2001:db8:1:300::9", "20010db8000103"),
        ("127.0.0.1", None),
        ("127.8.9.10", None),
        ("::1", None),
        ("::ffff:127.0.0.1", None),
        ("not-an-address", None),
        ("1.2", None),
    ],
)
def test_sources_are_grouped_by_network_and_loopback_is_free(host: str, net: str | None) -> None:
    assert network_of(host) == net


def test_a_burst_then_the_rate_then_slips_and_drops() -> None:
    clock = Clock()
    rrl = ResponseRateLimit(10, burst=20, slip=2, clock=clock)
    verdicts = [rrl.verdict("198.51.100.1", b"88.100.1/BIG") for _ in range(30)]
    assert verdicts[:20] == [Verdict.SEND] * 20
    assert verdicts[20:] == [Verdict.DROP, Verdict.SLIP] * 5  # every second one slips
    assert (rrl.slipped, rrl.dropped) == (5, 5)
    assert rrl.verdict("198.51.100.77", b"88.100.1/big") is not Verdict.SEND  # same /24, case
    assert rrl.verdict("198.51.101.1", b"88.100.1/BIG") is Verdict.SEND  # another network
    assert rrl.verdict("198.51.100.1", b"88.100.1/OTHER") is Verdict.SEND  # another handle
    assert rrl.verdict("127.0.0.1", b"88.100.1/BIG") is Verdict.SEND
    clock.now += 0.5  # five tokens back at 10 a second
    back = [rrl.verdict("198.51.100.1", b"88.100.1/BIG") for _ in range(6)]
    assert back[:5] == [Verdict.SEND] * 5 and back[5] is not Verdict.SEND


def test_the_table_of_keys_is_bounded() -> None:
    rrl = ResponseRateLimit(1, burst=1, max_keys=100)
    for i in range(1000):
        rrl.verdict(f"10.{i // 256}.{i % 256}.1", b"H")
    assert len(rrl._buckets) == 100


def test_a_zero_rate_limits_nothing() -> None:
    rrl = ResponseRateLimit(0)
    assert not rrl.enabled
    assert {rrl.verdict("198.51.100.1", b"H") for _ in range(1000)} == {Verdict.SEND}


async def _udp(service: WireService) -> tuple[_Udp, Recorder]:
    protocol = _Udp(service)
    transport = Recorder()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def _drain(protocol: _Udp) -> None:
    while protocol.tasks:
        await asyncio.gather(*list(protocol.tasks))


async def test_a_forged_flood_for_a_large_record_is_cut_down(state: AppState) -> None:
    node = state.hierarchy.front
    await asyncio.to_thread(node.put, "88.100.1/BIG", BIG, OPERATOR)
    clock = Clock()
    service = WireService(node, rate_limit=ResponseRateLimit(20, slip=2, clock=clock))
    protocol, sent = await _udp(service)
    victim, bystander = ("192.0.2.55", 5353), ("198.51.100.9", 2641)
    request = rfc.resolution_request("88.100.1/BIG", request_id=7)
    for _ in range(400):
        protocol.datagram_received(request, victim)
        await _drain(protocol)
    protocol.datagram_received(request, bystander)
    await _drain(protocol)
    to_victim = [d for d, a in sent.sent if a == victim]
    first: list[bytes] = []
    while not rfc.complete(first):
        first.append(to_victim[len(first)])
    full = rfc.reassemble(first)
    assert (full.rc, len(full.values)) == (1, len(BIG) + 1)  # with HS_ADMIN
    per_answer = len(first)
    singles = [d for d in to_victim if rfc.complete([d])]  # one-packet messages
    slips = [d for d in singles if rfc.parse_reply(d).rc == SERVER_TOO_BUSY]
    assert len(slips) == service.rate_limit.slipped == 180 and service.rate_limit.dropped == 180
    assert len(to_victim) == 40 * per_answer + 180  # the burst in full, then short errors
    unlimited = 400 * sum(len(p) for p in first)  # ~47x the bytes the attacker sent
    assert sent.bytes_to(victim[0]) < 0.15 * unlimited  # and it is 20 a second from now on
    assert sent.bytes_to(bystander[0]) > 3000  # another network gets its answer in full


async def test_slipped_answers_are_short_errors_asking_for_tcp(state: AppState) -> None:
    node = state.hierarchy.front
    await asyncio.to_thread(node.put, "88.100.1/BIG", BIG, OPERATOR)
    service = WireService(node, rate_limit=ResponseRateLimit(1, burst=1, slip=1, clock=Clock()))
    protocol, sent = await _udp(service)
    for i in range(3):
        protocol.datagram_received(
            rfc.resolution_request("88.100.1/BIG", request_id=i), ("192.0.2.1", 1)
        )
        await _drain(protocol)
    errors = [rfc.parse_reply(d) for d, _ in sent.sent[-2:]]
    assert [(e.rc, e.request_id) for e in errors] == [(SERVER_TOO_BUSY, 1), (SERVER_TOO_BUSY, 2)]
    assert all(len(d) < 200 for d, _ in sent.sent[-2:])
    assert SLIP_MESSAGE.encode() in sent.sent[-1][0]


async def test_the_remembered_answer_path_is_limited_too(state: AppState) -> None:
    """A recursive request answered by ``repeat`` (bytes reused, nothing decoded) is counted
    under the same key as any other answer about that handle."""
    top = state.hierarchy.nodes["88"]
    await asyncio.to_thread(
        top.put, "88/TOP-1", [{"index": 1, "type": "URL", "data": "https://t.example.cn"}], OPERATOR
    )
    service = WireService(
        state.hierarchy.front, rate_limit=ResponseRateLimit(1, burst=3, slip=0, clock=Clock())
    )
    protocol, sent = await _udp(service)
    request = rfc.resolution_request("88/TOP-1", flags=rfc.RECURSIVE)
    for _ in range(10):
        protocol.datagram_received(request, ("192.0.2.1", 1))
        await _drain(protocol)
    assert service.repeated >= 1  # the hot path was taken
    assert len(sent.sent) == 3 and service.rate_limit.dropped == 7
    for _ in range(10):  # loopback (a local resolver, the benchmark) is never limited
        protocol.datagram_received(request, ("127.0.0.1", 1))
    await _drain(protocol)
    assert len(sent.sent) == 13


async def test_malformed_datagrams_from_one_network_get_bounded_errors(state: AppState) -> None:
    service = WireService(
        state.hierarchy.front, rate_limit=ResponseRateLimit(5, burst=5, slip=0, clock=Clock())
    )
    protocol, sent = await _udp(service)
    bad = bytearray(rfc.resolution_request("88.100.1/X"))
    bad[-1] ^= 0xFF
    bad = bytes(bad[:-3])
    for _ in range(50):
        protocol.datagram_received(bad, ("192.0.2.1", 1))
    assert service.refused == 50 and len(sent.sent) <= 5
