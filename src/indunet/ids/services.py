"""The ids subsystem's services: the upkeep (``ids.upkeep``) and, when ``handle_port`` is set,
the Handle protocol port (``ids.wire.service``)."""

from __future__ import annotations

from typing import Any

from indunet.core.plugins import Service
from indunet.ids import upkeep
from indunet.ids.wire.service import endpoint


class Services:
    """Several services started in order and stopped in reverse."""

    def __init__(self, parts: list[Service]) -> None:
        self.parts = parts
        self._started: list[Service] = []

    async def start(self) -> None:
        """Start each; if one fails, stop those already started and raise."""
        for part in self.parts:
            try:
                await part.start()
            except BaseException:
                await self.stop()
                raise
            self._started.append(part)

    async def stop(self) -> None:
        """Stop what was started, last first."""
        while self._started:
            part = self._started.pop()
            await part.stop()


def service(state: Any) -> Services:
    """The ids services for an app state."""
    parts: list[Service] = [upkeep.service(state)]
    wire = endpoint(state)
    if wire is not None:
        parts.append(wire)
    return Services(parts)
