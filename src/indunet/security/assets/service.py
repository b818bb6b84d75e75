"""The inventory as a part of the security service: the store, zones, passive discovery
(subscribed to the hub as ``assets``) and, when the platform runs in this process, the
device registry sync. Others reach it as ``Security.part("assets")``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from indunet.security.hub import Hub

from .devicesync import DeviceSync
from .discovery import Discovery
from .store import Assets
from .zones import Zones


class Inventory:
    """The asset inventory's running parts."""

    def __init__(self, engine: sa.Engine, hub: Hub, registry: Any = None) -> None:
        def owner(device_id: str) -> int | None:
            device = registry.lookup(device_id) if registry is not None else None
            return None if device is None else int(device.enterprise_id)

        self.store = Assets(engine, owner if registry is not None else None)
        self.zones = Zones(engine)
        self.discovery = Discovery(self.store)
        hub.subscribe("assets", self.discovery.handle)
        self.sync = DeviceSync(self.store, registry) if registry is not None else None

    async def start(self) -> None:
        await self.discovery.start()
        if self.sync is not None:
            await self.sync.start()

    async def stop(self) -> None:
        if self.sync is not None:
            await self.sync.stop()
        await self.discovery.stop()


def inventory_from_state(state: Any, hub: Hub) -> Inventory:
    platform = state.services.get("platform")
    return Inventory(state.engine, hub, getattr(platform, "devices", None))
