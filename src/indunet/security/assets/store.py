"""The asset inventory behind the access rule: lists with search, filters and paging, one
asset with its history, a person's create/edit/delete (enterprise admins; audited), and the
small public API other parts use (``list_for_matching``, ``by_ip``).

Database work is synchronous: call it from a worker thread.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput, NotFound, User, access, audit
from indunet.core.paged import page_of_rows
from indunet.security.assettables import asset_keys, asset_merges, assets, zones

from .attributes import check_spec
from .observe import Observation, apply, find, owned, search_text, write_keys

MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset as stored (``alternatives``: losing values per attribute, for review)."""

    id: int
    enterprise_id: int | None
    name: str
    asset_type: str
    role: str
    vendor: str
    model: str
    model_numbers: list[str]
    firmware: str
    serial: str
    hostname: str
    location: str
    logging: str
    criticality: str
    zone_id: int | None
    ips: list[str]
    macs: list[str]
    protocols: list[str]
    ports: list[int]
    accounts: list[str]
    device_id: str | None
    identifier: str | None
    device_deleted: bool
    sources: dict[str, str]
    provenance: dict[str, str]
    alternatives: dict[str, list[dict[str, Any]]]
    peers: list[dict[str, Any]]
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def product(self) -> str:
        return self.model

    @property
    def version(self) -> str:
        return self.firmware


@dataclass(frozen=True, slots=True)
class Merge:
    """One entry of an asset's merge history."""

    id: int
    at: datetime
    source: str
    matched: str
    decisions: list[dict[str, Any]]
    actor: str


@dataclass(frozen=True, slots=True)
class Detail:
    """An asset with its merge history (newest first) and its zone's name."""

    asset: Asset
    merges: list[Merge] = field(default_factory=list)
    zone_name: str | None = None


def _aware(v: datetime | None) -> datetime | None:
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def to_asset(m: Any) -> Asset:
    d = {k: m[k] for k in Asset.__dataclass_fields__}
    for k in ("first_seen", "last_seen", "created_at", "updated_at"):
        d[k] = _aware(d[k])
    d["device_deleted"] = bool(d["device_deleted"])
    return Asset(**d)


def _like(q: str) -> str:
    text = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{text}%"


def _missing(asset_id: int) -> NotFound:
    return NotFound(f"no asset {asset_id}", reason="asset_missing", params={"id": str(asset_id)})


class Assets:
    """The inventory of every enterprise."""

    def __init__(
        self, engine: sa.Engine, device_owner: Callable[[str], int | None] | None = None
    ) -> None:
        self.engine = engine
        #: The enterprise of a registered device (None: no such device), when the platform
        #: runs here; a person may link an asset only to a device of its own enterprise.
        self.device_owner = device_owner

    def check_device(self, eid: int | None, values: Mapping[str, Any]) -> None:
        """``InvalidInput`` unless ``values``' device id (if any) is a device of ``eid``;
        another enterprise's device is refused exactly like a missing one."""
        device_id = values.get("device_id")
        if not device_id:
            return
        owner = self.device_owner(device_id) if self.device_owner is not None else None
        if owner is None or owner != eid:
            raise InvalidInput(
                f"device_id {device_id!r} is not a device of this enterprise",
                reason="asset_field",
                params={"field": "device_id"},
            )

    # -- sources (no user: the parts of the service) ---------------------------------------
    def observe(self, observations: Sequence[Observation], actor: str = "system:assets") -> int:
        """Merge observations in one transaction; return how many assets were new."""
        new = 0
        with self.engine.begin() as conn:
            for obs in observations:
                new += apply(conn, obs, actor)[1]
        return new

    # -- reading ---------------------------------------------------------------------------
    def page(
        self,
        user: User,
        *,
        q: str = "",
        asset_type: str = "",
        zone_id: int | None = None,
        criticality: str = "",
        enterprise_id: int | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[Asset], int]:
        """One page of the assets ``user`` may see, by name, and how many match. ``q``
        searches name, IP, MAC, vendor, model, type, hostname, serial; filters: ATT&CK
        type, zone, criticality."""
        eid = access.scope(user, enterprise_id)
        where: list[sa.ColumnElement[bool]] = []
        if eid is not None:
            where.append(assets.c.enterprise_id == eid)
        if q.strip():
            where.append(assets.c.search.like(_like(q.strip()), escape="\\"))
        if asset_type:
            where.append(assets.c.asset_type == asset_type)
        if zone_id is not None:
            with self.engine.connect() as conn:
                owner = conn.execute(
                    sa.select(zones.c.enterprise_id).where(zones.c.id == zone_id)
                ).first()
            if owner is None or not access.can_see(user, owner[0]):
                raise NotFound(
                    f"no zone {zone_id}", reason="asset_zone_missing", params={"id": str(zone_id)}
                )
            where.append(assets.c.zone_id == zone_id)
        if criticality:
            where.append(assets.c.criticality == criticality)
        with self.engine.connect() as conn:
            rows, total = page_of_rows(
                conn,
                assets,
                list(assets.c),
                where,
                [assets.c.name, assets.c.id],
                offset=min(offset, MAX_OFFSET),
                limit=limit,
                scan=bool(q.strip()),
            )
        return [to_asset(r) for r in rows], total

    def _row(self, conn: sa.Connection, asset_id: int) -> Asset:
        row = conn.execute(sa.select(assets).where(assets.c.id == asset_id)).mappings().first()
        if row is None:
            raise _missing(asset_id)
        return to_asset(row)

    def get(self, user: User, asset_id: int) -> Detail:
        """One asset ``user`` may see, with its history; another tenant's is ``NotFound``."""
        with self.engine.connect() as conn:
            a = self._row(conn, asset_id)
            if not access.can_see(user, a.enterprise_id):
                raise _missing(asset_id)
            merges = conn.execute(
                sa.select(asset_merges)
                .where(asset_merges.c.asset_id == asset_id)
                .order_by(asset_merges.c.id.desc())
                .limit(100)
            ).mappings()
            history = [
                Merge(
                    m["id"],
                    _aware(m["at"]) or a.created_at,
                    m["source"],
                    m["matched"],
                    list(m["decisions"]),
                    m["actor"],
                )
                for m in merges
            ]
            zone = None
            if a.zone_id is not None:
                zone = conn.execute(
                    sa.select(zones.c.name).where(zones.c.id == a.zone_id)
                ).scalar_one_or_none()
        return Detail(a, history, zone)

    # -- a person's changes ----------------------------------------------------------------
    def _check_zone(self, conn: sa.Connection, eid: int | None, zone_id: int | None) -> None:
        if zone_id is None:
            return
        found = conn.execute(
            sa.select(zones.c.id).where(zones.c.id == zone_id, owned(zones, eid))
        ).first()
        if found is None:
            raise InvalidInput(
                f"no zone {zone_id} in this enterprise",
                reason="asset_zone_missing",
                params={"id": str(zone_id)},
            )

    def create(self, user: User, enterprise_id: int | None, spec: Mapping[str, Any]) -> Asset:
        """A new asset a person describes; one already known by a MAC, IP, identifier or
        device id is ``Conflict`` naming it (edit that one instead)."""
        eid = access.change_scope(user, enterprise_id, "add assets")
        values = check_spec(spec)
        self.check_device(eid, values)
        with self.engine.begin() as conn:
            self._check_zone(conn, eid, values.get("zone_id"))
            hit = find(conn, eid, values)
            if hit is not None:
                raise Conflict(
                    f"asset {hit[0]} has the same {hit[1]}",
                    reason="asset_exists",
                    params={"id": str(hit[0]), "key": hit[1]},
                )
            obs = Observation(eid, "manual", values)
            asset_id, _ = apply(conn, obs, user.actor)
            audit.record(
                conn,
                user.actor,
                "security.asset.create",
                f"asset:{asset_id}",
                {"name": values.get("name", ""), "enterprise": eid},
                enterprise_id=eid,
            )
            return self._row(conn, asset_id)

    def update(self, user: User, asset_id: int, spec: Mapping[str, Any]) -> Asset:
        """Change what a person says about an asset (their values outrank every source).
        List attributes given replace the list."""
        values = check_spec(spec, partial=True)
        with self.engine.begin() as conn:
            a = self._row(conn, asset_id)
            if not access.can_see(user, a.enterprise_id):
                raise _missing(asset_id)
            access.check_change(user, a.enterprise_id, f"asset {asset_id}")
            self.check_device(a.enterprise_id, values)
            self._check_zone(conn, a.enterprise_id, values.get("zone_id"))
            lists = {k: v for k, v in values.items() if isinstance(v, list)}
            if lists:  # replaced, not merged: a person removes a wrong address
                conn.execute(assets.update().where(assets.c.id == asset_id).values(**lists))
            cleared = [k for k, v in values.items() if v in ("", None) and not isinstance(v, list)]
            if cleared:
                conn.execute(
                    assets.update()
                    .where(assets.c.id == asset_id)
                    .values(
                        **{
                            k: (None if k in ("zone_id", "device_id", "identifier") else "")
                            for k in cleared
                        }
                    )
                )
            obs = Observation(a.enterprise_id, "manual", values)
            apply(conn, obs, user.actor, asset_id=asset_id)
            if lists or cleared:  # the keys follow what the person replaced or cleared
                now = conn.execute(sa.select(assets).where(assets.c.id == asset_id)).mappings()
                row = dict(now.one())
                write_keys(conn, asset_id, row)
                conn.execute(
                    assets.update().where(assets.c.id == asset_id).values(search=search_text(row))
                )
            audit.record(
                conn,
                user.actor,
                "security.asset.update",
                f"asset:{asset_id}",
                {"fields": sorted(values)},
                enterprise_id=a.enterprise_id,
            )
            return self._row(conn, asset_id)

    def delete(self, user: User, asset_id: int) -> None:
        with self.engine.begin() as conn:
            a = self._row(conn, asset_id)
            if not access.can_see(user, a.enterprise_id):
                raise _missing(asset_id)
            access.check_change(user, a.enterprise_id, f"asset {asset_id}")
            conn.execute(asset_merges.delete().where(asset_merges.c.asset_id == asset_id))
            conn.execute(asset_keys.delete().where(asset_keys.c.asset_id == asset_id))
            conn.execute(assets.delete().where(assets.c.id == asset_id))
            audit.record(
                conn,
                user.actor,
                "security.asset.delete",
                f"asset:{asset_id}",
                {"name": a.name},
                enterprise_id=a.enterprise_id,
            )

    # -- the public API of other parts -----------------------------------------------------
    def list_for_matching(self, enterprise_id: int | None = None) -> list[Asset]:
        """Every asset (of one enterprise when given) with a vendor or model, for the
        vulnerability matcher: ``vendor``, ``product`` (model), ``version`` (firmware),
        ``model_numbers``, ``serial``, ``ips``, ``macs``."""
        q = sa.select(assets).where(sa.or_(assets.c.vendor != "", assets.c.model != ""))
        if enterprise_id is not None:
            q = q.where(assets.c.enterprise_id == enterprise_id)
        with self.engine.connect() as conn:
            return [to_asset(r) for r in conn.execute(q.order_by(assets.c.id)).mappings()]

    def by_ip(self, enterprise_id: int | None, ip: str) -> Asset | None:
        """The asset of ``enterprise_id`` (None: the installation's own) with address ``ip``."""
        try:
            text = str(ipaddress.ip_address(ip))
        except ValueError:
            return None
        with self.engine.connect() as conn:
            asset_id = conn.execute(
                sa.select(asset_keys.c.asset_id)
                .where(
                    asset_keys.c.kind == "ip",
                    asset_keys.c.value == text,
                    owned(asset_keys, enterprise_id),
                )
                .order_by(asset_keys.c.asset_id)
                .limit(1)
            ).scalar_one_or_none()
            return None if asset_id is None else self._row(conn, int(asset_id))
