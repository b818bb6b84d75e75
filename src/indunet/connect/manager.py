"""The connector manager: one connector per protocol, devices routed to theirs, commands sent."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from indunet.connect import protocols
from indunet.connect.connector import ChecksWrites, CommandFailed, Connector, DeviceLink, Health
from indunet.connect.spec import ConnectorContext
from indunet.core import InvalidInput
from indunet.devices import Device, ThingModel
from indunet.telemetry import Sample, Value

log = logging.getLogger(__name__)


class ConnectorManager:
    """Starts and stops every connector and routes each device to the connector of its protocol.

    It is the platform's command sender: ``write``/``invoke`` reach the device through the
    connector that serves it. Devices whose protocol has no connector here (``http``: devices
    that only push) cannot receive commands, and say so.
    """

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self.connectors = dict(connectors)
        self._protocol_of: dict[str, str] = {}
        self._synced: dict[str, tuple[str, str, str]] = {}  # what ``sync`` attached, by id
        self._started = False

    @classmethod
    def from_protocols(cls, ctx: ConnectorContext) -> ConnectorManager:
        """A manager with a connector for every protocol of ``connect.protocols`` that has one."""
        return cls(protocols.connectors(ctx))

    async def start(self) -> None:
        """Start every connector at once; raise ``RuntimeError`` naming one that failed.

        The others are started all the same (``stop`` stops them): a failure to start, say
        the MQTT port taken, stops the platform's start rather than running it half-served.
        """
        results = await asyncio.gather(
            *(c.start() for c in self.connectors.values()), return_exceptions=True
        )
        for name, result in zip(self.connectors, results, strict=True):
            if isinstance(result, BaseException):
                raise RuntimeError(f"the {name} connector did not start: {result}") from result
        self._started = True

    async def stop(self) -> None:
        """Stop every connector, waiting for each."""
        self._started = False
        await asyncio.gather(*(c.stop() for c in self.connectors.values()), return_exceptions=True)

    def attach(self, protocol: str, device: DeviceLink) -> None:
        """Serve ``device`` with the connector of ``protocol`` (replaces an earlier attach).

        ``InvalidInput`` from the connector (bad settings or forms) leaves the device
        detached from any earlier protocol, and not attached.
        """
        previous = self._protocol_of.get(device.id)
        if previous is not None and previous != protocol:
            self.detach(device.id)
        connector = self.connectors.get(protocol)
        if connector is not None:
            connector.add(device)
        self._protocol_of[device.id] = protocol

    def sync(
        self, devices: Iterable[Device], model_of: Callable[[str], ThingModel | None]
    ) -> list[str]:
        """Attach new or changed devices and detach the ones gone; their ids, in that order.

        A device is changed when its protocol, model version or connection settings differ
        from the previous call's; a device without a model is left out (as if gone). A
        device its connector refuses (``InvalidInput``: settings or forms it cannot use) is
        logged, detached and counted as changed; it is tried again when it changes. The
        caller forgets cached state of every id returned (the pipeline's model cache, the
        rule engine's windows).
        """
        changed: list[str] = []
        seen: set[str] = set()
        for d in devices:
            model = model_of(d.id)
            if model is None:
                continue
            seen.add(d.id)
            key = (d.protocol, model.ref, json.dumps(d.connection, sort_keys=True, default=str))
            if self._synced.get(d.id) == key:
                continue
            self._synced[d.id] = key
            changed.append(d.id)
            try:
                self.attach(d.protocol, DeviceLink(d.id, model, d.connection))
            except InvalidInput as exc:
                log.warning("device %s is not served: %s", d.id, exc.message)
                self.detach(d.id)
        for gone in sorted(set(self._synced) - seen):
            del self._synced[gone]
            self.detach(gone)
            changed.append(gone)
        return changed

    def detach(self, device_id: str) -> None:
        """Stop serving ``device_id`` (no-op when it is not attached)."""
        protocol = self._protocol_of.pop(device_id, None)
        connector = self.connectors.get(protocol) if protocol else None
        if connector is not None:
            connector.remove(device_id)

    def _connector(self, device_id: str) -> Connector:
        protocol = self._protocol_of.get(device_id)
        if protocol is None:
            raise CommandFailed(f"device {device_id} is not attached to any connector")
        connector = self.connectors.get(protocol)
        if connector is None:
            raise CommandFailed(
                f"device {device_id} speaks {protocol}, which only sends data to the platform "
                "and cannot receive commands"
            )
        return connector

    async def read(self, device_id: str) -> list[Sample]:
        """Current values of the device, read through its connector."""
        return await self._connector(device_id).read(device_id)

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """``InvalidInput`` when the device's connector would refuse ``value`` for ``point``.

        Called before a command is recorded, so a value no device could take answers 400 and
        leaves no trace. A device without a connector, or one that cannot check, passes: its
        ``write`` reports the failure.
        """
        protocol = self._protocol_of.get(device_id)
        connector = self.connectors.get(protocol) if protocol else None
        if isinstance(connector, ChecksWrites):
            await connector.check_write(device_id, point, value)

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Write one point of the device through its connector; return what the device said."""
        return await self._connector(device_id).write(device_id, point, value)

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Invoke an action of the device through its connector."""
        return await self._connector(device_id).invoke(device_id, action, payload)

    def health(self) -> list[Health]:
        """Each connector's health, for metrics and the console."""
        return [c.health() for c in self.connectors.values()]
