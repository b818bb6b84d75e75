"""The per-site guard on its own: the breaker's states (closed, open, half-open with one probe,
closed or open again) and the request limit (a bounded queue, then an immediate refusal).
Time is a clock the test moves; the waiting is real asyncio waiting."""

from __future__ import annotations

import asyncio

import pytest

from indunet.ids.siteguard import MAX_FAILING_SITES, BreakerState, Shed, SiteGuard
from indunet.ids.sites import SiteLimits

A, B = "http://a.example:80", "http://b.example:80"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(**limits: float) -> tuple[SiteGuard, Clock]:
    clock = Clock()
    base = {"breaker_failures": 3, "breaker_cooldown": 10.0, "site_connections": 4}
    return SiteGuard(SiteLimits(**(base | limits)), clock=clock), clock  # type: ignore[arg-type]


async def fail(g: SiteGuard, site: str = A) -> None:
    async with g.request(site) as ticket:
        ticket.failed()


async def succeed(g: SiteGuard, site: str = A) -> None:
    async with g.request(site) as ticket:
        ticket.succeeded()


async def refused(g: SiteGuard, site: str = A) -> str:
    """The reason ``site`` is refused with; the body must not run, nor the refusal wait."""

    async def ask() -> None:
        async with g.request(site):
            raise AssertionError("a refused request reached the site")

    with pytest.raises(Shed) as err:
        await asyncio.wait_for(ask(), 1.0)
    return err.value.reason


# -- the breaker ----------------------------------------------------------------------------


async def test_consecutive_failures_open_the_breaker_and_requests_are_refused() -> None:
    g, _ = guard()
    for _ in range(2):
        await fail(g)
    assert g.state(A) is BreakerState.CLOSED and g.available(A)
    await fail(g)
    assert g.state(A) is BreakerState.OPEN and not g.available(A)
    assert await refused(g) == "site_open"
    assert g.state(B) is BreakerState.CLOSED and g.available(B)  # other sites are untouched
    await succeed(g, B)
    summary = g.summary()
    assert (summary["open"], summary["opened"], summary["shed_open"]) == (1, 1, 1)


async def test_a_success_resets_the_count_of_failures() -> None:
    g, _ = guard()
    for _ in range(2):
        await fail(g)
    await succeed(g)
    for _ in range(2):
        await fail(g)
    assert g.state(A) is BreakerState.CLOSED
    await fail(g)
    assert g.state(A) is BreakerState.OPEN


async def test_after_the_cool_down_one_probe_is_let_through_and_its_success_closes() -> None:
    g, clock = guard()
    for _ in range(3):
        await fail(g)
    clock.now += 9.9
    assert g.state(A) is BreakerState.OPEN
    clock.now += 0.2
    assert g.state(A) is BreakerState.HALF_OPEN and g.available(A)
    async with g.request(A) as probe:
        assert probe.probe
        assert not g.available(A)  # while the probe is out, every other request is refused
        assert await refused(g) == "site_open"
        probe.succeeded()
    assert g.state(A) is BreakerState.CLOSED and g.available(A)
    async with g.request(A) as ticket:
        assert not ticket.probe
        ticket.succeeded()
    assert g.summary() == {
        "failing": 0,
        "open": 0,
        "half_open": 0,
        "shed_busy": 0,
        "shed_open": 1,
        "opened": 1,
        "probes": 1,
    }


async def test_a_failed_probe_opens_the_breaker_for_another_cool_down() -> None:
    g, clock = guard()
    for _ in range(3):
        await fail(g)
    clock.now += 10.0
    assert g.state(A) is BreakerState.HALF_OPEN
    await fail(g)  # the probe
    assert g.state(A) is BreakerState.OPEN
    clock.now += 9.0
    assert await refused(g) == "site_open"
    clock.now += 1.0
    assert g.state(A) is BreakerState.HALF_OPEN
    assert g.summary()["opened"] == 2


async def test_an_abandoned_probe_frees_the_probe_without_an_outcome() -> None:
    g, clock = guard()
    for _ in range(3):
        await fail(g)
    clock.now += 10.0
    entered = asyncio.Event()

    async def stuck() -> None:
        async with g.request(A):
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(stuck())
    await entered.wait()
    assert not g.available(A)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert g.state(A) is BreakerState.HALF_OPEN and g.available(A)  # the next request probes
    async with g.request(A) as probe:
        assert probe.probe
        probe.succeeded()
    assert g.state(A) is BreakerState.CLOSED


async def test_outcomes_of_requests_from_before_the_opening_are_ignored() -> None:
    g, clock = guard()
    release = asyncio.Event()
    outcome: list[bool] = []

    async def slow() -> None:
        async with g.request(A) as ticket:
            await release.wait()
            ticket.succeeded() if outcome[0] else ticket.failed()

    early = [asyncio.create_task(slow()) for _ in range(2)]
    await asyncio.sleep(0)
    for _ in range(3):
        await fail(g)
    assert g.state(A) is BreakerState.OPEN
    outcome.append(True)  # a success that started before the breaker opened ...
    release.set()
    await asyncio.gather(*early)
    assert g.state(A) is BreakerState.OPEN  # ... does not close it; only a probe does
    clock.now += 10.0
    await succeed(g)
    assert g.state(A) is BreakerState.CLOSED

    # Failures of requests from before an opening do not count after the probe closed it.
    release.clear()
    outcome[0] = False
    late = [asyncio.create_task(slow()) for _ in range(2)]
    await asyncio.sleep(0)
    for _ in range(3):
        await fail(g)
    clock.now += 10.0
    await succeed(g)  # the probe
    release.set()
    await asyncio.gather(*late)
    await fail(g)
    assert g.state(A) is BreakerState.CLOSED  # one failure counted, not three


async def test_healthy_sites_leave_nothing_behind_and_failing_ones_are_bounded() -> None:
    g, _ = guard(breaker_failures=1)
    for i in range(50):
        await succeed(g, f"http://h{i}.example:80")
    assert g.tracked() == 0  # a healthy idle site costs no memory
    for i in range(MAX_FAILING_SITES + 10):
        await fail(g, f"http://f{i}.example:80")
    assert g.tracked() == MAX_FAILING_SITES
    assert g.state("http://f0.example:80") is BreakerState.CLOSED  # forgotten first
    assert g.state(f"http://f{MAX_FAILING_SITES + 9}.example:80") is BreakerState.OPEN


# -- the request limit ------------------------------------------------------------------------


async def test_requests_beyond_the_limit_wait_in_order_and_beyond_the_queue_are_refused() -> None:
    g, _ = guard(site_connections=2, site_queue=2)
    release = asyncio.Event()
    order: list[int] = []

    async def hold(i: int) -> None:
        async with g.request(A) as ticket:
            order.append(i)
            await release.wait()
            ticket.succeeded()

    tasks = [asyncio.create_task(hold(i)) for i in range(4)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == [0, 1]  # two in flight, two waiting
    assert not g.available(A)
    # the fifth is refused at once, not queued: a queued request would wait for the held
    # ones (released below) and ``refused`` would time out instead of seeing ``Shed``
    assert await refused(g) == "site_busy"
    assert order == [0, 1]  # the held ones are still held
    async with g.request(B) as other:  # another site is not held up by A's queue
        other.succeeded()
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]
    assert g.summary()["shed_busy"] == 1
    assert g.state(A) is BreakerState.CLOSED  # being busy is no failure of the site
    assert g.tracked() == 0


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    g, _ = guard(site_connections=1, site_queue=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with g.request(A) as ticket:
            await release.wait()
            ticket.succeeded()

    first = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert await refused(g) == "site_busy"
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    third = asyncio.create_task(hold())  # the queue has room again
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, third)
    assert g.tracked() == 0


async def test_a_request_that_waited_is_refused_if_the_breaker_opened_meanwhile() -> None:
    g, _ = guard(site_connections=1, breaker_failures=1)
    release = asyncio.Event()

    async def hold_then_fail() -> None:
        async with g.request(A) as ticket:
            await release.wait()
            ticket.failed()

    first = asyncio.create_task(hold_then_fail())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(refused(g))
    await asyncio.sleep(0)
    release.set()
    await first
    assert await waiting == "site_open"


def test_limits_are_checked() -> None:
    for bad in (
        {"site_connections": 0},
        {"site_queue": -1},
        {"breaker_failures": 0},
        {"breaker_cooldown": 0},
    ):
        with pytest.raises(ValueError, match="site limits"):
            SiteLimits(**bad)  # type: ignore[arg-type]
