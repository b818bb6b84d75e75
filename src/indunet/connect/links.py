"""Devices grouped by the link they share: one TCP connection or client session per endpoint.

The Modbus connector keeps one ``Connection`` per ``(host, port, lane)`` and the OPC UA
connector one ``Session`` per server settings; both add devices to the link of their
endpoint, start links when the connector runs, and close a link with its last device.
``Links`` is that bookkeeping once. Closing a link is asynchronous: a link that loses its
last device closes in a task kept here, and ``stop`` awaits it, so no task outlives the
connector.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Link(Protocol):
    """What ``Links`` needs of a connection or session."""

    devices: dict[str, Any]
    task: asyncio.Task[None] | None

    def start(self) -> None:
        """Run the link's task (idempotent)."""

    def wake(self) -> None:
        """Notice added or removed devices."""

    async def close(self) -> None:
        """Stop the link's tasks and drop its connection."""


K = TypeVar("K", bound=Hashable)
L = TypeVar("L", bound=Link)


class Links(Generic[K, L]):
    """Links by endpoint key, and which link serves each device."""

    def __init__(self, make: Callable[[K], L]) -> None:
        self._make = make
        self._by_key: dict[K, L] = {}
        self._where: dict[str, tuple[K, L]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.running = False

    def __iter__(self) -> Iterator[L]:
        return iter(list(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, device_id: str) -> L | None:
        """The link serving ``device_id``, or None."""
        found = self._where.get(device_id)
        return found[1] if found is not None else None

    async def start(self) -> None:
        """Start every link, and each link added later."""
        self.running = True
        for link in self:
            link.start()

    async def stop(self) -> None:
        """Close every link, and wait for links closing already."""
        self.running = False
        closing = list(self._closing)
        await asyncio.gather(*(link.close() for link in self), *closing, return_exceptions=True)

    def add(self, key: K, device_id: str, state: Any) -> L:
        """Put ``device_id`` (its ``state``) on the link of ``key``, made if there is none."""
        self.remove(device_id)
        link = self._by_key.get(key)
        if link is None:
            link = self._by_key[key] = self._make(key)
        link.devices[device_id] = state
        self._where[device_id] = (key, link)
        if self.running:
            link.start()
        link.wake()
        return link

    def remove(self, device_id: str) -> tuple[L, Any] | None:
        """Take ``device_id`` off its link: ``(link, state)``, or None when it had none.

        A link left without devices is forgotten and closed in a task that ``stop`` awaits.
        """
        found = self._where.pop(device_id, None)
        if found is None:
            return None
        key, link = found
        state = link.devices.pop(device_id)
        if link.devices:
            link.wake()
            return link, state
        del self._by_key[key]
        if link.task is not None:
            task = asyncio.get_running_loop().create_task(link.close(), name="close link")
            self._closing.add(task)
            task.add_done_callback(self._closed)
        return link, state

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                log.error("closing a link failed", exc_info=exc)
