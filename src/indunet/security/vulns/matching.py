"""Keeping matches current: re-match when assets change or advisories arrive.

`Matching` holds an `AdvisoryIndex` of every stored advisory (built on first use, then kept up to
date as advisories are stored) and a callable that lists assets, given by whoever wires the asset
inventory in (``list_assets(None)`` every asset, ``list_assets(ids)`` those ids). Both re-match
functions are incremental:

- `rematch_advisories(ids)`: those advisories against every asset (one new advisory against
  1,000 assets takes milliseconds: only its products are indexed);
- `rematch_assets(ids)`: those assets against the whole index.

Writing is a merge inside one transaction: a new candidate is inserted; an existing row is
updated, but a state a person set (``decided_by``: dismissed, or confirmed by hand) is kept; a
row no longer matched is deleted unless a person decided it, so a dismissal survives re-matching.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.security.vulns.matcher import AdvisoryIndex, Candidate, MatchableAsset, match
from indunet.security.vulns.store import load_advisories
from indunet.security.vulntables import advisories, matches

AssetLister = Callable[[Sequence[int] | None], Iterable[MatchableAsset]]


def no_assets(ids: Sequence[int] | None) -> list[MatchableAsset]:
    """The asset lister used until the inventory is wired in: no assets."""
    return []


@dataclass(frozen=True)
class Rematched:
    """What one re-match wrote."""

    inserted: int
    updated: int
    deleted: int
    kept: int  # rows a person decided, left as they were


class Matching:
    """Matches kept in step with assets and advisories."""

    def __init__(self, engine: sa.Engine, list_assets: AssetLister = no_assets) -> None:
        self.engine = engine
        self.list_assets = list_assets
        self._index: AdvisoryIndex | None = None
        self._lock = threading.Lock()

    def index(self) -> AdvisoryIndex:
        """The index of every stored advisory (built once, then updated)."""
        with self._lock:
            if self._index is None:
                index = AdvisoryIndex()
                with self.engine.connect() as conn:
                    for ident, advisory in load_advisories(conn).items():
                        index.add(ident, advisory)
                self._index = index
            return self._index

    def rematch_advisories(self, ids: Sequence[int]) -> Rematched:
        """Match these (new or revised) advisories against every asset."""
        ids = list(ids)
        with self.engine.connect() as conn:
            fresh = load_advisories(conn, ids)
        with self._lock:
            if self._index is not None:  # else built from the table on first use
                self._index.remove(set(ids))
                for ident, advisory in fresh.items():
                    self._index.add(ident, advisory)
        only = AdvisoryIndex()
        for ident, advisory in fresh.items():
            only.add(ident, advisory)
        assets = list(self.list_assets(None))
        found = match(only, assets)
        names = {a.id: _name(a) for a in assets}
        with self.engine.begin() as conn:
            return _merge(conn, found, names, matches.c.advisory_id.in_(ids) if ids else sa.false())

    def rematch_assets(self, ids: Sequence[int]) -> Rematched:
        """Match these (new or changed) assets against every advisory; an id no longer listed
        loses its undecided matches."""
        ids = list(ids)
        assets = list(self.list_assets(ids))
        index = self.index()
        with self._lock:
            found = match(index, assets)
        names = {a.id: _name(a) for a in assets}
        with self.engine.begin() as conn:
            return _merge(conn, found, names, matches.c.asset_id.in_(ids) if ids else sa.false())


def _name(asset: MatchableAsset) -> str:
    parts = [asset.vendor or "", asset.product or "", asset.version or ""]
    return " ".join(p for p in parts if p).strip()[:300] or f"asset {asset.id}"


def _merge(
    conn: sa.Connection,
    found: list[Candidate],
    names: dict[int, str],
    scope: sa.ColumnElement[bool],
) -> Rematched:
    existing = {
        (r.asset_id, r.advisory_id, r.cve): r
        for r in conn.execute(
            sa.select(
                matches.c.id,
                matches.c.asset_id,
                matches.c.advisory_id,
                matches.c.cve,
                matches.c.decided_by,
            ).where(scope)
        )
    }
    now = datetime.now(UTC)
    inserted = updated = deleted = kept = 0
    tracking = _tracking_ids(conn, {c.advisory_id for c in found})
    fresh_keys = set()
    rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for c in found:
        key = (c.asset_id, c.advisory_id, c.cve)
        fresh_keys.add(key)
        values = _values(
            c, names.get(c.asset_id, f"asset {c.asset_id}"), tracking.get(c.advisory_id, ""), now
        )
        old = existing.get(key)
        if old is None:
            rows.append(values)
            inserted += 1
            continue
        if old.decided_by is not None:
            values["state"] = None  # coalesced below: the person's state stays
            kept += 1
        changes.append({f"b_{k}": v for k, v in values.items()} | {"b_match_id": old.id})
        updated += 1
    if rows:
        conn.execute(matches.insert(), rows)
    if changes:
        # one executemany; bound names are prefixed (a bound name may not be a column's)
        fields = [k[2:] for k in changes[0] if k not in ("b_match_id", "b_state")]
        columns: dict[str, Any] = {
            k: sa.bindparam(f"b_{k}", type_=matches.c[k].type) for k in fields
        }
        kept_state = sa.func.coalesce(sa.bindparam("b_state", type_=sa.String), matches.c.state)
        statement = (
            matches.update()
            .where(matches.c.id == sa.bindparam("b_match_id"))
            .values(**columns, state=kept_state)
        )
        conn.execute(statement, changes)
    stale = [r.id for k, r in existing.items() if k not in fresh_keys and r.decided_by is None]
    kept += sum(1 for k, r in existing.items() if k not in fresh_keys and r.decided_by is not None)
    for start in range(0, len(stale), 500):
        conn.execute(matches.delete().where(matches.c.id.in_(stale[start : start + 500])))
    deleted = len(stale)
    return Rematched(inserted, updated, deleted, kept)


def _tracking_ids(conn: sa.Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(advisories.c.id, advisories.c.tracking_id).where(advisories.c.id.in_(list(ids)))
    )
    return {int(r.id): str(r.tracking_id) for r in rows}


def _values(c: Candidate, asset_name: str, tracking_id: str, now: datetime) -> dict[str, Any]:
    product = str(c.why.get("identity", {}).get("product") or c.product_id)[:300]
    return {
        "enterprise_id": c.enterprise_id,
        "asset_id": c.asset_id,
        "asset_name": asset_name,
        "advisory_id": c.advisory_id,
        "tracking_id": tracking_id[:100],
        "cve": c.cve[:64],
        "product_id": c.product_id[:200],
        "product_name": product,
        "state": c.state,
        "why": c.why,
        "score": c.score,
        "vector": (c.vector or None) and c.vector[:200],
        "severity": c.severity,
        "remediation_category": c.remediation_category,
        "remediation_text": c.remediation_text,
        "remediation_url": (c.remediation_url or None) and c.remediation_url[:500],
        "matched_at": now,
        "search": " ".join([c.cve, tracking_id, asset_name, product]).lower()[:600],
    }
