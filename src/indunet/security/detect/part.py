"""Detection as a part of the security service: the engine subscribed to the hub, its rules
(built-in and stored), lists and baseline loaded at start, reloaded after each change.

The sink is chosen at start, when every part has been added: the alert store (the part named
``alerts``, which implements ``AlertSink``) if this process runs one, else a ``MemorySink``
that logs each alert. ``point_range`` (the device models' point ranges) is injected by whoever
can map an address and unit to a device; without one the setpoint rule stays quiet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from indunet.security.alerts import AlertSink
from indunet.security.hub import Hub

from .baseline import DEFAULT_DAYS, Baseline, BaselineStore, Period
from .context import Context, PointCheck, PointRange
from .engine import Engine
from .memorysink import MemorySink
from .rules import builtin_files, load_ruleset
from .store import RuleStore


class Detection:
    """The engine, its stores and the hub subscription."""

    def __init__(
        self,
        engine: sa.Engine,
        hub: Hub,
        sink_of: Callable[[], AlertSink | None] = lambda: None,
        point_range: PointRange | None = None,
        point_check: PointCheck | None = None,
    ) -> None:
        self.store = RuleStore(engine)
        self.point_check = point_check
        self.baseline = Baseline()
        self.baseline_store = BaselineStore(engine, self.baseline)
        self.point_range = point_range
        self._sink_of = sink_of
        self.fallback = MemorySink(log_alerts=True)
        self.engine = Engine(
            load_ruleset(builtin_files()), self.fallback, Context(baseline=self.baseline)
        )
        self.started_at = time.time()
        hub.subscribe("detection", self.engine.handle)

    async def start(self) -> None:
        sink = self._sink_of()
        if sink is not None:
            self.engine.sink = sink
        await self.baseline_store.start()
        await self.reload()

    async def stop(self) -> None:
        await self.baseline_store.stop()

    async def reload(self) -> None:
        """Read rules, switches and lists (in a worker thread) and swap them in at once."""
        ruleset, lists = await asyncio.to_thread(lambda: (self.store.ruleset(), self.store.lists()))
        self.engine.set_context(
            Context(ruleset.lists, lists, self.baseline, self.point_range, self.point_check)
        )
        self.engine.reload(ruleset)

    # the baseline's life ------------------------------------------------------------------

    def start_learning(self, enterprise: int, by: str, days: float = DEFAULT_DAYS) -> Period:
        period = self.baseline.start(enterprise, time.time(), days)
        self.baseline_store.save_period(enterprise, period, by)
        return period

    def stop_learning(self, enterprise: int, by: str) -> Period | None:
        period = self.baseline.stop(enterprise, time.time())
        if period is not None:
            self.baseline_store.save_period(enterprise, period, by)
        return period

    def stats(self) -> dict[str, Any]:
        e = self.engine
        return {
            "events": e.events,
            "evictions": e.evictions,
            "memo_resets": e.memo_resets,
            "sink_errors": e.sink_errors,
            "groups": len(e._groups),
            "since": self.started_at,
            "rules_load_errors": self.store.load_errors,
            "baseline_overflow": self.baseline.overflow,
            "baseline_write_errors": self.baseline_store.write_errors,
        }
