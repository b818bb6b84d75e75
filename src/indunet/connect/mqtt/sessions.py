"""MQTT sessions of the embedded endpoint: subscriptions and messages in flight, per client.

A persistent session (CONNECT with clean session 0) outlives its network connection: it
keeps its subscriptions, the commands not yet acknowledged and those queued while the device
was offline (at most ``max_queued``; the oldest are dropped first), and the QoS 2 packet ids
received but not yet released. Sessions live in memory: an endpoint restart forgets them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from indunet.connect.mqtt import topics
from indunet.connect.mqtt.packets import Publish, PubRel, encode

Send = Callable[[bytes], None]


@dataclass(eq=False)
class Session:
    """State of one (device, client id) pair."""

    device: str
    client_id: str
    clean: bool
    max_inflight: int = 20
    max_queued: int = 100
    subscriptions: dict[str, int] = field(default_factory=dict)  # filter → granted QoS
    inflight: dict[int, Publish] = field(default_factory=dict)  # awaiting PUBACK/PUBREC
    released: set[int] = field(default_factory=set)  # outgoing QoS 2 awaiting PUBCOMP
    received: set[int] = field(default_factory=set)  # incoming QoS 2 awaiting PUBREL
    queued: deque[Publish] = field(default_factory=deque)
    dropped: int = 0
    send: Send | None = None  # set while a network connection is attached
    _next_id: int = 1

    @property
    def key(self) -> tuple[str, str]:
        """``(device, client_id)``: a device cannot take over another device's session."""
        return self.device, self.client_id

    def granted(self, topic: str) -> int | None:
        """The highest QoS granted by a subscription matching ``topic``, if any."""
        best = None
        for flt, qos in self.subscriptions.items():
            if topics.matches(flt, topic) and (best is None or qos > best):
                best = qos
        return best

    def offer(self, message: Publish) -> None:
        """Send ``message`` now, or queue it (QoS 0 is only ever sent to a live connection)."""
        if message.qos == 0:
            if self.send is not None:
                self.send(encode(message))
            return
        if len(self.queued) >= self.max_queued:
            self.queued.popleft()
            self.dropped += 1
        self.queued.append(message)
        self.fill()

    def fill(self) -> None:
        """Move queued messages into flight while the window has room."""
        while self.send is not None and self.queued:
            if len(self.inflight) + len(self.released) >= self.max_inflight:
                return
            packet_id = self._allocate()
            message = replace(self.queued.popleft(), packet_id=packet_id)
            self.inflight[packet_id] = message
            self.send(encode(message))

    def resume(self) -> None:
        """After a reconnect: resend what was in flight (DUP set), then fill the window."""
        if self.send is None:
            return
        out = bytearray()
        for message in self.inflight.values():
            out += encode(replace(message, dup=True))
        for packet_id in sorted(self.released):
            out += encode(PubRel(packet_id))
        if out:
            self.send(bytes(out))
        self.fill()

    def acked(self, packet_id: int) -> None:
        """PUBACK for an outgoing QoS 1 message."""
        message = self.inflight.get(packet_id)
        if message is not None and message.qos == 1:
            del self.inflight[packet_id]
            self.fill()

    def recorded(self, packet_id: int) -> None:
        """PUBREC for an outgoing QoS 2 message: it moves to awaiting PUBCOMP."""
        message = self.inflight.get(packet_id)
        if message is not None and message.qos == 2:
            del self.inflight[packet_id]
            self.released.add(packet_id)

    def completed(self, packet_id: int) -> None:
        """PUBCOMP for an outgoing QoS 2 message."""
        self.released.discard(packet_id)
        self.fill()

    def _allocate(self) -> int:
        for _ in range(65535):
            packet_id = self._next_id
            self._next_id = packet_id % 65535 + 1
            if packet_id not in self.inflight and packet_id not in self.released:
                return packet_id
        raise RuntimeError("no free MQTT packet identifier")  # pragma: no cover
