"""Events between subsystems: a typed, versioned envelope, the bus protocol, the in-process bus.

Every event that crosses a subsystem boundary is an ``Event``: its type (``alarm.raised``)
and the version of its data's shape, a unique id (the deduplication id a message broker
keeps, e.g. JetStream's ``Nats-Msg-Id``), the time, the producing subsystem, the enterprise
it belongs to (the key a broker partitions and authorises by) and JSON data. Producers make
events from an ``EventType`` they declare once; consumers subscribe by type.

``InMemoryEventBus`` is the embedded default. It sends each event through its wire form
(``encode``/``decode``) before delivering it, exactly as a bus between processes would, so an
event that could not leave the process fails here, in tests, not after a deployment moves
the bus to NATS.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from indunet.core.errors import InvalidInput

log = logging.getLogger(__name__)
ENVELOPE = "indunet.event/1"
"""The envelope's own format and version, carried in every encoded event."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event in its envelope."""

    type: str
    version: int
    source: str
    data: Mapping[str, Any]
    enterprise_id: int | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    def encode(self) -> bytes:
        """The wire form: one JSON object."""
        return orjson.dumps(
            {
                "envelope": ENVELOPE,
                "id": self.id,
                "type": self.type,
                "version": self.version,
                "source": self.source,
                "time_ms": self.time_ms,
                "enterprise_id": self.enterprise_id,
                "data": self.data,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        """An event from its wire form; ``InvalidInput`` naming what is wrong."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"an event must be a JSON object: {exc}") from None
        if not isinstance(doc, dict) or doc.get("envelope") != ENVELOPE:
            raise InvalidInput(f"not an event envelope of format {ENVELOPE}")
        kinds = {"id": str, "type": str, "version": int, "source": str, "time_ms": int}
        for name, kind in kinds.items():
            if not isinstance(doc.get(name), kind) or isinstance(doc.get(name), bool):
                raise InvalidInput(f"event field {name!r} must be a {kind.__name__}")
        eid = doc.get("enterprise_id")
        if eid is not None and (not isinstance(eid, int) or isinstance(eid, bool)):
            raise InvalidInput("event field 'enterprise_id' must be a whole number or null")
        if not isinstance(doc.get("data"), dict):
            raise InvalidInput("event field 'data' must be an object")
        return cls(
            type=doc["type"],
            version=doc["version"],
            source=doc["source"],
            data=doc["data"],
            enterprise_id=eid,
            id=doc["id"],
            time_ms=doc["time_ms"],
        )


@dataclass(frozen=True, slots=True)
class EventType:
    """A kind of event a subsystem produces: declared once, next to its producer."""

    name: str
    version: int
    source: str
    summary: str

    def make(self, data: Mapping[str, Any], *, enterprise_id: int | None = None) -> Event:
        """An event of this type."""
        return Event(self.name, self.version, self.source, data, enterprise_id)


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    """Publish/subscribe by event type. Delivery is at least once, in order per publisher;
    handlers must be idempotent by ``Event.id``."""

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber of its type."""

    def subscribe(self, event_type: str, handler: Handler) -> None:
        """Call ``handler`` for each event of ``event_type``."""


class InMemoryEventBus:
    """Delivers events in-process, in order, each through its wire form; a failing handler
    is logged and counted and does not stop the others."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self.errors = 0
        self.published = 0

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber of its type."""
        wire = event.encode()  # fails here for data that could not cross a process boundary
        self.published += 1
        for handler in self._handlers.get(event.type, ()):
            try:
                await handler(Event.decode(wire))
            except Exception:
                self.errors += 1
                log.exception("a handler of %s event %s failed", event.type, event.id)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        """Call ``handler`` for each event of ``event_type``."""
        self._handlers[event_type].append(handler)
