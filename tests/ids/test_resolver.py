"""The resolver walks a real in-process hierarchy: referrals, caches, TTLs and mirror failover."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from indunet import ids
from indunet.ids import (
    OPERATOR,
    RC,
    HttpTransport,
    LocalTransport,
    Node,
    NodeRole,
    Resolver,
    Site,
    SitePolicy,
    SiteUnavailable,
    TemplateRegistry,
)

BASE = "http://ids.test/nodes"
ROOT, TOP, SEC, ENT_A, ENT_B = (f"{BASE}/{n}" for n in ("root", "88", "88.100", "ent-a", "ent-b"))
NEGATIVE_TTL = 1
# The tests' own HTTP servers listen on 127.0.0.1, which the operator must allow.
LOOPBACK = SitePolicy.build(allow="127.0.0.0/8")


@dataclass
class World:
    transport: LocalTransport
    resolver: Resolver
    nodes: dict[str, Node]

    def put(
        self, handle: str, url: str, *, ttl: int = 3600, where: tuple[str, ...] = ("ent-a", "ent-b")
    ) -> None:
        for name in where:
            self.nodes[name].put(
                handle, [{"index": 1, "type": "URL", "data": url, "ttl": ttl}], OPERATOR
            )


@pytest.fixture
async def world(engine: sa.Engine) -> AsyncIterator[World]:
    templates = TemplateRegistry(engine)
    fallback = HttpTransport(0.5, LOOPBACK)
    transport = LocalTransport(fallback)
    resolver = Resolver([Site(ROOT, True)], transport, max_ttl=300, negative_ttl=NEGATIVE_TTL)

    def node(name: str, role: NodeRole, prefix: str | None, r: Resolver | None = None) -> Node:
        return Node(name, role, prefix, engine, templates, resolver=r, policy=LOOPBACK)

    nodes = {
        "root": node("root", NodeRole.ROOT, ""),
        "88": node("88", NodeRole.TOP_LEVEL, "88"),
        "88.100": node("88.100", NodeRole.SECONDARY, "88.100", resolver),
        "ent-a": node("ent-a", NodeRole.ENTERPRISE, "88.100.1"),
        "ent-b": node("ent-b", NodeRole.ENTERPRISE, "88.100.1"),
        "recursive": node("recursive", NodeRole.RECURSIVE, None, resolver),
    }
    for name, node in nodes.items():
        transport.register(f"{BASE}/{name}", node.resolve)
    ids.delegate(nodes["root"], "88", [TOP])
    ids.delegate(nodes["88"], "88.100", [SEC])
    ids.delegate(nodes["88.100"], "88.100.1", [ENT_A, ENT_B])
    w = World(transport, resolver, nodes)
    w.put("88.100.1/CNC-1", "https://a.example.cn/1")
    w.put("88.100.1/CNC-2", "https://a.example.cn/2")
    yield w
    await fallback.close()


def _sites(answer: ids.Answer) -> list[str]:
    return [hop.site for hop in answer.path]


async def test_referrals_are_followed_from_the_root(world: World) -> None:
    answer = await world.resolver.resolve("88.100.1/cnc-1")
    assert answer.rc == RC.SUCCESS
    assert answer.handle == "88.100.1/CNC-1"
    assert answer.values is not None and answer.values[0].value == "https://a.example.cn/1"
    assert _sites(answer) == [ROOT, TOP, SEC, ENT_A]
    assert [hop.rc for hop in answer.path] == [302, 302, 302, 1]
    assert [hop.prefix for hop in answer.path] == ["", "88", "88.100", "88.100.1"]


async def test_a_second_resolution_is_a_cache_hit(world: World) -> None:
    await world.resolver.resolve("88.100.1/CNC-1")
    world.transport.down = {ROOT, TOP, SEC, ENT_A, ENT_B}
    answer = await world.resolver.resolve("88.100.1/CNC-1")
    assert answer.rc == RC.SUCCESS
    assert [(hop.site, hop.cached) for hop in answer.path] == [("cache", True)]
    assert world.resolver.answers.hits == 1
    assert world.resolver.cached_body("88.100.1/CNC-1") == answer.body()


async def test_cached_referrals_skip_the_upper_levels(world: World) -> None:
    await world.resolver.resolve("88.100.1/CNC-1")
    world.transport.down = {ROOT, TOP, SEC}
    answer = await world.resolver.resolve("88.100.1/CNC-2")
    assert answer.rc == RC.SUCCESS
    assert _sites(answer) == [ENT_A]


async def test_fresh_skips_cached_answers_but_not_referrals(world: World) -> None:
    await world.resolver.resolve("88.100.1/CNC-1")
    world.put("88.100.1/CNC-1", "https://a.example.cn/changed")
    assert (await world.resolver.resolve("88.100.1/CNC-1")).path[0].cached
    answer = await world.resolver.resolve("88.100.1/CNC-1", fresh=True)
    assert _sites(answer) == [ENT_A]
    assert answer.values is not None and answer.values[0].value == "https://a.example.cn/changed"


async def test_answers_expire_with_their_shortest_ttl(world: World) -> None:
    world.put("88.100.1/SHORT", "https://a.example.cn/v1", ttl=1)
    await world.resolver.resolve("88.100.1/SHORT")
    world.put("88.100.1/SHORT", "https://a.example.cn/v2", ttl=1)
    cached = await world.resolver.resolve("88.100.1/SHORT")
    assert cached.path[0].cached
    assert cached.values is not None and cached.values[0].value == "https://a.example.cn/v1"
    await asyncio.sleep(1.1)
    expired = await world.resolver.resolve("88.100.1/SHORT")
    assert not expired.path[0].cached
    assert expired.values is not None and expired.values[0].value == "https://a.example.cn/v2"


async def test_not_found_is_cached_for_the_negative_ttl(world: World) -> None:
    first = await world.resolver.resolve("88.100.1/LATER")
    assert first.rc == RC.HANDLE_NOT_FOUND
    world.put("88.100.1/LATER", "https://a.example.cn/later")
    again = await world.resolver.resolve("88.100.1/LATER")
    assert (again.rc, again.path[0].cached) == (RC.HANDLE_NOT_FOUND, True)
    await asyncio.sleep(NEGATIVE_TTL + 0.1)
    assert (await world.resolver.resolve("88.100.1/LATER")).rc == RC.SUCCESS


async def test_a_mirror_answers_when_the_primary_is_down(world: World) -> None:
    world.transport.down = {ENT_A}
    answer = await world.resolver.resolve("88.100.1/CNC-1")
    assert answer.rc == RC.SUCCESS
    assert _sites(answer) == [ROOT, TOP, SEC, ENT_B]
    assert answer.path[-1].failed == ((ENT_A, "site unavailable"),)  # details only in the log
    assert answer.to_json(with_path=True)["path"][-1]["failed"] == [
        {"site": ENT_A, "error": "site unavailable"}
    ]


async def test_all_sites_down_names_each_site(world: World) -> None:
    await world.resolver.resolve("88.100.1/CNC-1")
    world.transport.down = {ENT_A, ENT_B}
    with pytest.raises(SiteUnavailable) as err:
        await world.resolver.resolve("88.100.1/CNC-2")
    assert err.value.message == (
        f"site unavailable: no site of prefix 88.100.1 answered ({ENT_A}, {ENT_B})"
    )
    assert err.value.detail == {"code": "site_unavailable", "sites": [ENT_A, ENT_B]}
    assert (err.value.status, err.value.code) == (502, "site_unavailable")
    # The failed delegation is forgotten: once the sites are back, it is asked for again.
    world.transport.down = set()
    answer = await world.resolver.resolve("88.100.1/CNC-2")
    assert _sites(answer) == [SEC, ENT_A]


async def test_root_down_is_reported(world: World) -> None:
    world.transport.down = {ROOT}
    with pytest.raises(
        SiteUnavailable, match=f"site unavailable: no site of the root answered \\({ROOT}\\)"
    ):
        await world.resolver.resolve("88.100.1/CNC-1")


async def test_unknown_prefix_is_not_found_at_the_root(world: World) -> None:
    answer = await world.resolver.resolve("99.1/X")
    assert answer.rc == RC.HANDLE_NOT_FOUND
    assert answer.message == "prefix 99.1 is not delegated by the root"


async def test_a_referral_loop_is_detected(world: World, engine: sa.Engine) -> None:
    loop = Node("loop", NodeRole.TOP_LEVEL, "77", engine, world.nodes["root"].templates)
    world.transport.register(f"{BASE}/loop", loop.resolve)
    ids.delegate(world.nodes["root"], "77", [f"{BASE}/loop"])
    ids.delegate(loop, "77.1", [f"{BASE}/loop"])
    answer = await world.resolver.resolve("77.1/X")
    assert (answer.rc, answer.message) == (RC.ERROR, "referral loop at prefix 77.1")


async def test_invalid_identifier(world: World) -> None:
    answer = await world.resolver.resolve("no-slash")
    assert answer.rc == RC.INVALID_HANDLE


async def test_recursive_node_resolves_and_a_local_write_forgets_the_cached_answer(
    world: World,
) -> None:
    recursive, secondary = world.nodes["recursive"], world.nodes["88.100"]
    secondary.put("88.100.5/X", [{"index": 1, "type": "URL", "data": "https://v1"}], OPERATOR)
    first = await recursive.resolve("88.100.5/X", recurse=True)
    assert _sites(first) == [ROOT, TOP, SEC]
    secondary.put("88.100.5/X", [{"index": 1, "type": "URL", "data": "https://v2"}], OPERATOR)
    second = await recursive.resolve("88.100.5/X", recurse=True)
    assert not second.path[0].cached
    assert second.values is not None and second.values[0].value == "https://v2"


async def test_a_referral_outside_the_asked_prefix_is_not_trusted(world: World) -> None:
    """A node may only refer to prefixes below its own: a rogue answer cannot hijack ``88``."""
    rogue_site = f"{BASE}/rogue"

    async def rogue(handle: str) -> ids.Answer:
        return ids.Answer(
            RC.SERVICE_REFERRAL,
            handle,
            referral=ids.Referral("88", (Site(rogue_site, True),), 86_400),
        )

    world.transport.register(ENT_A, rogue)
    answer = await world.resolver.resolve("88.100.1/CNC-1")
    assert answer.rc == RC.ERROR
    assert (
        answer.message
        == f"{ENT_A} referred 88.100.1/CNC-1 to prefix 88, which is not below prefix 88.100.1"
    )
    cached = world.resolver.referrals.get("88")
    assert cached is not None and [s.url for s in cached.sites] == [TOP]


async def test_a_site_with_a_malformed_reply_is_skipped_for_its_mirror(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"responseCode": 1, "handle": "88.100.1/CNC-1", "values": [{"index": 1}]}'

    async def broken_node(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(broken_node, "127.0.0.1", 0)
    broken = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        ids.delegate(world.nodes["88.100"], "88.100.1", [broken, ENT_B])
        answer = await asyncio.wait_for(world.resolver.resolve("88.100.1/CNC-1"), 10)
    finally:
        server.close()
        await server.wait_closed()
    assert answer.rc == RC.SUCCESS
    assert answer.path[-1].site == ENT_B
    [(site, error)] = answer.path[-1].failed
    assert (site, error) == (broken, "site unavailable")
    assert "malformed answer from another node: KeyError" in caplog.text  # for the operator


async def test_a_stale_cached_referral_is_retried_from_the_root(world: World) -> None:
    # The cache still says only ENT_A serves 88.100.1 (say, before a mirror was added).
    stale = ids.Referral("88.100.1", (Site(ENT_A, True),), 3600)
    world.resolver.referrals.put("88.100.1", stale, 3600)
    world.transport.down = {ENT_A}
    answer = await world.resolver.resolve("88.100.1/CNC-2")
    assert answer.rc == RC.SUCCESS
    assert _sites(answer) == [ROOT, TOP, SEC, ENT_B]


async def test_a_local_delegation_change_drops_the_cached_referral(world: World) -> None:
    await world.resolver.resolve("88.100.1/CNC-1")
    assert world.resolver.referrals.get("88.100.1") is not None
    ids.delegate(world.nodes["88.100"], "88.100.1", [ENT_B])
    assert world.resolver.referrals.get("88.100.1") is None
