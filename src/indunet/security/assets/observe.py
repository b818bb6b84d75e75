"""Merging observations into the inventory: finding the asset an observation is about (by
MAC, then IP, within its enterprise, then identifier, then device id), merging its values
(``merge``), keeping the match keys and writing the history. Used by every source (the device
registry sync, passive discovery, CSV import, a person's edit) inside one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.security.assettables import asset_keys, asset_merges, assets

from .attributes import ASSET_TYPES, LIST_FIELDS
from .merge import SCALARS, merge

MAX_PEERS = 50
"""Conversations kept per asset (the most recent)."""
KEY_ORDER = ("macs", "ips", "identifier", "device_id")
_KIND = {"macs": "mac", "ips": "ip", "identifier": "identifier", "device_id": "device"}


@dataclass
class Observation:
    """What one source says about one asset.

    ``values``: checked attributes (``attributes.check_spec``'s shape); ``source``: one of
    ``attributes.PRECEDENCE``; ``peers``: conversations ``{ip, protocol, port, dir, count}``
    (``dir``: ``in``, it was asked; ``out``, it asked); ``device_deleted``: the platform's
    device is gone (the asset is marked, not deleted)."""

    enterprise_id: int | None
    source: str
    values: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    peers: list[dict[str, Any]] = field(default_factory=list)
    seen: bool = False
    device_deleted: bool | None = None


def owned(table: sa.Table, eid: int | None) -> sa.ColumnElement[bool]:
    return table.c.enterprise_id.is_(None) if eid is None else table.c.enterprise_id == eid


def find(conn: sa.Connection, eid: int | None, values: Mapping[str, Any]) -> tuple[int, str] | None:
    """The asset ``values`` are about and the key that matched (``mac 00:1b:…``), or None.

    An IP matches only an asset without a different MAC (an address handed to another
    machine is a different asset)."""
    hits = find_all(conn, eid, values)
    return hits[0] if hits else None


def find_all(
    conn: sa.Connection, eid: int | None, values: Mapping[str, Any]
) -> list[tuple[int, str]]:
    """Every asset ``values`` match, each once with the first key that matched, in key order."""
    found: dict[int, str] = {}
    macs = list(values.get("macs") or [])
    for name in KEY_ORDER:
        wanted = values.get(name)
        keys = list(wanted) if isinstance(wanted, list) else [wanted] if wanted else []
        for key in keys:
            rows = conn.execute(
                sa.select(asset_keys.c.asset_id)
                .where(
                    asset_keys.c.kind == _KIND[name],
                    asset_keys.c.value == str(key),
                    owned(asset_keys, eid),
                )
                .order_by(asset_keys.c.asset_id)
            ).all()
            for (asset_id,) in rows:
                if int(asset_id) in found:
                    continue
                if name == "ips" and macs and _other_mac(conn, asset_id, macs):
                    continue
                found[int(asset_id)] = f"{_KIND[name]} {key}"
    return list(found.items())


def _other_mac(conn: sa.Connection, asset_id: int, macs: list[str]) -> bool:
    have = conn.execute(
        sa.select(asset_keys.c.value).where(
            asset_keys.c.asset_id == asset_id, asset_keys.c.kind == "mac"
        )
    ).all()
    return bool(have) and not ({v for (v,) in have} & set(macs))


def search_text(row: Mapping[str, Any]) -> str:
    parts = [str(row.get(k) or "") for k in ("name", "vendor", "model", "firmware", "serial")]
    parts += [str(row.get(k) or "") for k in ("hostname", "location", "device_id", "identifier")]
    parts += [ASSET_TYPES.get(str(row.get("asset_type") or ""), "")]
    for k in ("ips", "macs", "protocols", "model_numbers"):
        parts += [str(v) for v in row.get(k) or []]
    return " ".join(p for p in parts if p).lower()[:1000]


def _blank(eid: int | None) -> dict[str, Any]:
    at = datetime.now(UTC)
    row: dict[str, Any] = {k: "" for k in SCALARS}
    row.update({k: [] for k in LIST_FIELDS})
    row.update(
        enterprise_id=eid,
        zone_id=None,
        device_id=None,
        identifier=None,
        device_deleted=False,
        sources={},
        provenance={},
        alternatives={},
        peers=[],
        first_seen=None,
        last_seen=None,
        created_at=at,
        updated_at=at,
    )
    return row


def merge_peers(have: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Conversations by (peer, protocol, port, direction), counts added, the newest kept."""
    by: dict[tuple[Any, ...], dict[str, Any]] = {}
    for p in [*have, *new]:
        key = (p.get("ip"), p.get("protocol"), p.get("port"), p.get("dir"))
        old = by.pop(key, None)
        merged = dict(p)
        if old is not None:
            merged["count"] = int(old.get("count", 0)) + int(p.get("count", 0))
            merged["last"] = max(str(old.get("last", "")), str(p.get("last", "")))
        by[key] = merged
    return list(by.values())[-MAX_PEERS:]


def apply(
    conn: sa.Connection, obs: Observation, actor: str, *, asset_id: int | None = None
) -> tuple[int, bool]:
    """Merge ``obs`` into its asset (``asset_id``, else the one ``find`` finds, else a new
    one); return the asset's id and whether it was new."""
    at_iso = obs.at.isoformat()
    matched = ""
    if asset_id is None:
        hits = find_all(conn, obs.enterprise_id, obs.values)
        if hits:
            asset_id, matched = hits[0]
            for other, key in hits[1:]:
                absorb(conn, asset_id, other, key, actor, obs.at, obs.source)
    if asset_id is not None:
        found = conn.execute(sa.select(assets).where(assets.c.id == asset_id)).mappings().first()
        current: dict[str, Any] = dict(found) if found else _blank(obs.enterprise_id)
        if not matched:
            matched = f"asset {asset_id}"
    else:
        current = _blank(obs.enterprise_id)
    outcome = merge(current, obs.values, obs.source, at_iso)
    changes = outcome.changes
    if obs.peers:
        changes["peers"] = merge_peers(current.get("peers") or [], obs.peers)
    if obs.seen:
        last = current.get("last_seen")
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if last is None or obs.at > last:
            changes["last_seen"] = obs.at
        if current.get("first_seen") is None:
            changes["first_seen"] = obs.at
    if obs.device_deleted is not None and bool(current.get("device_deleted")) != obs.device_deleted:
        changes["device_deleted"] = obs.device_deleted
    if not current.get("name") and "name" not in changes:
        ips, macs = changes.get("ips") or current["ips"], changes.get("macs") or current["macs"]
        changes["name"] = (ips or macs or ["?"])[0]
    new = found_none = asset_id is None
    if not changes and not found_none:
        return int(asset_id or 0), False
    row = {**current, **changes}
    row["search"] = search_text(row)
    row["updated_at"] = datetime.now(UTC)
    keyed = any(k in changes for k in KEY_ORDER)
    if new:
        row.pop("id", None)
        asset_id = int(
            conn.execute(assets.insert().values(**row).returning(assets.c.id)).scalar_one()
        )
        matched = "new"
    else:
        update = {k: row[k] for k in (*changes, "search", "updated_at")}
        conn.execute(assets.update().where(assets.c.id == asset_id).values(**update))
    assert asset_id is not None
    if new or keyed:
        write_keys(conn, asset_id, row)
    first_time = "sources" in changes
    if outcome.decisions and (
        new or first_time or outcome.conflicting or obs.source != "observation"
    ):
        conn.execute(
            asset_merges.insert().values(
                asset_id=asset_id,
                at=obs.at,
                source=obs.source,
                matched=matched,
                decisions=outcome.decisions[:40],
                actor=actor,
            )
        )
    return asset_id, new


def write_keys(conn: sa.Connection, asset_id: int, row: Mapping[str, Any]) -> None:
    """The keys ``find`` matches ``asset_id`` by, rewritten from its columns."""
    conn.execute(asset_keys.delete().where(asset_keys.c.asset_id == asset_id))
    keys: set[tuple[str, str]] = set()
    for name in KEY_ORDER:
        value = row.get(name)
        for v in value if isinstance(value, list) else [value] if value else []:
            keys.add((_KIND[name], str(v)[:255]))
    if keys:
        conn.execute(
            asset_keys.insert(),
            [
                {"asset_id": asset_id, "kind": k, "value": v, "enterprise_id": row["enterprise_id"]}
                for k, v in sorted(keys)
            ],
        )


def _conflict(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two assets cannot be one machine: both have MACs and share none, or both are
    linked to different devices."""
    macs_a, macs_b = set(a.get("macs") or []), set(b.get("macs") or [])
    if macs_a and macs_b and not macs_a & macs_b:
        return True
    return bool(a.get("device_id") and b.get("device_id") and a["device_id"] != b["device_id"])


def absorb(
    conn: sa.Connection,
    target_id: int,
    other_id: int,
    key: str,
    actor: str,
    at: datetime,
    source: str = "observation",
) -> bool:
    """Merge asset ``other_id`` into ``target_id`` when an observation matched both (``key``
    matched the other): its values merged by the source that set each, its history moved,
    the other deleted; a history entry says so. Refused (False) when they cannot be one."""
    rows = {
        r["id"]: dict(r)
        for r in conn.execute(
            sa.select(assets).where(assets.c.id.in_((target_id, other_id)))
        ).mappings()
    }
    target, other = rows.get(target_id), rows.get(other_id)
    if target is None or other is None or _conflict(target, other):
        return False
    provenance = other.get("provenance") or {}
    decisions: list[dict[str, Any]] = []
    current = dict(target)
    at_iso = at.isoformat()
    for name in (*SCALARS, *LIST_FIELDS):
        value = other.get(name)
        if value in (None, "", []):
            continue
        source = provenance.get(name, "observation")
        outcome = merge(current, {name: value}, source, at_iso)
        current.update(outcome.changes)
        decisions += outcome.decisions
    sources = dict(other.get("sources") or {})
    sources.update(target.get("sources") or {})
    current["sources"] = sources
    current["peers"] = merge_peers(target.get("peers") or [], other.get("peers") or [])
    for name, pick in (("first_seen", min), ("last_seen", max)):
        known = [v for v in (target.get(name), other.get(name)) if v is not None]
        current[name] = pick(known) if known else None
    if not target.get("device_id"):
        current["device_deleted"] = bool(other.get("device_deleted"))
    current["search"] = search_text(current)
    current["updated_at"] = datetime.now(UTC)
    del current["id"]
    conn.execute(
        asset_merges.update().where(asset_merges.c.asset_id == other_id).values(asset_id=target_id)
    )
    conn.execute(asset_keys.delete().where(asset_keys.c.asset_id == other_id))
    conn.execute(assets.delete().where(assets.c.id == other_id))
    conn.execute(assets.update().where(assets.c.id == target_id).values(**current))
    write_keys(conn, target_id, current)
    conn.execute(
        asset_merges.insert().values(
            asset_id=target_id,
            at=at,
            source=source,
            matched=f"asset {other_id} ({key})",
            decisions=decisions[:40],
            actor=actor,
        )
    )
    return True
