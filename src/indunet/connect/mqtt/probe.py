"""What a client can measure of a running broker's limits (``indunet mqtt broker-check``).

Mosquitto publishes no configuration in ``$SYS``, so three things are measured instead:

- ``max_inflight_messages``: an MQTT 5 CONNACK carries it as *Receive Maximum*, and
  ``max_packet_size`` as *Maximum Packet Size*;
- the effective queue cap of an absent session (``max_queued_messages`` and
  ``max_queued_bytes`` together): a persistent probe session subscribes, goes away,
  ``count`` QoS 1 messages are published to it, and it counts what it gets back;
- the version, from ``$SYS/broker/version``.

Not observable from a client: ``persistence`` and ``autosave_interval`` (whether a broker
restart keeps the queue), and ``persistent_client_expiration``. The probe publishes as the
service user on the commands topic of a device id no device has
(``indunet/v1/indunet-check-<random>/commands``) and deletes its session afterwards.
Blocking (paho's own thread): for the command line.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from indunet.connect.mqtt import topics
from indunet.connect.mqtt.config import BrokerUrl
from indunet.connect.mqtt.mosquitto import INFLIGHT
from indunet.core import IndunetError

PROBE_COUNT = 5000
"""Messages queued for the absent probe session: above Mosquitto's default cap (1000 + 1000)."""


class BrokerUnreachable(IndunetError):
    """The broker could not be reached or refused the service user."""

    code = "mqtt_broker_unreachable"
    status = 502


@dataclass
class BrokerReport:
    """What ``check_broker`` measured, and what it found wrong."""

    broker: str
    version: str | None = None
    receive_maximum: int | None = None  # max_inflight_messages
    maximum_packet_size: int | None = None
    queued: int = 0  # messages published for the absent session
    kept: int = 0  # of those, delivered when it came back
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No limit that loses data or caps ingest."""
        return not self.problems

    def lines(self) -> list[str]:
        """The report as text lines (the command's output)."""
        out = [
            f"broker {self.broker}: {self.version or 'version not published ($SYS)'}",
            f"max_inflight_messages: {_or_unknown(self.receive_maximum)} (CONNACK receive maximum)",
            f"max_packet_size: {_or_unknown(self.maximum_packet_size)}",
            f"queue of an absent session: kept {self.kept} of {self.queued} messages",
            "not observable from a client: persistence, autosave_interval, "
            "persistent_client_expiration (check mosquitto.conf)",
        ]
        return out + [f"PROBLEM: {p}" for p in self.problems]


def _or_unknown(value: int | None) -> str:
    return "not announced" if value is None else str(value)


class _Probe:
    """One paho client on its own thread, with events for what the check waits on."""

    def __init__(self, url: BrokerUrl, client_id: str, *, v5: bool, clean: bool) -> None:
        protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        kw: dict[str, Any] = {} if v5 else {"clean_session": clean}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kw
        )
        if url.username is not None:
            self.client.username_pw_set(url.username, url.password)
        if url.tls:
            self.client.tls_set()
        self.connected = threading.Event()
        self.refusal = ""
        self.properties: Any = None
        self.messages: list[mqtt.MQTTMessage] = []
        self.acked = 0
        self.refused = 0  # PUBACKs with a failure reason (MQTT 5): the ACL said no
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.messages.append(m)
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.url = url
        self.clean = clean

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, props: Any) -> None:
        self.refusal = str(rc) if rc.is_failure else ""
        self.properties = props
        self.connected.set()

    def _on_publish(self, _c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        self.acked += 1
        self.refused += bool(rc.is_failure)

    def open(self, timeout: float) -> None:
        kw: dict[str, Any] = {}
        if self.client.protocol == mqtt.MQTTv5:
            kw["clean_start"] = self.clean
        try:
            self.client.connect(self.url.host, self.url.port, keepalive=30, **kw)
        except OSError as exc:
            raise BrokerUnreachable(f"MQTT broker {self.url} unreachable: {exc}") from None
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.close()
            raise BrokerUnreachable(f"MQTT broker {self.url} sent no CONNACK within {timeout} s")
        if self.refusal:
            self.close()
            raise BrokerUnreachable(f"MQTT broker {self.url} refused the login: {self.refusal}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _until(check: Any, timeout: float, quiet: float = 0.0) -> None:
    """Wait until ``check()`` (or ``timeout``); with ``quiet``, also until nothing changes."""
    deadline = time.monotonic() + timeout
    last, since = check(), time.monotonic()
    while time.monotonic() < deadline:
        if quiet == 0.0 and last:
            return
        time.sleep(0.02)
        now = check()
        if now != last:
            last, since = now, time.monotonic()
        elif quiet and time.monotonic() - since >= quiet:
            return


def check_broker(
    url: BrokerUrl, *, count: int = PROBE_COUNT, timeout: float = 10.0
) -> BrokerReport:
    """Measure the broker's in-flight window, packet limit and queue cap; name problems."""
    report = BrokerReport(str(url), queued=count)
    tag = secrets.token_hex(4)
    topic = topics.commands_topic(f"indunet-check-{tag}")

    main = _Probe(url, f"indunet-check-{tag}", v5=True, clean=True)
    main.open(timeout)
    try:
        props = main.properties
        report.receive_maximum = getattr(props, "ReceiveMaximum", None)
        report.maximum_packet_size = getattr(props, "MaximumPacketSize", None)
        main.client.subscribe("$SYS/broker/version", qos=0)
        _until(lambda: main.messages, 2.0)
        if main.messages:
            report.version = main.messages[0].payload.decode(errors="replace")

        absent = _Probe(url, f"indunet-check-q-{tag}", v5=False, clean=False)
        absent.open(timeout)
        absent.client.subscribe(topic, qos=1)
        absent.subscribed.wait(timeout)
        absent.close()
        for seq in range(count):
            main.client.publish(topic, str(seq).encode(), qos=1)
        _until(lambda: main.acked >= count, timeout * 3)

        back = _Probe(url, f"indunet-check-q-{tag}", v5=False, clean=False)
        back.open(timeout)
        _until(lambda: len(back.messages), timeout * 3, quiet=1.0)
        report.kept = len({m.payload for m in back.messages})
        back.close()
        gone = _Probe(url, f"indunet-check-q-{tag}", v5=False, clean=True)  # delete the session
        gone.open(timeout)
        gone.close()
    finally:
        main.close()

    if report.receive_maximum is not None and report.receive_maximum < INFLIGHT:
        report.problems.append(
            f"max_inflight_messages is {report.receive_maximum}: Indunet acknowledges after "
            f"storing, so ingest is capped at {report.receive_maximum} messages per store round "
            f"trip (set {INFLIGHT})"
        )
    if main.refused:
        report.problems.append(
            f"the broker refused the service user's publish to {topic}: it must be allowed to "
            "write indunet/v1/+/commands (the generated ACL does); the queue was not measured"
        )
    elif report.kept < count:
        report.problems.append(
            f"an absent session kept only {report.kept} of {count} messages: Mosquitto drops "
            "Indunet's backlog beyond that after acknowledging it to devices (raise "
            "max_queued_messages, and max_queued_bytes if set; `indunet mqtt broker-config`)"
        )
    return report
