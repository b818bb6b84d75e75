"""Prefix allocation: an operator gives a verified enterprise a prefix and its admin credential."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from indunet.core import Conflict, Enterprise, InvalidInput, PermissionDenied, audit, new_secret
from indunet.ids.admin import ALL_RIGHTS, hash_seckeys
from indunet.ids.errors import NotResponsible
from indunet.ids.node import Node
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import prefixes
from indunet.ids.values import (
    ADMIN_TYPE,
    FIRST_SITE_INDEX,
    SECKEY_TYPE,
    SITE_TYPE,
    HandleValue,
    now_timestamp,
)

ADMIN_KEY_INDEX = 300
ADMIN_VALUE_INDEX = 100


@dataclass(frozen=True, slots=True)
class Allocation:
    """A prefix given to an enterprise, and the username its clients authenticate with."""

    prefix: str
    node: str
    enterprise_id: int | None
    username: str
    secret: str | None = None


def admin_username(prefix: str) -> str:
    """The Handle username of a prefix's admin credential, e.g. ``300:0.NA/88.100.1``."""
    return f"{ADMIN_KEY_INDEX}:0.NA/{prefix}"


def allocate(
    node: Node,
    prefix: str,
    enterprise: Enterprise | None,
    *,
    actor: str,
    secret: str | None = None,
    sites: list[str] | None = None,
) -> Allocation:
    """Create prefix ``prefix`` below ``node``'s prefix, with an HS_ADMIN and an HS_SECKEY.

    If ``secret`` is not given one is generated and returned once. ``sites`` delegates the
    prefix to an enterprise node (HS_SITE values) instead of serving it here.
    """
    hdl.validate_prefix(prefix)
    norm = hdl.normalise_prefix(prefix)
    if node.prefix is None or hdl.parent_prefix(norm) != node.prefix:
        raise NotResponsible(
            f"prefix {prefix} is not a direct child of node {node.name}'s prefix {node.prefix!r}"
        )
    if enterprise is not None and not enterprise.verified:
        raise PermissionDenied(
            f"enterprise {enterprise.uscc} ({enterprise.name}) has not passed real-name verification"
        )
    for url in sites or ():  # delegating makes resolvers fetch these: the same policy as writes
        node.policy.check_url(url.rstrip("/"))
    if secret is not None and len(secret) < 12:
        raise InvalidInput("a prefix secret key must have at least 12 characters")
    generated = secret is None
    key = secret or new_secret(24)
    ts = now_timestamp()
    values = [
        HandleValue(
            ADMIN_VALUE_INDEX,
            ADMIN_TYPE,
            "admin",
            {"handle": f"0.NA/{prefix}", "index": ADMIN_KEY_INDEX, "permissions": ALL_RIGHTS},
            86_400,
            ts,
        ),
        HandleValue(ADMIN_KEY_INDEX, SECKEY_TYPE, "string", key, 86_400, ts, "1100"),
    ]
    if enterprise is not None:
        values.append(HandleValue(2, "DESC", "string", enterprise.name, 86_400, ts))
    for i, url in enumerate(sites or ()):
        values.append(
            HandleValue(
                FIRST_SITE_INDEX + i,
                SITE_TYPE,
                "site",
                {"url": url.rstrip("/"), "primary": i == 0, "name": ""},
                86_400,
                ts,
            )
        )
    values = hash_seckeys(values)
    h = hdl.parse(f"0.NA/{prefix}")
    with node.engine.begin() as conn:
        if conn.execute(sa.select(prefixes.c.prefix).where(prefixes.c.prefix == norm)).first():
            raise Conflict(f"prefix {prefix} is already allocated")
        if node.store.get_for_update(conn, h.key) is not None:
            raise Conflict(f"prefix handle 0.NA/{prefix} already exists")
        conn.execute(
            prefixes.insert().values(
                prefix=norm,
                node=node.name,
                enterprise_id=enterprise.id if enterprise else None,
                created_at=datetime.now(UTC),
            )
        )
        node.store.insert(conn, h.key, h.text, h.routing_prefix, values)
        audit.record(
            conn,
            actor,
            "prefix.allocate",
            f"0.NA/{prefix}",
            {"node": node.name, "enterprise": enterprise.uscc if enterprise else None},
        )
    node._written(h, values)
    return Allocation(
        norm,
        node.name,
        enterprise.id if enterprise else None,
        admin_username(prefix),
        key if generated else None,
    )


def list_allocations(engine: sa.Engine, *, enterprise_id: int | None = None) -> list[Allocation]:
    """Allocated prefixes, optionally of one enterprise."""
    q = sa.select(prefixes).order_by(prefixes.c.prefix)
    if enterprise_id is not None:
        q = q.where(prefixes.c.enterprise_id == enterprise_id)
    with engine.connect() as conn:
        return [
            Allocation(r.prefix, r.node, r.enterprise_id, admin_username(r.prefix))
            for r in conn.execute(q)
        ]


def enterprise_prefixes(engine: sa.Engine, enterprise_id: int) -> frozenset[str]:
    """The prefixes an enterprise holds (what its users may manage)."""
    return frozenset(a.prefix for a in list_allocations(engine, enterprise_id=enterprise_id))
