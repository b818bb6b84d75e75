"""The event bus protocol and its in-process implementation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class EventBus(Protocol):
    """Publish/subscribe by topic."""

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` to every subscriber of ``topic``."""

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler`` for each event on ``topic``."""


class InMemoryEventBus:
    """Delivers events in-process, in order; a failing handler does not stop the others."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self.errors = 0

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` to every subscriber of ``topic``."""
        for handler in self._handlers.get(topic, ()):
            try:
                await handler(topic, event)
            except Exception:
                self.errors += 1

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler`` for each event on ``topic``."""
        self._handlers[topic].append(handler)
