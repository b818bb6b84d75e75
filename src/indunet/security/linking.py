"""Alerts linked to the assets they concern before they are stored.

The detection engine knows addresses, not assets. ``AssetLinking`` wraps the alert store: each
alert's source and destination addresses are looked up in the inventory of the alert's
enterprise (``assets.Assets.by_ip``; the target first) and the asset ids set on the alert, so
the alert pages show the affected asset and alerts merge into a case by shared asset. Lookups
run in a worker thread and are remembered for a minute (an attack raises many alerts about the
same few hosts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace

from .alerts import Alert, AlertSink
from .assets.store import Assets

CACHE_S = 60.0
CACHE_SIZE = 10_000


class AssetLinking:
    """An ``AlertSink`` that sets ``Alert.assets`` and hands the alerts to ``sink``."""

    def __init__(self, store: Assets, sink: AlertSink) -> None:
        self.store = store
        self.sink = sink
        self._cache: dict[tuple[int | None, str], tuple[float, int | None]] = {}

    async def raise_alerts(self, alerts: Sequence[Alert]) -> None:
        linked = await asyncio.to_thread(self._link, alerts)
        await self.sink.raise_alerts(linked)

    def _link(self, alerts: Sequence[Alert]) -> list[Alert]:
        out = []
        for a in alerts:
            found = [self._asset(a.enterprise_id, ip) for ip in (a.dst_ip, a.src_ip) if ip]
            ids = tuple(dict.fromkeys([*a.assets, *(i for i in found if i is not None)]))
            out.append(replace(a, assets=ids) if ids != a.assets else a)
        return out

    def _asset(self, enterprise_id: int | None, ip: str) -> int | None:
        key, now = (enterprise_id, ip), time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        asset = self.store.by_ip(enterprise_id, ip)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (now, None if asset is None else asset.id)
        return self._cache[key][1]
