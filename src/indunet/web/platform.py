"""The platform's running parts, wired together: registries, store, pipeline, connectors.

Built once per process by ``build_platform`` and held by ``AppState.platform``. Routes reach
the services through ``deps.PlatformDep``; ``start``/``stop`` run in the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa

from indunet import bus as backbone_bus
from indunet import connect, devices, ids, telemetry
from indunet.connect import events as connect_events
from indunet.core import EventBus, Settings
from indunet.core.db import BUFFER_FILE, application_name
from indunet.core.signals import Signal, Signals
from indunet.devices import Device
from indunet.devices import events as device_events

if TYPE_CHECKING:
    from indunet.web.state import AppState

log = logging.getLogger(__name__)
STATUS_FLUSH_S = 2.0  # device statuses persisted, and new devices attached, this often
RETENTION_S = 3600.0  # retention pass once an hour


@dataclass(frozen=True, slots=True)
class Role:
    """What one process of the platform runs: ``INDUNET_ROLE`` and ``INDUNET_SHARD``.

    ``all`` is the embedded mode (or every part in one process on the backbone). ``api``
    serves the HTTP API, the console and HTTP ingest; ``connector`` serves devices (its share
    of the polled ones: Modbus and OPC UA devices whose id hashes to its index; every MQTT
    and HTTP device, which reach whichever connector the broker or balancer picks);
    ``worker`` stores what the backbone delivers, runs the rules, purges and retention.
    """

    name: str
    index: int
    count: int

    @classmethod
    def of(cls, settings: Settings) -> Role:
        """The role of ``settings`` (``INDUNET_ROLE``, ``INDUNET_SHARD``)."""
        index, count = settings.share()
        return cls(settings.role, index, count)

    @property
    def leads(self) -> bool:
        """Whether this process does what one process of the installation does: the
        retention pass, and handling the events handled once (notifications)."""
        return self.name == "all" or (self.name == "worker" and self.index == 0)

    @property
    def connects(self) -> bool:
        """Whether this process runs connectors."""
        return self.name in ("all", "connector")

    @property
    def stores(self) -> bool:
        """Whether this process writes the store (and so purges and runs the rules)."""
        return self.name in ("all", "worker")

    @property
    def takes_http(self) -> bool:
        """Whether HTTP devices post to this process."""
        return self.name in ("all", "api")

    @property
    def keeps_retention(self) -> bool:
        """Whether this process runs the hourly retention pass (one worker does)."""
        return self.leads

    def serves(self, device: Device) -> bool:
        """Whether this connector attaches ``device``."""
        if device.protocol in ("mqtt", "http"):
            return True
        return backbone_bus.owns_device(device.id, self.index, self.count)

    def owns(self, device_id: str) -> bool:
        """Whether commands to ``device_id`` are this connector's to send (every protocol
        follows the share rule, so an MQTT device's command is published once)."""
        return self.connects and backbone_bus.owns_device(device_id, self.index, self.count)


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
    role: Role = field(default_factory=lambda: Role("all", 0, 1))
    writer: backbone_bus.BusWriter | None = None  # the pipeline publishes (scaled mode)
    worker: backbone_bus.BusWorker | None = None  # stores what the bus delivers (scaled mode)
    command_server: backbone_bus.CommandServer | None = None  # commands from other processes
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _reloading: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> None:
        """Start the pipeline, attach every device to its connector, start the connectors;
        in the scaled mode, only what this process's role runs."""
        if self.writer is not None:
            self.writer.bind(asyncio.get_running_loop())
        await self.pipeline.start()
        if self.worker is not None:
            await self.worker.pipeline.start()
            await self.worker.start()
        if self.role.connects:
            self.sync_devices(await asyncio.to_thread(self.devices.list))  # reads the db
            await self.connectors.start()
        if self.command_server is not None:
            await self.command_server.start()
        self._tasks = [asyncio.create_task(self._every(STATUS_FLUSH_S, self._housekeeping))]
        if self.role.keeps_retention:
            self._tasks.append(asyncio.create_task(self._every(RETENTION_S, self._retention)))
        for hook in self.hooks:
            await hook.start(self)

    async def stop(self) -> None:
        """Stop connectors (before the demo's equipment vanishes under them), then hooks,
        then drain the pipeline, then close the store."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.command_server is not None:
            await self.command_server.stop()
        if self.worker is not None:
            await self.worker.stop()  # fetched, unacknowledged envelopes are delivered again
        await self.connectors.stop()
        for hook in reversed(self.hooks):
            try:
                await hook.stop(self)
            except Exception:
                log.exception("stopping %s failed; stopping the rest", type(hook).__name__)
        await self.pipeline.stop()
        if self.worker is not None:
            await self.worker.pipeline.stop()
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
        if not self.role.connects:  # nothing to attach: forget what was cached of them all
            self.pipeline.invalidate()
            if self.worker is not None:
                self.worker.pipeline.invalidate()
            for d in devices:
                self.rules.forget(d.id)
            return 0
        changed = self.connectors.sync(
            [d for d in devices if self.role.serves(d)], self.devices.model_of
        )
        for device_id in changed:
            self.pipeline.invalidate(device_id)
            if self.worker is not None:
                self.worker.pipeline.invalidate(device_id)
            self.rules.forget(device_id)
        return len(changed)

    async def reload_devices(self, _changed: Sequence[str] = ()) -> None:
        """Read the devices again if the table changed, and sync them: every few seconds,
        and at once when another process says it changed devices (``bus.Invalidation``)."""
        async with self._reloading:
            current = await asyncio.to_thread(self.devices.reload_if_changed)
            if current is not None:
                self.sync_devices(current)

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("platform housekeeping failed; trying again in %s s", seconds)

    async def _housekeeping(self) -> None:
        if self.role.takes_http:
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
        await self.reload_devices()
        # Deleted devices (API, CLI, a failed purge), once detached above and once the
        # pipeline has stored what it accepted before the delete (Purger waits for that).
        if self.role.stores:
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
    ``last_seen``, kept in memory and flushed with the statuses) and ``unknown`` the
    devices the pipeline did not know (``connect.events.UNKNOWN_DEVICES``; a connector's
    sink has no source address)."""

    pipeline: telemetry.Pipeline
    registry: devices.DeviceRegistry
    unknown: Signal | None = None

    async def submit(self, samples: Sequence[telemetry.Sample], *, source: str) -> None:
        at = time.time()
        receipt = await self.pipeline.ingest(samples, source=source)
        self.registry.saw_data({s.device for s in samples}, at)
        if self.unknown is not None:
            for device in receipt.unknown:
                self.unknown.add((None, device, source, None))

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        kind: str = "undecodable",
        why: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        await self.pipeline.reject(
            device, source=source, reason=reason, payload=payload, kind=kind, why=why, params=params
        )


def from_state(state: AppState) -> Platform:
    """The platform's services for an app state (the platform descriptor's factory)."""
    from indunet.web.backbone import backbone_of

    return build_platform(
        state.settings,
        state.engine,
        state.bus,
        state.hierarchy,
        backbone=backbone_of(state),
        invalidation=state.invalidation,
        signals=state.signals,
    )


class RoleNeedsBus(ValueError):
    """A role other than ``all`` without ``INDUNET_BUS_URL``."""


def build_platform(
    settings: Settings,
    engine: sa.Engine,
    bus: EventBus,
    hierarchy: ids.Hierarchy,
    *,
    backbone: backbone_bus.Backbone | None = None,
    invalidation: backbone_bus.Invalidation | None = None,
    signals: Signals | None = None,
) -> Platform:
    """Construct every platform service; nothing runs until ``Platform.start``.

    Without a backbone the pipeline writes the store (the embedded mode). With one, it
    publishes to JetStream (``bus.BusWriter``) and, in a worker (or ``all``), a
    ``bus.BusWorker`` feeds a second pipeline that writes the store and runs the rules.
    Commands for devices this process does not serve go to the connector that does
    (``bus.RemoteSender``), and a connector serves commands from the others
    (``bus.CommandServer``). With ``invalidation``, a device changed here makes the other
    processes read their devices at once, and theirs this one. With ``signals``, connectors
    note refused credentials and the sink notes telemetry of unknown devices there.
    """
    role = Role.of(settings)
    index, count = role.index, role.count
    if backbone is None and role.name != "all":
        raise RoleNeedsBus(f"the role {role.name} needs INDUNET_BUS_URL=nats://…")
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
    store = telemetry.open_store(
        settings.resolved_telemetry_url(), application_name=application_name(settings, "telemetry")
    )
    dead_letters = telemetry.DeadLetters(engine)
    buffer = telemetry.DiskBuffer(settings.data_dir / BUFFER_FILE, settings.buffer_max_bytes)
    writer: backbone_bus.BusWriter | None = None
    worker: backbone_bus.BusWorker | None = None
    if backbone is None:
        pipeline = telemetry.Pipeline(
            store, registry.model_of, dead_letters, buffer, on_stored=rules.on_stored
        )
    else:
        writer = backbone_bus.BusWriter(backbone, _enterprise_of(registry), source=role.name)
        pipeline = telemetry.Pipeline(writer, registry.model_of, dead_letters, buffer)
        if role.stores:
            stored = telemetry.Pipeline(
                store, registry.model_of, dead_letters, None, on_stored=rules.on_stored
            )
            partitions = backbone_bus.owned(index, count, backbone.names.partitions)
            worker = backbone_bus.BusWorker(backbone, stored, partitions)
    # --- connectors ---
    status = _Status(registry)
    unknown = signals.of(connect_events.UNKNOWN_DEVICES) if signals is not None else None
    manager = connect.ConnectorManager.from_protocols(
        connect.ConnectorContext(
            _Seen(pipeline, registry, unknown),
            status,
            settings,
            registry.authenticate,
            signals=signals,
        )
    )
    sender: telemetry.CommandSender = manager
    server: backbone_bus.CommandServer | None = None
    if backbone is not None:
        remote = backbone_bus.RemoteSender(
            backbone, count if role.connects else settings.bus_connectors
        )
        sender = remote
        if role.connects:
            sender = backbone_bus.RoutedSender(manager, remote, owns=role.owns)
            server = backbone_bus.CommandServer(backbone, manager, index)
    if invalidation is not None:
        registry.on_change.append(lambda d: invalidation.tell(backbone_bus.DEVICES, [d]))
    commands = telemetry.Commands(engine, sender, registry, bus=bus)
    platform = Platform(
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
        purger=telemetry.Purger(engine, store, registry, bus, settled=_settled(pipeline, worker)),
        role=role,
        writer=writer,
        worker=worker,
        command_server=server,
    )
    if invalidation is not None:
        invalidation.on(backbone_bus.DEVICES, platform.reload_devices)
    return platform


def _enterprise_of(registry: devices.DeviceRegistry) -> Callable[[str], int | None]:
    def enterprise_of(device_id: str) -> int | None:
        d = registry.lookup(device_id)
        return None if d is None else d.enterprise_id

    return enterprise_of


def _settled(
    pipeline: telemetry.Pipeline, worker: backbone_bus.BusWorker | None
) -> Callable[[], bool]:
    """Whether what this process accepted is stored (a purge waits for it)."""
    if worker is None:
        return pipeline.settled
    return lambda: pipeline.settled() and worker.pipeline.settled()
