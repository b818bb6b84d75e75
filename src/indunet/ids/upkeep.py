"""The ids subsystem's background service: stores the daily counts, learns revocations and
announces finished bulk imports.

Every ``daily.FLUSH_S`` seconds, off the event loop, it adds every node's tally of
registrations and resolutions to ``ids_daily_stats`` (``daily.flush``), reloads the
revoked prefixes (``prefixes.load_revoked``), so a revocation made by another process is
obeyed here within that time, and publishes ``bulk.finished`` for imports that finished
unannounced (``bulkjobs.announce_finished``: those the CLI ran, which has no event bus, or
whose process stopped before publishing). Every ``NONCE_SWEEP_PASSES`` passes it deletes the
expired nonces of active identifiers (``active.forget_expired``) and the entries of the
durable change log older than ``changelog_keep_s`` (``changelog.prune``). Stopping flushes
once more.

Besides, its ``ChangeFeed`` (``ids.changes``) polls every quarter of a second for records
other processes changed, and drops them from the nodes' answer caches and their resolver's
cache (a prefix record also reloads the node's delegations; a revocation the revoked
prefixes), so a write made by ``indunet id`` on a running server's database is answered
within a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa

from indunet.core import EventBus
from indunet.ids import active, changelog, daily
from indunet.ids.bulkjobs import announce_finished
from indunet.ids.changes import EVERYTHING, Change, ChangeFeed
from indunet.ids.node import Node
from indunet.ids.prefixes import load_revoked
from indunet.ids.resolver import Resolver
from indunet.ids.syntax import handle as hdl

PREFIX_RECORD = "0.NA/"

log = logging.getLogger(__name__)
NONCE_SWEEP_PASSES = 60  # every 5 minutes at the default pace


class Upkeep:
    """Flushes counts and refreshes revocations of ``nodes`` every ``every`` seconds, and
    publishes unannounced finished bulk imports on ``bus`` (if given)."""

    def __init__(
        self,
        engine: sa.Engine,
        nodes: Sequence[Node],
        every: float = daily.FLUSH_S,
        bus: EventBus | None = None,
        changelog_keep_s: float = 7 * changelog.DAY_S,
    ):
        self.engine = engine
        self.changelog_keep_s = changelog_keep_s
        self.nodes = list(nodes)
        self.every = every
        self.bus = bus
        self.feed = ChangeFeed(engine, self.forget)
        self._task: asyncio.Task[None] | None = None
        self._passes = 0

    def forget(self, found: Sequence[Change]) -> None:
        """Drop what other writers changed from every cache of these nodes (in a thread)."""
        by_name = {n.name: n for n in self.nodes}
        resolvers: dict[int, Resolver] = {id(n.caches): n.caches for n in self.nodes if n.caches}
        reload: dict[str, Node] = {}
        revocations = False
        for name, key in found:
            node = by_name.get(name)
            if key == EVERYTHING:
                for n in [node] if node is not None else ([] if name else self.nodes):
                    n.answers.clear()
                    reload[n.name] = n
                for r in resolvers.values():
                    r.answers.clear()
                    r.referrals.clear()
                revocations = True
                continue
            if node is not None:
                node.answers.drop(key)
            for r in resolvers.values():
                r.answers.drop(key)
                if key.startswith(PREFIX_RECORD):
                    r.referrals.drop(hdl.normalise_prefix(key[len(PREFIX_RECORD) :]))
            if node is not None and key.startswith(PREFIX_RECORD):
                reload[node.name] = node
        for n in reload.values():
            n.load_delegations()
        if revocations:
            load_revoked(self.engine, self.nodes)

    def run_once(self) -> None:
        """One pass (blocking: call it in a thread)."""
        daily.flush(self.engine, [n.stats.daily for n in self.nodes])
        load_revoked(self.engine, self.nodes)
        if self._passes % NONCE_SWEEP_PASSES == 0:
            active.forget_expired(self.engine)
            changelog.prune(self.engine, self.changelog_keep_s)
        self._passes += 1

    async def start(self) -> None:
        """Learn the revocations now, then keep going in the background."""
        await asyncio.to_thread(load_revoked, self.engine, self.nodes)
        await self.feed.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop, and store what was counted since the last pass."""
        await self.feed.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await asyncio.to_thread(daily.flush, self.engine, [n.stats.daily for n in self.nodes])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await asyncio.to_thread(self.run_once)
                if self.bus is not None:
                    await announce_finished(self.engine, self.bus)
            except Exception:
                log.exception("identifier upkeep failed; trying again in %s s", self.every)


class _Hierarchy(Protocol):
    @property
    def nodes(self) -> dict[str, Node]: ...


class _Settings(Protocol):
    @property
    def ids_changelog_days(self) -> float: ...


class _State(Protocol):
    @property
    def engine(self) -> sa.Engine: ...

    @property
    def settings(self) -> _Settings: ...

    @property
    def hierarchy(self) -> _Hierarchy: ...

    @property
    def bus(self) -> EventBus: ...


def service(state: _State) -> Upkeep:
    """The ids subsystem's service for an app state: upkeep of every node it runs."""
    return Upkeep(
        state.engine,
        list(state.hierarchy.nodes.values()),
        bus=state.bus,
        changelog_keep_s=state.settings.ids_changelog_days * changelog.DAY_S,
    )
