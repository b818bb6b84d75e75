"""One stalled site does not slow resolution for others (issue 11 §2).

Real processes and sockets on 127.0.0.1: a root node and a top-level node ``88`` run as
``indunet node`` processes; the root delegates ``88`` to the top-level node and ``99`` to a raw
asyncio server in this process that accepts every connection and never answers. This process
runs the resolver with the real ``HttpTransport`` and its default limits.

400 resolutions of ``99/…`` are started at once while ``88/…`` is resolved over and over with
``fresh=True``: the answer cache is skipped (the cached referral of ``88`` is used), so every
healthy resolution is one real HTTP request to the top-level node's process, and its latency
is measured around ``Resolver.resolve``. Its p99 must stay under 50 ms for as long as the
stalled resolutions are outstanding (until the site's 2 s timeout and its breaker end them).

Both referrals are cached before the burst, as on a resolver that has seen both prefixes: the
400 go straight to the stalled site. Started cold, they would first make 400 requests to the
root process, which on a two-core test machine competes for the CPU with the top-level
process; that is load on a shared machine, not the stalled site, so it is kept out of the
figure (``docs/ids/limits.md`` gives both figures).

Each run first measures the healthy prefix alone for 1.5 s, for comparison. On the shared
two-core test machine other test runs come and go: a run that fails while other processes
(not this one, not the two nodes) took more than one of the two cores is measured again,
three times at most, and the last run is judged whatever the load.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.integration.servers import Server, free_port, group

from indunet import ids
from indunet.core import Settings
from indunet.ids.siteguard import BreakerState
from indunet.ids.sites import origin
from indunet.web import open_database

pytestmark = pytest.mark.integration

ALLOW_LOOPBACK = "127.0.0.0/8"
STALLED = 400
HEALTHY_WORKERS = 1
BASELINE_SECONDS = 1.5
#: A failing run during which other processes took more than this many cores says more about
#: the machine's load than about the resolver: it is measured again, ``ATTEMPTS`` in all.
BUSY_CORES = 1.0
ATTEMPTS = 3
P99_LIMIT_MS = 50.0
SITE_TIMEOUT = 2.0


@dataclass
class Nodes:
    root: Server
    top: Server
    stalled_port: int


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    base = tmp_path_factory.mktemp("stalled")
    stalled_port = free_port()  # the stalled server binds it in the test
    with group(base) as g:
        env = {"INDUNET_SITE_ALLOW": ALLOW_LOOPBACK}
        root = g.prepare("root", "node", "--role", "root", env=env)
        top = g.prepare("top", "node", "--role", "top-level", "--prefix", "88", env=env)
        engine = open_database(Settings(data_dir=root.data_dir))
        try:
            policy = ids.SitePolicy.build(allow=ALLOW_LOOPBACK)
            templates = ids.TemplateRegistry(engine)
            node = ids.Node("root", ids.NodeRole.ROOT, "", engine, templates, policy=policy)
            ids.delegate(node, "88", [top.url])
            ids.delegate(node, "99", [f"http://127.0.0.1:{stalled_port}"])
        finally:
            engine.dispose()
        engine = open_database(Settings(data_dir=top.data_dir))
        try:
            node = ids.Node(
                "88", ids.NodeRole.TOP_LEVEL, "88", engine, ids.TemplateRegistry(engine)
            )
            for i in range(50):
                value = {"index": 1, "type": "URL", "data": f"https://healthy.example/{i}"}
                node.put(f"88/HEALTHY-{i}", [value], ids.OPERATOR)
        finally:
            engine.dispose()
        root.start()
        top.start()
        yield Nodes(root, top, stalled_port)


class StalledSite:
    """Accepts every connection, reads what it is sent, never answers; counts connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.open = 0
        self.most_open = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.writers.append(w)
        try:
            while await r.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            self.open -= 1
            w.close()


class CpuMeter:
    """Cores used by processes other than this one and ``pids`` since ``start``."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.hz = pids, os.sysconf("SC_CLK_TCK")

    def _busy(self) -> float:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _wait, irq, soft, steal = map(int, f.readline().split()[1:9])
        return (user + nice + system + irq + soft + steal) / self.hz

    def _ours(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        ticks = 0
        for pid in self.pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return own.ru_utime + own.ru_stime + ticks / self.hz

    def start(self) -> None:
        self.t0, self.busy0, self.ours0 = time.monotonic(), self._busy(), self._ours()

    def foreign_cores(self) -> float:
        wall = max(time.monotonic() - self.t0, 1e-3)
        return max(0.0, (self._busy() - self.busy0 - (self._ours() - self.ours0)) / wall)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class Run:
    """One measurement: the healthy prefix alone, then beside the 400 stalled resolutions."""

    baseline: list[float]
    latencies: list[float]
    outcomes: list[tuple[str | None, float]]
    window: float
    stalled: StalledSite
    transport: ids.HttpTransport
    foreign: float
    spikes: list[tuple[float, float]]  # (seconds into the window, ms) of the slowest

    def report(self) -> str:
        reasons = [r for r, _ in self.outcomes]
        lat, base = sorted(self.latencies), sorted(self.baseline)
        return (
            f"stalled site: {STALLED} resolutions over {self.window:.2f} s, longest "
            f"{max(s for _, s in self.outcomes):.2f} s, reasons "
            f"{sorted((r, reasons.count(r)) for r in set(reasons))}; connections accepted "
            f"{self.stalled.accepted}, at most {self.stalled.most_open} open\n"
            f"healthy prefix: {len(lat)} fresh resolutions, p50 {lat[len(lat) // 2]:.2f} ms, "
            f"p99 {p99(lat):.2f} ms, max {lat[-1]:.2f} ms; guard {self.transport.sites.summary()}"
            f"\nthe same just before, without the stalled site: {len(base)} resolutions, p50 "
            f"{base[len(base) // 2]:.2f} ms, p99 {p99(base):.2f} ms; other processes took "
            f"{self.foreign:.2f} cores\nslowest healthy resolutions (s into the window, ms): "
            f"{self.spikes}"
        )


async def measure(nodes: Nodes) -> Run:
    meter = CpuMeter([p.proc.pid for p in (nodes.root, nodes.top) if p.proc is not None])
    stalled = StalledSite()
    server = await asyncio.start_server(stalled.serve, "127.0.0.1", nodes.stalled_port)
    transport = ids.HttpTransport(SITE_TIMEOUT, ids.SitePolicy.build(allow=ALLOW_LOOPBACK))
    resolver = ids.Resolver([ids.Site(nodes.root.url, True)], transport)
    try:
        for i in range(20):  # warm: the referral of 88 is cached, connections are open
            assert (await resolver.resolve(f"88/HEALTHY-{i}", fresh=True)).rc == ids.RC.SUCCESS
        with pytest.raises(TimeoutError):  # the root refers 99 to the stalled site
            await asyncio.wait_for(resolver.resolve("99/WARM"), 1.0)  # < the site timeout
        assert resolver.referrals.get("99") is not None and stalled.accepted == 1

        async def healthy(worker: int, latencies: list[float], done: asyncio.Event) -> None:
            k = worker
            while not done.is_set():
                t0 = time.perf_counter()
                answer = await resolver.resolve(f"88/HEALTHY-{k % 50}", fresh=True)
                latencies.append((time.perf_counter() - t0) * 1000)
                started.append(t0)
                assert answer.rc == ids.RC.SUCCESS
                # one real request to the top-level node's process, not the answer cache
                assert [(h.site, h.cached) for h in answer.path] == [(nodes.top.url, False)]
                k += HEALTHY_WORKERS

        async def stall(i: int) -> tuple[str | None, float]:
            t0 = time.perf_counter()
            try:
                await resolver.resolve(f"99/STUCK-{i}")
            except ids.SiteUnavailable as exc:
                return exc.reason, time.perf_counter() - t0
            return None, time.perf_counter() - t0

        # The same measurement without the stalled site first: what this machine gives now.
        baseline: list[float] = []
        started: list[float] = []
        done = asyncio.Event()
        workers = [asyncio.create_task(healthy(w, baseline, done)) for w in range(HEALTHY_WORKERS)]
        await asyncio.sleep(BASELINE_SECONDS)
        done.set()
        await asyncio.gather(*workers)

        latencies: list[float] = []
        started.clear()
        done = asyncio.Event()
        workers = [asyncio.create_task(healthy(w, latencies, done)) for w in range(HEALTHY_WORKERS)]
        meter.start()
        t0 = time.perf_counter()
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(stall(i) for i in range(STALLED))), timeout=15
        )
        window = time.perf_counter() - t0
        done.set()
        await asyncio.gather(*workers)
        foreign = meter.foreign_cores()
    finally:
        server.close()
        for w in stalled.writers:
            w.close()
        await transport.close()
    slowest = sorted(zip(latencies, started, strict=True), reverse=True)[:8]
    spikes = [(round(at - t0, 2), round(ms, 1)) for ms, at in slowest]
    return Run(baseline, latencies, list(outcomes), window, stalled, transport, foreign, spikes)


@pytest.mark.slow_callbacks_ok(
    "measures latency: debug mode keeps a traceback per task and callback (400 tasks at once), "
    "a cost of the test harness, not of the resolver"
)
async def test_a_stalled_site_does_not_slow_a_healthy_prefix(nodes: Nodes) -> None:
    for _ in range(ATTEMPTS):
        run = await measure(nodes)
        print("\n" + run.report())
        if p99(run.latencies) < P99_LIMIT_MS or run.foreign <= BUSY_CORES:
            break  # judged: it passed, or it failed on a machine with room to spare
    reasons = [r for r, _ in run.outcomes]
    limits = run.transport.policy.limits
    # The stalled resolutions really waited for the site, and were all ended by its limits:
    # one timeout, plus one more for the few let through while the first failures came in.
    assert run.window >= SITE_TIMEOUT * 0.9
    assert max(s for _, s in run.outcomes) < 2 * SITE_TIMEOUT + 2
    # Those that timed out asked the root again (the referral might have been stale) and then
    # found the breaker open; the others found it open after waiting for a request slot.
    assert None not in reasons and set(reasons) <= {"site_unavailable", "site_open"}
    assert run.transport.sites.summary()["opened"] == 1
    stalled_origin = origin(f"http://127.0.0.1:{nodes.stalled_port}")
    assert run.transport.sites.state(stalled_origin) is BreakerState.OPEN
    assert run.stalled.most_open <= limits.site_connections  # never more than its limit
    # + the warm-up, + those let through while the first failures came in (before the fifth)
    assert run.stalled.accepted <= limits.site_connections + 1 + limits.breaker_failures - 1
    # The healthy prefix kept its pace the whole time.
    assert len(run.latencies) >= 200
    assert p99(run.latencies) < P99_LIMIT_MS, run.report()
