"""Prefixes: allocation to a verified enterprise with its admin credential, the operator's list
and detail, revocation and key rotation.

Revoking a prefix (``revoke``) keeps its identifiers in the store (an enterprise's data is
not destroyed by an administrative act, and the record stays for the audit) but takes them
out of service: the prefix handle ``0.NA/<prefix>`` is deleted, so its HS_SECKEY no longer
authenticates and its HS_SITE delegation is gone, and resolving any identifier under the
prefix or below it answers HANDLE_NOT_FOUND (HTTP 404) with "prefix … is revoked". Every node
of the process learns this at once, other processes within ``FLUSH_S`` seconds
(``load_revoked``, run by the ids upkeep service). A revoked prefix cannot be allocated again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import (
    Conflict,
    Enterprise,
    InvalidInput,
    NotFound,
    PermissionDenied,
    audit,
    new_secret,
)
from indunet.core.paged import page_of_rows
from indunet.ids import changes, history, terms
from indunet.ids.admin import ALL_RIGHTS, hash_seckeys
from indunet.ids.errors import NotResponsible
from indunet.ids.node import Node
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import handles, prefixes
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
MIN_SECRET = 12


@dataclass(frozen=True, slots=True)
class Allocation:
    """A prefix given to an enterprise, and the username its clients authenticate with."""

    prefix: str
    node: str
    enterprise_id: int | None
    username: str
    secret: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # the end of its term (``ids.terms``); None: no term

    @property
    def lapsed(self) -> bool:
        """Whether its term has ended (it resolves but takes no writes; ``ids.terms``)."""
        return terms.lapsed(self.expires_at)


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
    expires_at: datetime | None = None,
) -> Allocation:
    """Create prefix ``prefix`` below ``node``'s prefix, with an HS_ADMIN and an HS_SECKEY.

    If ``secret`` is not given one is generated and returned once. ``sites`` delegates the
    prefix to an enterprise node (HS_SITE values) instead of serving it here. ``expires_at``
    ends the allocation's term (``ids.terms``; ``None``: no term).
    """
    with node.engine.begin() as conn:
        made, after = allocate_in(
            conn,
            node,
            prefix,
            enterprise,
            actor=actor,
            secret=secret,
            sites=sites,
            expires_at=expires_at,
        )
    after()
    return made


def allocate_in(
    conn: sa.Connection,
    node: Node,
    prefix: str,
    enterprise: Enterprise | None,
    *,
    actor: str,
    secret: str | None = None,
    sites: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[Allocation, Callable[[], None]]:
    """``allocate`` in the caller's transaction ``conn`` (an approved application writes its
    review in the same one); call the returned function once it has committed, to tell the
    node."""
    hdl.validate_prefix(prefix)
    norm = hdl.normalise_prefix(prefix)
    if node.prefix is None or hdl.parent_prefix(norm) != node.prefix:
        raise NotResponsible(
            f"prefix {prefix} is not a direct child of node {node.name}'s prefix {node.prefix!r}",
            reason="prefix_not_child",
            params={"prefix": prefix, "node": node.name, "parent": node.prefix or ""},
        )
    if enterprise is not None and not enterprise.verified:
        raise PermissionDenied(
            f"enterprise {enterprise.uscc} ({enterprise.name}) has not passed real-name "
            "verification",
            reason="enterprise_unverified",
            params={"uscc": enterprise.uscc, "name": enterprise.name},
        )
    for url in sites or ():  # delegating makes resolvers fetch these: the same policy as writes
        node.policy.check_url(url.rstrip("/"))
    if secret is not None and len(secret) < MIN_SECRET:
        raise InvalidInput(
            f"a prefix secret key must have at least {MIN_SECRET} characters",
            reason="prefix_secret_short",
            params={"min": MIN_SECRET},
        )
    generated = secret is None
    key = secret or new_secret(24)
    values = hash_seckeys(_prefix_values(prefix, key, enterprise, sites or []))
    h = hdl.parse(f"0.NA/{prefix}")
    if conn.execute(sa.select(prefixes.c.prefix).where(prefixes.c.prefix == norm)).first():
        raise Conflict(
            f"prefix {prefix} is already allocated",
            reason="prefix_allocated",
            params={"prefix": prefix},
        )
    if node.store.get_for_update(conn, h.key) is not None:
        raise Conflict(
            f"prefix handle 0.NA/{prefix} already exists",
            reason="prefix_handle_exists",
            params={"prefix": prefix},
        )
    created = datetime.now(UTC)
    conn.execute(
        prefixes.insert().values(
            prefix=norm,
            node=node.name,
            enterprise_id=enterprise.id if enterprise else None,
            created_at=created,
            expires_at=expires_at,
        )
    )
    node.store.insert(conn, h.key, h.text, h.routing_prefix, values)
    changes.note(conn, node.name, [h.key])
    history.record(
        conn,
        node=node.name,
        hkey=h.key,
        handle=h.text,
        action="handle.create",
        actor=actor,
        before=None,
    )
    audit.record(
        conn,
        actor,
        "prefix.allocate",
        f"0.NA/{prefix}",
        {
            "node": node.name,
            "enterprise": enterprise.uscc if enterprise else None,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
        enterprise_id=enterprise.id if enterprise else None,
    )

    def after() -> None:
        node._written(h, values)
        if expires_at is not None:
            node.terms = {**node.terms, norm: expires_at}

    made = Allocation(
        norm,
        node.name,
        enterprise.id if enterprise else None,
        admin_username(prefix),
        key if generated else None,
        created,
        None,
        expires_at,
    )
    return made, after


def _prefix_values(
    prefix: str, key: str, enterprise: Enterprise | None, sites: list[str]
) -> list[HandleValue]:
    """The values of a new prefix handle: its admin, its key, its holder's name, its sites."""
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
    for i, url in enumerate(sites):
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
    return values


def list_allocations(engine: sa.Engine, *, enterprise_id: int | None = None) -> list[Allocation]:
    """Allocated prefixes in service (not revoked), optionally of one enterprise."""
    q = sa.select(prefixes).where(prefixes.c.revoked_at.is_(None)).order_by(prefixes.c.prefix)
    if enterprise_id is not None:
        q = q.where(prefixes.c.enterprise_id == enterprise_id)
    with engine.connect() as conn:
        return [_allocation(r._mapping) for r in conn.execute(q)]


def _allocation(m: Mapping[Any, Any]) -> Allocation:
    return Allocation(
        m["prefix"],
        m["node"],
        m["enterprise_id"],
        admin_username(m["prefix"]),
        None,
        m["created_at"],
        m["revoked_at"],
        terms.utc(m["expires_at"]),
    )


def enterprise_prefixes(engine: sa.Engine, enterprise_id: int) -> frozenset[str]:
    """The prefixes an enterprise holds in service (what its users may manage)."""
    return frozenset(a.prefix for a in list_allocations(engine, enterprise_id=enterprise_id))


# -- operators' list, detail, revocation and key rotation ----------------------------------
ACTIVE, REVOKED = "active", "revoked"
SORTS = ("prefix", "created_at", "enterprise_id", "expires_at")
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class PrefixDetail:
    """One prefix as its detail page shows it."""

    allocation: Allocation
    handles: int
    admins: list[HandleValue] = field(default_factory=list)
    sites: list[HandleValue] = field(default_factory=list)
    revoked_by: str = ""
    revoke_reason: str = ""


def page_allocations(
    engine: sa.Engine,
    *,
    like: str | None = None,
    enterprise_id: int | None = None,
    state: str | None = None,
    sort: str = "prefix",
    desc: bool = False,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Allocation], int]:
    """One page of allocations and how many match: ``like`` (an SQL LIKE pattern escaped
    with ``\\``) searches the prefix; ``enterprise_id`` and ``state`` (active, revoked)
    filter."""
    where: list[sa.ColumnElement[bool]] = []
    if like:
        where.append(prefixes.c.prefix.like(like, escape="\\"))
    if enterprise_id is not None:
        where.append(prefixes.c.enterprise_id == enterprise_id)
    if state == ACTIVE:
        where.append(prefixes.c.revoked_at.is_(None))
    elif state == REVOKED:
        where.append(prefixes.c.revoked_at.is_not(None))
    column = prefixes.c[sort if sort in SORTS else "prefix"]
    with engine.connect() as conn:
        rows, total = page_of_rows(
            conn,
            prefixes,
            [prefixes],
            where,
            [column.desc() if desc else column, prefixes.c.prefix],
            offset=offset,
            limit=limit,
            scan=bool(like),
        )
    return [_allocation(r) for r in rows], total


def _row(conn: sa.Connection, prefix: str) -> sa.Row[tuple[object, ...]]:
    norm = hdl.normalise_prefix(prefix.strip())
    row = conn.execute(sa.select(prefixes).where(prefixes.c.prefix == norm)).first()
    if row is None:
        raise NotFound(
            f"prefix {prefix} is not allocated",
            reason="prefix_not_found",
            params={"prefix": prefix},
        )
    return row


def allocation_of(engine: sa.Engine, prefix: str) -> Allocation:
    """The allocation of ``prefix`` (revoked or not), or ``NotFound``."""
    with engine.connect() as conn:
        return _allocation(_row(conn, prefix)._mapping)


def prefix_detail(nodes: Mapping[str, Node], engine: sa.Engine, prefix: str) -> PrefixDetail:
    """``prefix`` with its HS_ADMIN and HS_SITE values and how many identifiers it holds."""
    with engine.connect() as conn:
        row = _row(conn, prefix)
        m = row._mapping
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(handles)
            .where(handles.c.node == m["node"], handles.c.prefix == m["prefix"])
        ).scalar_one()
    node = nodes.get(str(m["node"]))
    rec = node.store.get(hdl.parse(f"0.NA/{m['prefix']}").key) if node else None
    values = rec.values if rec else []
    return PrefixDetail(
        _allocation(row._mapping),
        int(count),
        [v for v in values if v.type == ADMIN_TYPE],
        [v for v in values if v.type == SITE_TYPE],
        str(m["revoked_by"]),
        str(m["revoke_reason"]),
    )


def _node_of(nodes: Mapping[str, Node], name: str, prefix: str) -> Node:
    node = nodes.get(name)
    if node is None:
        raise Conflict(
            f"prefix {prefix} is held by node {name}, which this process does not run",
            reason="prefix_node_elsewhere",
            params={"prefix": prefix, "node": name},
        )
    return node


def revoke(nodes: Mapping[str, Node], prefix: str, *, reason: str, actor: str) -> Allocation:
    """Revoke ``prefix`` (see the module docstring); ``reason`` is required and stored."""
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise InvalidInput(
            f"a revocation needs a reason of 1 to {MAX_REASON} characters",
            reason="revoke_reason_needed",
            params={"max": MAX_REASON},
        )
    any_node = next(iter(nodes.values()))
    with any_node.engine.begin() as conn:
        row = _row(conn, prefix)
        m = row._mapping
        if m["revoked_at"] is not None:
            raise Conflict(
                f"prefix {m['prefix']} is already revoked",
                reason="prefix_revoked",
                params={"prefix": m["prefix"]},
            )
        node = _node_of(nodes, str(m["node"]), str(m["prefix"]))
        norm = str(m["prefix"])
        h = hdl.parse(f"0.NA/{norm}")
        conn.execute(
            prefixes.update()
            .where(prefixes.c.prefix == norm)
            .values(revoked_at=datetime.now(UTC), revoked_by=actor[:200], revoke_reason=text)
        )
        old = node.store.get_for_update(conn, h.key)
        if old is not None:  # a record removed by hand before leaves nothing to keep
            node.store.delete(conn, h.key)
            history.record(
                conn,
                node=node.name,
                hkey=h.key,
                handle=old.handle,
                action="handle.delete",
                actor=actor,
                before=old.values,
            )
        # revocations reloaded; the record's key for the change log (copies delete it too)
        changes.note(conn, node.name, [h.key, changes.EVERYTHING])
        audit.record(
            conn,
            actor,
            "prefix.revoke",
            f"0.NA/{norm}",
            {"reason": text},
            enterprise_id=m["enterprise_id"],
        )
    node._written(h, None)  # drops its delegation and cached answers about it
    for n in nodes.values():
        n.revoked = n.revoked | {norm}
        if n.resolver is not None:
            n.resolver.answers.clear()  # answers under the prefix may be cached
    return allocation_of(any_node.engine, norm)


def rotate_key(nodes: Mapping[str, Node], prefix: str, *, actor: str) -> str:
    """Give ``prefix``'s admin a new HS_SECKEY secret and return it (shown once); the old
    secret stops authenticating at once."""
    any_node = next(iter(nodes.values()))
    secret = new_secret(24)
    with any_node.engine.begin() as conn:
        m = _row(conn, prefix)._mapping
        norm = str(m["prefix"])
        if m["revoked_at"] is not None:
            raise Conflict(
                f"prefix {norm} is revoked", reason="prefix_revoked", params={"prefix": norm}
            )
        node = _node_of(nodes, str(m["node"]), norm)
        h = hdl.parse(f"0.NA/{norm}")
        rec = node.store.get_for_update(conn, h.key)
        if rec is None:
            raise NotFound(
                f"prefix handle 0.NA/{norm} is missing",
                reason="prefix_handle_missing",
                params={"prefix": norm},
            )
        key = HandleValue(
            ADMIN_KEY_INDEX, SECKEY_TYPE, "string", secret, 86_400, now_timestamp(), "1100"
        )
        values = [v for v in rec.values if v.index != ADMIN_KEY_INDEX]
        values = sorted([*values, *hash_seckeys([key])], key=lambda v: v.index)
        node.store.replace(conn, h.key, values)
        changes.note(conn, node.name, [h.key])
        history.record(
            conn,
            node=node.name,
            hkey=h.key,
            handle=rec.handle,
            action="handle.modify",
            actor=actor,
            before=rec.values,
        )
        audit.record(
            conn,
            actor,
            "prefix.rotate_key",
            f"0.NA/{norm}",
            {"index": ADMIN_KEY_INDEX},
            enterprise_id=m["enterprise_id"],
        )
    node._written(h, values)
    return secret


def load_revoked(engine: sa.Engine, nodes: Iterable[Node]) -> None:
    """Tell ``nodes`` which prefixes are revoked (revocations made by other processes) and
    the terms of those in service (renewals made by other processes, ``ids.terms``)."""
    nodes = list(nodes)
    with engine.connect() as conn:
        terms.load_terms(conn, nodes)
        gone = frozenset(
            str(p)
            for p in conn.execute(
                sa.select(prefixes.c.prefix).where(prefixes.c.revoked_at.is_not(None))
            ).scalars()
        )
    for n in nodes:
        if n.revoked != gone:
            n.revoked = gone
