"""The per-site guard in the resolver, over real sockets on 127.0.0.1: a failing primary is
skipped for its mirror while its breaker is open and probed again afterwards; a full request
queue is refused at once with its reason; and the deadline of one resolution covers
connecting, waiting for a site's request slot and reading."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from tests.ids.test_sites import (  # noqa: F401 - api and loopback_state are fixtures
    LOOPBACK,
    Handler,
    LocalSite,
    api,
    closed_port,
    loopback_state,
    not_handle,
)

from indunet import ids
from indunet.ids import RC, HttpTransport, Resolver, Site, SiteLimits, SitePolicy, SiteUnavailable
from indunet.ids.siteguard import BreakerState, SiteGuard
from indunet.ids.sites import origin
from indunet.web import AppState

HANDLE = "88.100.7/X"


def answer_from(name: str) -> bytes:
    body = orjson.dumps(
        {
            "responseCode": 1,
            "handle": HANDLE,
            "values": [{"index": 1, "type": "URL", "data": {"format": "string", "value": name}}],
        }
    )
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def answering(name: str) -> Handler:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(answer_from(name))
        await w.drain()

    return handler


def stalling(arrived: asyncio.Event) -> Handler:
    """Reads a request, says so, and never answers."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        arrived.set()
        await asyncio.sleep(30)

    return handler


def transport(**limits: float) -> HttpTransport:
    return HttpTransport(10.0, SitePolicy(LOOPBACK.allow, limits=SiteLimits(**limits)))  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_open_primary_is_skipped_for_its_mirror_then_probed_again() -> None:
    async with LocalSite(not_handle) as primary, LocalSite(answering("mirror")) as mirror:
        t = transport(breaker_failures=2, breaker_cooldown=30.0)
        clock = Clock()
        t.sites = SiteGuard(t.policy.limits, clock=clock)
        resolver = Resolver([Site(primary.url, True), Site(mirror.url)], t)
        try:
            for _ in range(2):  # the primary is asked first and fails
                answer = await resolver.resolve(HANDLE, fresh=True)
                assert answer.rc == RC.SUCCESS
                assert answer.path[-1].site == mirror.url
                assert answer.path[-1].failed == ((primary.url, "site unavailable"),)
            assert t.sites.state(origin(primary.url)) is BreakerState.OPEN
            assert not t.available(primary.url) and t.available(mirror.url)
            for _ in range(3):  # open: the mirror is asked first, the primary not at all
                answer = await resolver.resolve(HANDLE, fresh=True)
                assert answer.path[-1].site == mirror.url and answer.path[-1].failed == ()
            assert primary.connections == 2

            primary.handler = answering("primary")  # it recovers; nobody knows yet
            clock.now += 29.0
            answer = await resolver.resolve(HANDLE, fresh=True)
            assert answer.path[-1].site == mirror.url and primary.connections == 2
            clock.now += 1.0  # half-open: the next resolution probes the primary
            answer = await resolver.resolve(HANDLE, fresh=True)
            assert answer.path[-1].site == primary.url and answer.path[-1].failed == ()
            assert answer.values[0].value == "primary"
            assert t.sites.state(origin(primary.url)) is BreakerState.CLOSED
            assert t.sites.summary()["probes"] == 1
        finally:
            await t.close()


async def test_when_every_site_is_open_the_error_says_so_without_asking() -> None:
    async with LocalSite(not_handle) as only:
        t = transport(breaker_failures=1)
        resolver = Resolver([Site(only.url, True)], t)
        try:
            with pytest.raises(SiteUnavailable) as first:
                await resolver.resolve(HANDLE)
            assert first.value.reason == "site_unavailable"
            with pytest.raises(SiteUnavailable) as second:
                await resolver.resolve(HANDLE)
        finally:
            await t.close()
        assert only.connections == 1
        assert second.value.reason == "site_open"
        assert second.value.params == {"handle": HANDLE}
        assert second.value.message == (
            f"site unavailable: every site of the root failed recently; not asked ({only.url})"
        )
        assert (second.value.status, second.value.code) == (502, "site_unavailable")


@pytest.fixture
def unaccepted_port() -> Iterator[int]:
    """A port whose listen queue is full: a connection attempt gets no answer at all."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=1):  # fills the queue
            yield port


async def test_the_deadline_covers_connecting(unaccepted_port: int) -> None:
    t = transport()
    resolver = Resolver([Site(f"http://127.0.0.1:{unaccepted_port}", True)], t, deadline=0.3)
    t0 = time.perf_counter()
    try:
        with pytest.raises(SiteUnavailable) as err:
            await resolver.resolve(HANDLE)
    finally:
        await t.close()
    assert 0.25 < time.perf_counter() - t0 < 1.5  # the site's own timeout is 10 s
    assert err.value.reason == "resolution_deadline"
    assert err.value.params == {"handle": HANDLE, "seconds": 0.3}


async def test_the_deadline_covers_waiting_for_a_request_slot() -> None:
    arrived = asyncio.Event()
    async with LocalSite(stalling(arrived)) as site:
        t = transport(site_connections=1, site_queue=8)
        resolver = Resolver([Site(site.url, True)], t, deadline=5.0)
        hurried = Resolver([Site(site.url, True)], t, deadline=0.3)
        holder = asyncio.create_task(resolver.resolve("88.100.7/HOLD"))
        try:
            await asyncio.wait_for(arrived.wait(), 2)
            t0 = time.perf_counter()
            with pytest.raises(SiteUnavailable) as err:
                await hurried.resolve(HANDLE)
            assert 0.25 < time.perf_counter() - t0 < 1.5
            assert err.value.reason == "resolution_deadline"
            assert site.connections == 1  # it waited for the slot and never connected
        finally:
            holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)
            await t.close()
    assert t.sites.tracked() == 0  # the cancelled requests gave their slot and place back


async def test_a_full_queue_is_refused_at_once_with_its_reason() -> None:
    arrived = asyncio.Event()
    async with LocalSite(stalling(arrived)) as site:
        t = transport(site_connections=1, site_queue=1)
        resolver = Resolver([Site(site.url, True)], t, deadline=5.0)
        held = [asyncio.create_task(resolver.resolve(f"88.100.7/H{i}")) for i in range(2)]
        try:
            await asyncio.wait_for(arrived.wait(), 2)
            await asyncio.sleep(0.01)  # the second one is queued by now
            assert not t.available(site.url)
            t0 = time.perf_counter()
            with pytest.raises(SiteUnavailable) as err:
                await resolver.resolve(HANDLE)
            assert time.perf_counter() - t0 < 0.1
        finally:
            for task in held:
                task.cancel()
            await asyncio.gather(*held, return_exceptions=True)
            await t.close()
        assert err.value.reason == "site_busy"
        assert "has too many requests waiting; not asked" in err.value.message
        assert err.value.to_dict()["reason"] == "site_busy"
        assert t.sites.summary()["shed_busy"] == 1
        assert t.sites.state(origin(site.url)) is BreakerState.CLOSED  # busy is no failure


# -- what the node shows ------------------------------------------------------------------------


async def test_breaker_states_show_in_node_status_and_metrics(
    api: httpx.AsyncClient,  # noqa: F811 - the fixtures of test_sites
    loopback_state: AppState,  # noqa: F811
) -> None:
    """A prefix delegated to a site that refuses connections: after five failures its breaker
    is open, the API says ``site_open`` with the handle, and the node and metrics show it."""
    front = loopback_state.hierarchy.front
    url = f"http://127.0.0.1:{closed_port()}"
    ids.delegate(front, "88.100.9", [url])
    limits = loopback_state.hierarchy.policy.limits
    for i in range(limits.breaker_failures):
        resp = await api.get(f"/api/v1/resolve/88.100.9/X{i}")
        assert resp.status_code == 502 and resp.json()["reason"] == "site_unavailable"
    resp = await api.get("/api/v1/resolve/88.100.9/LATER")
    assert resp.status_code == 502
    body = resp.json()
    assert (body["code"], body["reason"]) == ("site_unavailable", "site_open")
    assert body["params"] == {"handle": "88.100.9/LATER"}
    assert body["message"].startswith("site unavailable: every site of prefix 88.100.9")
    handle_api = await api.get("/api/handles/88.100.9/LATER")
    assert handle_api.status_code == 502 and handle_api.json()["responseCode"] == 2

    status = (await api.get(f"/api/v1/nodes/{front.name}")).json()
    assert status["sites"]["open"] == 1 and status["sites"]["opened"] == 1
    assert status["sites"]["shed_open"] >= 2
    metrics = dict(
        line.rsplit(" ", 1)
        for line in (await api.get("/metrics")).text.splitlines()
        if line.startswith("indunet_ids_site")
    )
    assert metrics['indunet_ids_site_breakers{state="open"}'] == "1"
    assert metrics['indunet_ids_site_breakers{state="half_open"}'] == "0"
    assert metrics["indunet_ids_site_breaker_openings_total"] == "1"
    assert int(metrics['indunet_ids_site_refusals_total{reason="site_open"}']) >= 2
    assert metrics['indunet_ids_site_refusals_total{reason="site_busy"}'] == "0"
