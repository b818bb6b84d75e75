"""The connector manager: one connector per protocol, devices routed to theirs, commands sent."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from indunet.connect import protocols
from indunet.connect.connector import ChecksWrites, CommandFailed, Connector, DeviceLink, Health
from indunet.connect.spec import ConnectorContext
from indunet.telemetry import Sample, Value


class ConnectorManager:
    """Starts and stops every connector and routes each device to the connector of its protocol.

    It is the platform's command sender: ``write``/``invoke`` reach the device through the
    connector that serves it. Devices whose protocol has no connector here (``http``: devices
    that only push) cannot receive commands, and say so.
    """

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self.connectors = dict(connectors)
        self._protocol_of: dict[str, str] = {}
        self._started = False

    @classmethod
    def from_protocols(cls, ctx: ConnectorContext) -> ConnectorManager:
        """A manager with a connector for every protocol of ``connect.protocols`` that has one."""
        return cls(protocols.connectors(ctx))

    async def start(self) -> None:
        """Start every connector; a connector that fails to start does not stop the others."""
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
        """Serve ``device`` with the connector of ``protocol`` (replaces an earlier attach)."""
        previous = self._protocol_of.get(device.id)
        if previous is not None and previous != protocol:
            self.detach(device.id)
        self._protocol_of[device.id] = protocol
        connector = self.connectors.get(protocol)
        if connector is not None:
            connector.add(device)

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

    async def write(self, device_id: str, point: str, value: Value) -> None:
        """Write one point of the device through its connector."""
        await self._connector(device_id).write(device_id, point, value)

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Invoke an action of the device through its connector."""
        return await self._connector(device_id).invoke(device_id, action, payload)

    def health(self) -> list[Health]:
        """Each connector's health, for metrics and the console."""
        return [c.health() for c in self.connectors.values()]
