"""What keeps one bad site from slowing the others: a request limit and a breaker per site.

A site here is an origin, ``scheme://host:port`` (``sites.origin``): every HS_SITE URL on one
origin shares its limits and its health.

- **Request limit.** At most ``SiteLimits.site_connections`` requests are in flight to a site;
  up to ``site_queue`` more wait for one of them (in arrival order), and any beyond that are
  refused at once (``Shed("site_busy")``) instead of waiting without bound. A stalled site
  therefore holds a fixed number of connections, however many resolutions ask for it.
- **Breaker.** After ``breaker_failures`` failures in a row (refused, timed out, broken or
  oversized answers) the site is *open* for ``breaker_cooldown`` seconds: requests are refused
  at once (``Shed("site_open")``) without touching the network, and ``available`` says no, so
  the resolver asks the prefix's other sites first. When the cool-down is over the site is
  *half-open*: the next request is let through alone as a probe (others are still refused);
  its success closes the breaker, its failure opens it for another cool-down. Outcomes of
  requests that started before the breaker opened are ignored; a request abandoned without an
  outcome (cancelled by the caller's deadline) counts neither way, and frees the probe.

Entries are kept only while a site has requests in flight or waiting, or is failing; healthy
idle sites cost nothing, and at most ``MAX_FAILING_SITES`` failing sites are remembered (the
least recently failing ones are forgotten first).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum

from indunet.ids.sites import SiteLimits

#: Failing or open sites remembered at once; beyond, the least recently failing is forgotten.
MAX_FAILING_SITES = 4096


class BreakerState(Enum):
    """Where a site's breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Shed(Exception):
    """A request refused by the guard before it reached the network (``reason`` says why)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(eq=False)
class _Site:
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    in_flight: int = 0  # slots held, including one handed to a waiter that has not run yet
    failures: int = 0
    open_until: float | None = None  # None: closed
    probing: bool = False
    epoch: int = 0  # counts openings; outcomes of an older epoch are ignored


@dataclass
class Ticket:
    """One admitted request: report ``succeeded`` or ``failed`` (or neither, if abandoned)."""

    site: str
    epoch: int
    probe: bool
    outcome: bool | None = None

    def succeeded(self) -> None:
        """The site answered with a handle response."""
        self.outcome = True

    def failed(self) -> None:
        """The site failed this request (counted towards opening its breaker)."""
        self.outcome = False


@dataclass
class GuardCounts:
    """Totals since start, for statistics and metrics."""

    shed_busy: int = 0
    shed_open: int = 0
    opened: int = 0
    probes: int = 0


@dataclass
class SiteGuard:
    """Per-site request limits and breakers (see the module docstring)."""

    limits: SiteLimits = field(default_factory=SiteLimits)
    clock: Callable[[], float] = time.monotonic
    counts: GuardCounts = field(default_factory=GuardCounts)
    _sites: dict[str, _Site] = field(default_factory=dict)
    _failing: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def state(self, site: str) -> BreakerState:
        """The breaker state of ``site`` (an origin) now."""
        entry = self._sites.get(site)
        if entry is None or entry.open_until is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if self.clock() < entry.open_until else BreakerState.HALF_OPEN

    def available(self, site: str) -> bool:
        """False when a request to ``site`` would be refused at once (open, probing, full)."""
        entry = self._sites.get(site)
        if entry is None:
            return True
        state = self.state(site)
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and entry.probing):
            return False
        return not (self._full(entry) and len(entry.waiters) >= self.limits.site_queue)

    def tracked(self) -> int:
        """Sites the guard holds an entry for (busy or failing ones)."""
        return len(self._sites)

    def summary(self) -> dict[str, int]:
        """Sites by breaker state (only failing sites are tracked) and the totals."""
        states = [self.state(s) for s in self._failing]
        return {
            "failing": sum(1 for s in states if s is BreakerState.CLOSED),
            "open": sum(1 for s in states if s is BreakerState.OPEN),
            "half_open": sum(1 for s in states if s is BreakerState.HALF_OPEN),
            "shed_busy": self.counts.shed_busy,
            "shed_open": self.counts.shed_open,
            "opened": self.counts.opened,
            "probes": self.counts.probes,
        }

    @asynccontextmanager
    async def request(self, site: str) -> AsyncIterator[Ticket]:
        """Hold one of ``site``'s request slots for the body; raise ``Shed`` if refused."""
        entry = self._sites.get(site)
        if entry is None:
            entry = self._sites[site] = _Site()
        try:
            self._refuse_if_open(site, entry)
            await self._acquire(entry)
            try:
                ticket = self._admit(site, entry)
                try:
                    yield ticket
                finally:
                    self._settle(site, entry, ticket)
            finally:
                self._release(entry)
        finally:
            self._tidy(site, entry)

    async def _acquire(self, entry: _Site) -> None:
        """Take a slot, waiting in arrival order if none is free; ``Shed`` if the queue is full."""
        if not self._full(entry):
            entry.in_flight += 1
            return
        if len(entry.waiters) >= self.limits.site_queue:
            self.counts.shed_busy += 1
            raise Shed(
                "site_busy",
                f"{self.limits.site_connections} requests in flight and "
                f"{len(entry.waiters)} waiting",
            )
        slot = asyncio.get_running_loop().create_future()
        entry.waiters.append(slot)
        try:
            await slot  # the releaser hands its slot over: in_flight is already counted
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self._release(entry)  # handed over just as this request gave up: pass it on
            elif slot in entry.waiters:  # a releaser may have dropped it already
                entry.waiters.remove(slot)
            raise

    def _release(self, entry: _Site) -> None:
        while entry.waiters:
            slot = entry.waiters.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        entry.in_flight -= 1

    def _full(self, entry: _Site) -> bool:
        # Counted here rather than with asyncio.Semaphore, whose acquire walks every waiter
        # (3.11): with 400 requests queued for a stalled site each new one cost a walk.
        return entry.in_flight >= self.limits.site_connections or bool(entry.waiters)

    def _refuse_if_open(self, site: str, entry: _Site) -> None:
        state = self.state(site)
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and entry.probing):
            self.counts.shed_open += 1
            raise Shed("site_open", f"breaker {state.value} after {entry.failures} failures")

    def _admit(self, site: str, entry: _Site) -> Ticket:
        self._refuse_if_open(site, entry)  # it may have opened while this request waited
        if self.state(site) is BreakerState.HALF_OPEN:
            entry.probing = True
            self.counts.probes += 1
            return Ticket(site, entry.epoch, probe=True)
        return Ticket(site, entry.epoch, probe=False)

    def _settle(self, site: str, entry: _Site, ticket: Ticket) -> None:
        if ticket.probe:
            entry.probing = False
            if ticket.outcome is True:
                entry.failures, entry.open_until = 0, None
            elif ticket.outcome is False:
                self._open(site, entry)
            return
        if ticket.outcome is None or ticket.epoch != entry.epoch or entry.open_until is not None:
            return  # abandoned, or from before the breaker opened: says nothing about now
        if ticket.outcome:
            entry.failures = 0
        else:
            entry.failures += 1
            if entry.failures >= self.limits.breaker_failures:
                self._open(site, entry)

    def _open(self, site: str, entry: _Site) -> None:
        entry.open_until = self.clock() + self.limits.breaker_cooldown
        entry.epoch += 1
        self.counts.opened += 1

    def _tidy(self, site: str, entry: _Site) -> None:
        """Forget a healthy idle site; remember a failing one (bounded)."""
        if entry.failures or entry.open_until is not None:
            self._failing[site] = None
            self._failing.move_to_end(site)
            while len(self._failing) > MAX_FAILING_SITES:
                old, _ = self._failing.popitem(last=False)
                gone = self._sites.get(old)
                if gone is not None and not (gone.in_flight or gone.waiters):
                    del self._sites[old]
            return
        self._failing.pop(site, None)
        if not (entry.in_flight or entry.waiters) and self._sites.get(site) is entry:
            del self._sites[site]
