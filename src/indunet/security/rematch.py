"""Vulnerability matches kept current with the asset inventory.

The matcher (``vulns.Matching``) reads assets through a lister; this module gives it the
inventory's (``assets.Assets.list_for_matching``, adapted to ``vulns.AssetFacts``) and runs a
part that re-matches, every ``every`` seconds, the assets changed since its last pass (edited,
imported, identified passively, synced from the device registry). Advisories re-match as they
arrive (``Vulnerabilities`` does it on import).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from .assets.store import Asset, Assets
from .vulns.matcher import AssetFacts
from .vulns.matching import AssetLister, Matching

log = logging.getLogger(__name__)
EVERY_S = 60.0


def facts(asset: Asset) -> AssetFacts | None:
    """What matching reads of ``asset`` (None: an asset of no enterprise is not matched)."""
    if asset.enterprise_id is None:
        return None
    return AssetFacts(
        id=asset.id,
        enterprise_id=asset.enterprise_id,
        vendor=asset.vendor or None,
        product=asset.model or None,
        version=asset.firmware or None,
        model_numbers=tuple(asset.model_numbers),
        serial=asset.serial or None,
    )


def lister(store: Assets) -> AssetLister:
    """``list_assets(ids | None)`` over the inventory, for ``vulns.Matching``."""

    def list_assets(ids: Sequence[int] | None) -> list[AssetFacts]:
        wanted = None if ids is None else set(ids)
        out = []
        for a in store.list_for_matching():
            if wanted is None or a.id in wanted:
                f = facts(a)
                if f is not None:
                    out.append(f)
        return out

    return list_assets


class Rematcher:
    """Re-matches the assets changed since the last pass, every ``every`` seconds."""

    def __init__(self, store: Assets, matching: Matching, every: float = EVERY_S) -> None:
        self.store = store
        self.matching = matching
        self.every = every
        self.since: datetime | None = None  # None: every asset at the first pass
        self.passes = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="security-rematch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def run_once(self) -> int:
        """Re-match what changed since the last pass; the number of assets re-matched."""
        now = datetime.now(UTC)
        changed = [
            a.id
            for a in self.store.list_for_matching()
            if self.since is None or _aware(a.updated_at) >= self.since
        ]
        if changed:
            self.matching.rematch_assets(changed)
        self.since = now
        self.passes += 1
        return len(changed)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # the database is away: the next pass tries again, same window
                self.failures += 1
                log.exception("re-matching vulnerabilities failed; retrying")
            await asyncio.sleep(self.every)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
