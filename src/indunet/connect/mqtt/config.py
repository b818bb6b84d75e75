"""Settings of the MQTT connector: embedded endpoint, or an external broker by URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from indunet.connect.mqtt.acl import share_group
from indunet.connect.mqtt.endpoint import EndpointLimits
from indunet.core import InvalidInput, Settings

SERVICE_CLIENT_ID = "indunet-platform"
"""The platform's fixed client id on an external broker (role ``all``: its persistent session)."""

CONNECTOR_CLIENT_ID = "indunet-connector-{index}"
"""The client id of connector process ``index`` (``INDUNET_SHARD=index/n``): its own session."""


@dataclass(frozen=True)
class BrokerUrl:
    """``mqtt://user:pass@host:port`` (``mqtts://`` for TLS) split into its parts."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """Parse a broker URL; raise ``InvalidInput`` naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise InvalidInput(f"MQTT broker URL {url!r} must start with mqtt:// or mqtts://")
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput(f"MQTT broker URL {url!r} has an invalid port") from None
        if not parts.hostname:
            raise InvalidInput(f"MQTT broker URL {url!r} names no host")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=tls,
        )

    def __str__(self) -> str:
        """The URL without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


@dataclass(frozen=True)
class MqttConfig:
    """How the MQTT connector runs.

    With ``broker`` set it is a client of that broker; otherwise it serves the embedded
    endpoint on ``host:port`` (``port`` 0 picks a free port; ``None`` turns it off).
    ``share_group`` set makes it one of several connectors on the broker: device traffic is
    subscribed as ``$share/<share_group>/<filter>`` (the broker hands each message to one
    connector of the group), command results and statuses without it (every connector).
    """

    broker: BrokerUrl | None = None
    host: str = "127.0.0.1"
    port: int | None = 0
    client_id: str = SERVICE_CLIENT_ID
    share_group: str | None = None
    keepalive: int = 30  # seconds, towards an external broker
    command_timeout: float = 10.0  # seconds a device has to answer a command
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_pending: int = 5000  # received messages waiting for storage before reading pauses
    limits: EndpointLimits = field(default_factory=EndpointLimits)

    def __post_init__(self) -> None:
        if not self.client_id:
            raise InvalidInput("MQTT client id must not be empty")
        group = self.share_group
        if group is not None and (not group or any(c in group for c in "/+#")):
            raise InvalidInput(f"MQTT share group {group!r} must be non-empty without / + #")

    @classmethod
    def from_settings(cls, settings: Settings) -> MqttConfig:
        """``INDUNET_MQTT_URL`` selects broker mode; else the embedded endpoint (port 0 = off).

        In broker mode, role ``connector`` (``INDUNET_SHARD=i/n``) is client
        ``indunet-connector-<i>`` in the share group of the broker's service user; every other
        role keeps the one client ``indunet-platform`` that takes every message.
        """
        broker = BrokerUrl.parse(settings.mqtt_url) if settings.mqtt_url else None
        port = settings.mqtt_port or None
        if broker is None or settings.role != "connector":
            return cls(broker=broker, host=settings.mqtt_host, port=port)
        index, _count = settings.share()
        return cls(
            broker=broker,
            host=settings.mqtt_host,
            port=port,
            client_id=CONNECTOR_CLIENT_ID.format(index=index),
            share_group=share_group(broker.username, broker.password),
        )

    @property
    def mode(self) -> str:
        """``broker``, ``embedded`` or ``off``."""
        if self.broker is not None:
            return "broker"
        return "off" if self.port is None else "embedded"
