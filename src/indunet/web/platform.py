"""The platform's running parts, wired together: registries, store, pipeline, connectors.

Built once per process by ``build_platform`` and held by ``AppState.platform``. Routes reach
the services through ``deps.PlatformDep``; ``start``/``stop`` run in the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa

from indunet import connect, devices, ids, telemetry
from indunet.core import EventBus, Settings
from indunet.core.db import BUFFER_FILE
from indunet.devices import Device
from indunet.devices import events as device_events

if TYPE_CHECKING:
    from indunet.web.state import AppState

log = logging.getLogger(__name__)
STATUS_FLUSH_S = 2.0  # device statuses persisted, and new devices attached, this often
RETENTION_S = 3600.0  # retention pass once an hour


@dataclass
class Platform:
    """Services of the industrial platform for one process."""

    settings: Settings
    engine: sa.Engine
    bus: EventBus
    models: devices.ModelRegistry
    devices: devices.DeviceRegistry
    alarms: telemetry.Alarms
    rules: telemetry.RuleEngine
    store: telemetry.TimeSeriesStore
    dead_letters: telemetry.DeadLetters
    pipeline: telemetry.Pipeline
    connectors: connect.ConnectorManager
    commands: telemetry.Commands
    purger: telemetry.Purger
    ingest_rate: telemetry.IngestRate = field(default_factory=telemetry.IngestRate)
    hooks: list[Hook] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start the pipeline, attach every device to its connector, start the connectors."""
        await self.pipeline.start()
        self.sync_devices(await asyncio.to_thread(self.devices.list))  # the list reads the db
        await self.connectors.start()
        self._tasks = [
            asyncio.create_task(self._every(STATUS_FLUSH_S, self._housekeeping)),
            asyncio.create_task(self._every(RETENTION_S, self._retention)),
        ]
        for hook in self.hooks:
            await hook.start(self)

    async def stop(self) -> None:
        """Stop connectors (before the demo's equipment vanishes under them), then hooks,
        then drain the pipeline, then close the store."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.connectors.stop()
        for hook in reversed(self.hooks):
            try:
                await hook.stop(self)
            except Exception:
                log.exception("stopping %s failed; stopping the rest", type(hook).__name__)
        await self.pipeline.stop()
        await asyncio.to_thread(self.devices.flush_status)
        await asyncio.to_thread(self.store.close)

    def sync_devices(self, current: list[Device] | None = None) -> int:
        """Attach new or changed devices to their connector and detach deleted ones
        (``ConnectorManager.sync`` decides), then forget what was cached about them.

        Called at start and every few seconds, so devices created through the API, the CLI
        or another process are served without a restart. ``current`` is the device list when
        the caller read it already (off the event loop). Returns how many changed.
        """
        devices = self.devices.list() if current is None else current
        changed = self.connectors.sync(devices, self.devices.model_of)
        for device_id in changed:
            self.pipeline.invalidate(device_id)
            self.rules.forget(device_id)
        return len(changed)

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("platform housekeeping failed; trying again in %s s", seconds)

    async def _housekeeping(self) -> None:
        self.devices.expire_silent(time.time())  # the devices' own rule for HTTP devices
        counts = self.pipeline.counts
        self.ingest_rate.observe(int(time.time() * 1000), counts.accepted, counts.stored)
        for change in await asyncio.to_thread(self.devices.flush_status_changes):
            await self.bus.publish(
                device_events.DEVICE_STATUS.make(
                    {"device_id": change.device_id, **change.to_json()},
                    enterprise_id=change.enterprise_id,
                )
            )
        # Devices made, changed or deleted anywhere (API, CLI, another process): read again
        # only when the table changed (one aggregate query otherwise).
        current = await asyncio.to_thread(self.devices.reload_if_changed)
        if current is not None:
            self.sync_devices(current)
        # Deleted devices (API, CLI, a failed purge), once detached above and once the
        # pipeline has stored what it accepted before the delete (Purger waits for that).
        await self.purger.purge_pending()

    async def _retention(self) -> None:
        by_enterprise: dict[int, list[str]] = {}
        for d in await asyncio.to_thread(self.devices.list):  # the list reads the database
            by_enterprise.setdefault(d.enterprise_id, []).append(d.id)
        await asyncio.to_thread(
            telemetry.retention_pass,
            self.store,
            by_enterprise,
            engine=self.engine,
            default_days=self.settings.retention_days,
        )


class Hook(Protocol):
    """Something started with the platform and stopped before it (the demo's virtual factory)."""

    async def start(self, platform: Platform) -> None:
        """Start; the platform's services are running."""

    async def stop(self, platform: Platform) -> None:
        """Stop."""


@dataclass
class _Status:
    """Connectors report online/offline here; the registry keeps it and flushes it."""

    registry: devices.DeviceRegistry

    def device_status(self, device_id: str, online: bool) -> None:
        self.registry.set_status(device_id, online, time.time())


@dataclass
class _Seen:
    """The connectors' sink: the pipeline, telling the registry whose data arrived (its
    ``last_seen``, kept in memory and flushed with the statuses)."""

    pipeline: telemetry.Pipeline
    registry: devices.DeviceRegistry

    async def submit(self, samples: Sequence[telemetry.Sample], *, source: str) -> None:
        at = time.time()
        await self.pipeline.submit(samples, source=source)
        self.registry.saw_data({s.device for s in samples}, at)

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        kind: str = "undecodable",
    ) -> None:
        await self.pipeline.reject(device, source=source, reason=reason, payload=payload, kind=kind)


def from_state(state: AppState) -> Platform:
    """The platform's services for an app state (the platform descriptor's factory)."""
    return build_platform(state.settings, state.engine, state.bus, state.hierarchy)


def build_platform(
    settings: Settings, engine: sa.Engine, bus: EventBus, hierarchy: ids.Hierarchy
) -> Platform:
    """Construct every platform service; nothing runs until ``Platform.start``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # --- devices (models, registry with identifiers) ---
    models = devices.ModelRegistry(engine)
    models.install_library(actor="system")
    registry = devices.DeviceRegistry(
        engine, models, hierarchy.front, platform_url=settings.base_url()
    )
    # --- telemetry (store, pipeline, rules, alarms, commands) ---
    alarms = telemetry.Alarms(engine, bus)
    rules = telemetry.RuleEngine(engine, registry, alarms, bus, find_model=models.usable_by)
    store = telemetry.open_store(settings.resolved_telemetry_url())
    dead_letters = telemetry.DeadLetters(engine)
    buffer = telemetry.DiskBuffer(settings.data_dir / BUFFER_FILE, settings.buffer_max_bytes)
    pipeline = telemetry.Pipeline(
        store, registry.model_of, dead_letters, buffer, on_stored=rules.on_stored
    )
    # --- connectors ---
    status = _Status(registry)
    manager = connect.ConnectorManager.from_protocols(
        connect.ConnectorContext(_Seen(pipeline, registry), status, settings, registry.authenticate)
    )
    commands = telemetry.Commands(engine, manager, registry, bus=bus)
    return Platform(
        settings=settings,
        engine=engine,
        bus=bus,
        models=models,
        devices=registry,
        alarms=alarms,
        rules=rules,
        store=store,
        dead_letters=dead_letters,
        pipeline=pipeline,
        connectors=manager,
        commands=commands,
        purger=telemetry.Purger(engine, store, registry, bus, settled=pipeline.settled),
    )
