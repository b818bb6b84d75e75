"""The platform's device registry as a source: each registered device becomes (or updates)
an asset with its name, manufacturer, model, serial, protocol, endpoint host and port,
device id and identifier (Handle); a device deleted from the registry marks its asset
(``device_deleted``), which stays in the inventory until a person deletes it.

``DeviceSync`` runs ``sync`` every ``INTERVAL_S`` seconds (off the event loop); devices are
compared with what was last written, so an unchanged registry costs one read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from typing import Any

import sqlalchemy as sa

from indunet.devices import Device, DeviceRegistry
from indunet.security.assettables import assets

from .observe import Observation, apply
from .store import Assets

log = logging.getLogger(__name__)
INTERVAL_S = 60.0
_OPCUA = ("opc.tcp://",)


def _endpoint(device: Device) -> tuple[str, int | None]:
    """The host and port the platform reaches the device at ("" when it reaches none)."""
    conn = device.connection or {}
    host, port = conn.get("host"), conn.get("port")
    endpoint = conn.get("endpoint")
    if isinstance(endpoint, str) and endpoint.startswith(_OPCUA):
        rest = endpoint[len(_OPCUA[0]) :].split("/", 1)[0]
        host, _, text = rest.rpartition(":")
        host = host.strip("[]")
        port = int(text) if text.isdigit() else None
    if device.protocol == "modbus" and port is None and host:
        port = 502
    if not isinstance(host, str):
        host = ""
    return host, port if isinstance(port, int) and 0 < port < 65536 else None


def device_values(device: Device, model_title: str = "") -> dict[str, Any]:
    """What the registry says of ``device``, as asset attributes."""
    host, port = _endpoint(device)
    values: dict[str, Any] = {
        "name": device.name[:200],
        "vendor": device.manufacturer[:200],
        "model": (model_title or device.model_id)[:200],
        "model_numbers": [device.model_ref[:200]],
        "serial": device.serial[:200],
        "protocols": [device.protocol],
        "device_id": device.id,
    }
    if device.identifier:
        values["identifier"] = device.identifier[:255]
    if host:
        try:
            values["ips"] = [str(ipaddress.ip_address(host))]
        except ValueError:
            values["hostname"] = host[:200]
    if port is not None:
        values["ports"] = [port]
    place = device.location or {}
    where = " ".join(str(place[k]) for k in ("site", "building", "line", "name") if place.get(k))
    if where:
        values["location"] = where[:200]
    return values


class DeviceSync:
    """Keeps the inventory in step with the device registry."""

    def __init__(self, store: Assets, registry: DeviceRegistry, interval: float = INTERVAL_S):
        self.store = store
        self.registry = registry
        self.interval = interval
        self._written: dict[str, tuple[Any, ...]] = {}
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="security-assets-devices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sync)
            except Exception:
                self.failures += 1
                log.exception("asset inventory: the device registry sync failed")
            await asyncio.sleep(self.interval)

    def _title(self, device: Device) -> str:
        try:
            model = self.registry.model_of(device.id)
        except Exception:  # a model that no longer loads names nothing
            return ""
        if model is None:
            return ""
        return (
            model.title.get("en") or model.title.get("zh") or next(iter(model.title.values()), "")
        )

    def sync(self) -> tuple[int, int, int]:
        """Write the devices that changed since the last sync and mark the assets of deleted
        devices; return (new assets, updated assets, marked deleted)."""
        devices = self.registry.list()
        present = {d.id for d in devices}
        changed: list[tuple[Device, dict[str, Any]]] = []
        for d in devices:
            values = device_values(d, self._title(d))
            mark = (d.enterprise_id, tuple(sorted((k, str(v)) for k, v in values.items())))
            if self._written.get(d.id) != mark:
                changed.append((d, values))
        new = updated = gone = 0
        with self.store.engine.begin() as conn:
            for d, values in changed:
                obs = Observation(d.enterprise_id, "platform", values, device_deleted=False)
                _, fresh = apply(conn, obs, "system:devices")
                new += fresh
                updated += not fresh
            stale = conn.execute(
                sa.select(assets.c.id, assets.c.device_id, assets.c.enterprise_id).where(
                    assets.c.device_id.is_not(None), assets.c.device_deleted.is_(False)
                )
            ).all()
            for asset_id, device_id, eid in stale:
                if device_id not in present:
                    obs = Observation(eid, "platform", {}, device_deleted=True)
                    apply(conn, obs, "system:devices", asset_id=int(asset_id))
                    gone += 1
        for d, values in changed:
            self._written[d.id] = (
                d.enterprise_id,
                tuple(sorted((k, str(v)) for k, v in values.items())),
            )
        for device_id in set(self._written) - present:
            del self._written[device_id]
        return new, updated, gone
