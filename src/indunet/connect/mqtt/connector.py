"""The MQTT connector: the embedded endpoint or an external broker behind the Connector protocol."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from indunet.connect.connector import CommandFailed, DeviceLink, Health, StatusSink
from indunet.connect.mqtt import payloads, topics
from indunet.connect.mqtt.client import BrokerClient
from indunet.connect.mqtt.config import MqttConfig
from indunet.connect.mqtt.endpoint import Authenticate, MqttEndpoint
from indunet.connect.mqtt.router import MessageRouter
from indunet.core.signals import Signal
from indunet.telemetry import Sample, SampleSink, Value


def _refuse_all(_device_id: str, _secret: str) -> bool:
    return False


class MqttConnector:
    """Devices that speak MQTT: telemetry in, commands out, results back.

    Embedded mode (no ``config.broker``) serves ``MqttEndpoint`` and checks each device's
    credentials with ``authenticate``, noting refusals in ``refused``
    (``connect.events.AUTH_FAILURES``). Broker mode subscribes on the external broker; its
    ACLs are the broker's (see ``acl.write_mosquitto_files``).
    """

    protocol = "mqtt"

    def __init__(
        self,
        config: MqttConfig,
        sink: SampleSink,
        status: StatusSink | None = None,
        authenticate: Authenticate | None = None,
        refused: Signal | None = None,
    ) -> None:
        self.config = config
        self.router = MessageRouter(sink, status)
        self.endpoint: MqttEndpoint | None = None
        self.client: BrokerClient | None = None
        if config.broker is not None:
            self.client = BrokerClient(self.router, config.broker, config)
        elif config.port is not None:
            self.endpoint = MqttEndpoint(
                self.router,
                authenticate or _refuse_all,
                host=config.host,
                port=config.port,
                limits=config.limits,
                refused=refused,
            )

    async def start(self) -> None:
        """Listen (embedded) or begin connecting to the broker (never raises for it)."""
        if self.endpoint is not None:
            await self.endpoint.start()
        if self.client is not None:
            await self.client.start()

    async def stop(self) -> None:
        """Close every connection; devices of the embedded endpoint go offline."""
        if self.endpoint is not None:
            await self.endpoint.stop()
        if self.client is not None:
            await self.client.stop()
        for _, future in list(self.router.pending.values()):
            if not future.done():
                future.cancel()

    def add(self, device: DeviceLink) -> None:
        """Decode ``device``'s model topics from now on (subscribing to them in broker mode)."""
        self.router.add(device)
        if self.client is not None:
            self.client.subscribe(self.router.extra_subscriptions())

    def remove(self, device_id: str) -> None:
        """Stop decoding ``device_id``'s model topics."""
        self.router.remove(device_id)

    def last_seen(self, device_id: str) -> int | None:
        """When a message of the device last arrived (ms since the epoch)."""
        return self.router.last_seen.get(device_id)

    async def publish_to(self, device_id: str, topic: str, payload: bytes, qos: int = 1) -> int:
        """Send a message to a device; return how many sessions took it (embedded mode).

        In broker mode the broker queues it for the device's session: returns 1 when handed
        to the broker, 0 when the broker is not connected.
        """
        if self.endpoint is not None:
            return await self.endpoint.publish_to(device_id, topic, payload, qos)
        if self.client is not None:
            return int(self.client.publish(topic, payload, qos))
        return 0

    async def read(self, device_id: str, points: Sequence[str] | None = None) -> list[Sample]:
        """The last values received from the device (MQTT devices push; nothing is polled)."""
        held = self.router.last.get(device_id, {})
        names = list(held) if points is None else points
        return [held[p] for p in names if p in held]

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Send ``{"id", "point", "value"}``; return the device's ``output`` (may be None)."""
        link = self.router.links.get(device_id)
        if link is not None:
            spec = link.model.points.get(point)
            if spec is None or not spec.writable:
                raise CommandFailed(f"point {point} of device {device_id} is not writable")
        return await self._command(device_id, {"point": point, "value": value})

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Send ``{"id", "action", "input"}``; return the device's ``output``."""
        link = self.router.links.get(device_id)
        if link is not None and action not in link.model.actions:
            raise CommandFailed(f"device {device_id} has no action {action}")
        return await self._command(device_id, {"action": action, "input": payload})

    async def _command(self, device_id: str, body: dict[str, Any]) -> Any:
        if self.router.online.get(device_id) is False or (
            self.endpoint is not None and device_id not in self.endpoint.online()
        ):
            raise CommandFailed(f"device {device_id} is offline")
        command_id = str(uuid.uuid4())
        topic = topics.commands_topic(device_id)
        future = self.router.expect_result(device_id, command_id)
        timeout = self.config.command_timeout
        try:
            if not await self.publish_to(
                device_id, topic, payloads.encode_command(command_id, body)
            ):
                if self.client is not None:
                    raise CommandFailed(
                        f"command to device {device_id} not sent: the MQTT broker "
                        f"{self.client.broker} is not connected"
                    )
                raise CommandFailed(
                    f"device {device_id} cannot receive commands: it has not subscribed to {topic}"
                )
            try:
                async with asyncio.timeout(timeout):
                    result = await asyncio.shield(future)
            except TimeoutError:
                raise CommandFailed(
                    f"device {device_id} did not answer the command within {timeout:g} s"
                ) from None
        finally:
            self.router.pending.pop(command_id, None)
        if not result.ok:
            raise CommandFailed(f"device {device_id}: {result.error or 'command refused'}")
        return result.output

    def health(self) -> Health:
        """Devices online, counts of messages, rejections, reconnects and errors."""
        router = self.router
        detail: dict[str, Any] = {"mode": self.config.mode, **router.counts}
        health = Health(protocol=self.protocol, devices=len(router.links))
        if self.endpoint is not None:
            detail |= {"port": self.endpoint.port, **self.endpoint.counts}
            detail["sessions"] = len(self.endpoint.sessions)
            health.connected = len(self.endpoint.online())
            health.errors = self.endpoint.counts["protocol_errors"] + router.counts["rejected"]
        if self.client is not None:
            detail |= {"broker": str(self.client.broker), "broker_connected": self.client.connected}
            detail["last_error"] = self.client.last_error
            health.connected = sum(router.online.values())
            health.reconnects = self.client.counts["reconnects"]
            health.errors = self.client.counts["errors"] + router.counts["rejected"]
        health.detail = detail
        return health
