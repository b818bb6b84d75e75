"""Purging a deleted device's telemetry, so that its id can be given to someone else.

Samples, rollups, commands, dead letters, alarms and the rules written for the device are
kept under its id. When the device is deleted, the registry leaves a tombstone and refuses
the id until ``Purger.purge`` has removed all of it and told the registry so. The work is
blocking I/O (a big device's samples take a while), so ``purge_pending`` runs it on a worker
thread; a purge that fails stays pending and is tried again on the next call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from indunet.core import EventBus
from indunet.telemetry import events
from indunet.telemetry.alarmtables import alarm_comments, alarms, commands, rules
from indunet.telemetry.store import TimeSeriesStore
from indunet.telemetry.tables import dead_letters

log = logging.getLogger(__name__)


class Tombstones(Protocol):
    """Where deleted devices wait for their purge (``devices.DeviceRegistry`` is one)."""

    def pending_purges(self) -> list[tuple[str, int]]:
        """(device id, former enterprise) of each deleted device not yet purged."""

    def purge_done(self, device_id: str) -> None:
        """The device's data is gone: its id may be registered again."""


@dataclass(frozen=True, slots=True)
class Purged:
    """What one purge removed."""

    device_id: str
    samples: int
    commands: int
    dead_letters: int
    alarms: int
    rules: int
    enterprise_id: int | None = None  # the deleted device's former owner


class Purger:
    """Removes everything telemetry keeps under a deleted device's id."""

    def __init__(
        self,
        engine: sa.Engine,
        store: TimeSeriesStore,
        tombstones: Tombstones,
        bus: EventBus | None = None,
        settled: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.tombstones = tombstones
        self.bus = bus
        self.settled = settled  # the pipeline holds nothing not yet stored (Pipeline.settled)
        self._lock = threading.Lock()  # the API's delete and housekeeping may both call

    def purge(self, device_id: str, enterprise_id: int) -> Purged:
        """Delete the device's samples, commands, dead letters, alarms and rules (blocking);
        ``enterprise_id`` (its former owner) is logged.

        Rows of the table are matched by device id alone: while the tombstone stands nobody
        else can hold the id, so every row under it is the deleted device's.
        """
        samples = self.store.delete_device(device_id)
        with self.engine.begin() as conn:
            n_commands = conn.execute(
                commands.delete().where(commands.c.device_id == device_id)
            ).rowcount
            n_letters = conn.execute(
                dead_letters.delete().where(dead_letters.c.device == device_id)
            ).rowcount
            of_device = sa.select(alarms.c.id).where(alarms.c.device_id == device_id)
            conn.execute(alarm_comments.delete().where(alarm_comments.c.alarm_id.in_(of_device)))
            n_alarms = conn.execute(alarms.delete().where(alarms.c.device_id == device_id)).rowcount
            n_rules = conn.execute(rules.delete().where(rules.c.device_id == device_id)).rowcount
        self.tombstones.purge_done(device_id)
        done = Purged(device_id, samples, n_commands, n_letters, n_alarms, n_rules, enterprise_id)
        log.info("purged deleted device %s of enterprise %s: %s", device_id, enterprise_id, done)
        return done

    def purge_all(self) -> list[Purged]:
        """Purge every deleted device still pending (blocking); failures stay pending."""
        out: list[Purged] = []
        if self.settled is not None and not self.settled():
            return out  # samples accepted before the delete may still land: purge after them
        with self._lock:
            for device_id, enterprise_id in self.tombstones.pending_purges():
                try:
                    out.append(self.purge(device_id, enterprise_id))
                except Exception:
                    log.exception("purging deleted device %s failed; will retry", device_id)
        return out

    async def purge_pending(self) -> list[Purged]:
        """``purge_all`` on a worker thread, so the event loop goes on meanwhile; then
        ``device.purged`` on the bus for each device purged (the rule engine drops the
        deleted device's rules from memory)."""
        done = await asyncio.to_thread(self.purge_all)
        if self.bus is not None:
            for purged in done:
                await self.bus.publish(
                    events.DEVICE_PURGED.make(
                        {"device_id": purged.device_id, "rules": purged.rules},
                        enterprise_id=purged.enterprise_id,
                    )
                )
        return done
