"""Zones and conduits (IEC 62443-3-2): a zone groups assets that share security
requirements and has a target security level (SL-T 1–4); a conduit joins two zones of the
same enterprise and names the protocols that may pass; a zone a conduit joins is not
deleted until the conduit is. Enterprise admins change them (audited);
another tenant's zone is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput, NotFound, User, access, audit, get_enterprise_by_id
from indunet.security.assettables import assets, conduits, zones

from .attributes import check_list, check_text

SECURITY_LEVELS = (1, 2, 3, 4)
MAX_ZONES = 500
"""Zones and conduits an enterprise has at most (each list is shown whole)."""


@dataclass(frozen=True, slots=True)
class Zone:
    id: int
    enterprise_id: int | None
    name: str
    sl_target: int
    description: str
    assets: int = 0


@dataclass(frozen=True, slots=True)
class Conduit:
    id: int
    enterprise_id: int | None
    name: str
    zone_a: int
    zone_b: int
    protocols: list[str]
    description: str


def _name(value: Any) -> str:
    name = check_text("name", value)
    if not name:
        raise InvalidInput("a name is required", reason="asset_field", params={"field": "name"})
    return name[:100]


def _level(value: Any) -> int:
    try:
        level = int(str(value))
    except ValueError:
        level = 0
    if level not in SECURITY_LEVELS:
        raise InvalidInput(
            "the target security level (SL-T) is 1, 2, 3 or 4",
            reason="asset_field",
            params={"field": "sl_target"},
        )
    return level


def _missing(what: str, ident: int) -> NotFound:
    reason = "asset_zone_missing" if what == "zone" else "asset_conduit_missing"
    return NotFound(f"no {what} {ident}", reason=reason, params={"id": str(ident)})


class Zones:
    """Zones and conduits of every enterprise."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _scope(self, user: User, enterprise_id: int | None) -> list[sa.ColumnElement[bool]]:
        eid = access.scope(user, enterprise_id)
        return [] if eid is None else [zones.c.enterprise_id == eid]

    def list_zones(self, user: User, enterprise_id: int | None = None) -> list[Zone]:
        counts = (
            sa.select(assets.c.zone_id, sa.func.count().label("n"))
            .group_by(assets.c.zone_id)
            .subquery()
        )
        q = (
            sa.select(zones, sa.func.coalesce(counts.c.n, 0).label("n"))
            .select_from(zones.outerjoin(counts, counts.c.zone_id == zones.c.id))
            .where(*self._scope(user, enterprise_id))
            .order_by(zones.c.name, zones.c.id)
            .limit(MAX_ZONES)
        )
        with self.engine.connect() as conn:
            return [
                Zone(r.id, r.enterprise_id, r.name, r.sl_target, r.description, int(r.n))
                for r in conn.execute(q)
            ]

    def list_conduits(self, user: User, enterprise_id: int | None = None) -> list[Conduit]:
        eid = access.scope(user, enterprise_id)
        q = sa.select(conduits).order_by(conduits.c.name, conduits.c.id).limit(MAX_ZONES)
        if eid is not None:
            q = q.where(conduits.c.enterprise_id == eid)
        with self.engine.connect() as conn:
            return [
                Conduit(
                    r.id,
                    r.enterprise_id,
                    r.name,
                    r.zone_a,
                    r.zone_b,
                    list(r.protocols),
                    r.description,
                )
                for r in conn.execute(q)
            ]

    def _zone(self, conn: sa.Connection, user: User, zone_id: int) -> Zone:
        r = conn.execute(sa.select(zones).where(zones.c.id == zone_id)).first()
        if r is None or not access.can_see(user, r.enterprise_id):
            raise _missing("zone", zone_id)
        return Zone(r.id, r.enterprise_id, r.name, r.sl_target, r.description)

    def create_zone(
        self,
        user: User,
        enterprise_id: int | None,
        name: Any,
        sl_target: Any,
        description: Any = "",
    ) -> Zone:
        eid = access.change_scope(user, enterprise_id, "add zones")
        values: dict[str, Any] = {
            "name": _name(name),
            "sl_target": _level(sl_target),
            "description": check_text("description", description)[:500],
        }
        with self.engine.begin() as conn:
            if eid is not None:
                get_enterprise_by_id(conn, eid)
            owned = zones.c.enterprise_id.is_(None) if eid is None else zones.c.enterprise_id == eid
            if conn.execute(
                sa.select(zones.c.id).where(owned, zones.c.name == values["name"])
            ).first():
                raise Conflict(
                    f"a zone named {values['name']!r} exists",
                    reason="asset_zone_exists",
                    params={"name": values["name"]},
                )
            zid = conn.execute(
                zones.insert()
                .values(enterprise_id=eid, created_at=datetime.now(UTC), **values)
                .returning(zones.c.id)
            ).scalar_one()
            audit.record(
                conn, user.actor, "security.zone.create", f"zone:{zid}", values, enterprise_id=eid
            )
        return Zone(int(zid), eid, values["name"], values["sl_target"], values["description"])

    def update_zone(
        self, user: User, zone_id: int, name: Any, sl_target: Any, description: Any = ""
    ) -> Zone:
        values: dict[str, Any] = {
            "name": _name(name),
            "sl_target": _level(sl_target),
            "description": check_text("description", description)[:500],
        }
        with self.engine.begin() as conn:
            z = self._zone(conn, user, zone_id)
            access.check_change(user, z.enterprise_id, f"zone {zone_id}")
            conn.execute(zones.update().where(zones.c.id == zone_id).values(**values))
            audit.record(
                conn,
                user.actor,
                "security.zone.update",
                f"zone:{zone_id}",
                values,
                enterprise_id=z.enterprise_id,
            )
        return Zone(
            zone_id, z.enterprise_id, values["name"], values["sl_target"], values["description"]
        )

    def delete_zone(self, user: User, zone_id: int) -> None:
        """Delete a zone no conduit joins: its assets stay, without a zone."""
        with self.engine.begin() as conn:
            z = self._zone(conn, user, zone_id)
            access.check_change(user, z.enterprise_id, f"zone {zone_id}")
            joined = conn.execute(
                sa.select(sa.func.count())
                .select_from(conduits)
                .where(sa.or_(conduits.c.zone_a == zone_id, conduits.c.zone_b == zone_id))
            ).scalar_one()
            if joined:
                raise Conflict(
                    f"{joined} conduits join zone {zone_id}; delete them first",
                    reason="asset_zone_in_use",
                    params={"count": str(joined)},
                )
            conn.execute(assets.update().where(assets.c.zone_id == zone_id).values(zone_id=None))
            conn.execute(zones.delete().where(zones.c.id == zone_id))
            audit.record(
                conn,
                user.actor,
                "security.zone.delete",
                f"zone:{zone_id}",
                {"name": z.name},
                enterprise_id=z.enterprise_id,
            )

    def create_conduit(
        self,
        user: User,
        name: Any,
        zone_a: int,
        zone_b: int,
        protocols: Any = None,
        description: Any = "",
    ) -> Conduit:
        """A conduit between two zones of one enterprise (the zones say whose it is)."""
        values: dict[str, Any] = {
            "name": _name(name),
            "protocols": check_list("protocols", protocols),
            "description": check_text("description", description)[:500],
        }
        with self.engine.begin() as conn:
            a, b = self._zone(conn, user, zone_a), self._zone(conn, user, zone_b)
            if a.enterprise_id != b.enterprise_id or a.id == b.id:
                raise InvalidInput(
                    "a conduit joins two different zones of the same enterprise",
                    reason="asset_field",
                    params={"field": "zone_b"},
                )
            access.check_change(user, a.enterprise_id, "conduits")
            cid = conn.execute(
                conduits.insert()
                .values(
                    enterprise_id=a.enterprise_id,
                    zone_a=a.id,
                    zone_b=b.id,
                    created_at=datetime.now(UTC),
                    **values,
                )
                .returning(conduits.c.id)
            ).scalar_one()
            audit.record(
                conn,
                user.actor,
                "security.conduit.create",
                f"conduit:{cid}",
                {"name": values["name"], "zones": [a.id, b.id]},
                enterprise_id=a.enterprise_id,
            )
        return Conduit(
            int(cid),
            a.enterprise_id,
            values["name"],
            a.id,
            b.id,
            values["protocols"],
            values["description"],
        )

    def delete_conduit(self, user: User, conduit_id: int) -> None:
        with self.engine.begin() as conn:
            r = conn.execute(sa.select(conduits).where(conduits.c.id == conduit_id)).first()
            if r is None or not access.can_see(user, r.enterprise_id):
                raise _missing("conduit", conduit_id)
            access.check_change(user, r.enterprise_id, f"conduit {conduit_id}")
            conn.execute(conduits.delete().where(conduits.c.id == conduit_id))
            audit.record(
                conn,
                user.actor,
                "security.conduit.delete",
                f"conduit:{conduit_id}",
                {"name": r.name},
                enterprise_id=r.enterprise_id,
            )
