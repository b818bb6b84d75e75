"""The native API: what the Handle API lacks (templates, prefixes, enterprises, nodes, tokens)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field

from indunet import core, ids
from indunet.core import NotFound, Role, access
from indunet.ids import Node, schemekeys
from indunet.ids.events import RESOLUTIONS
from indunet.web.api.handles import rc_of
from indunet.web.auth import client_address, peer_address, template_manager
from indunet.web.deps import MAX_DB_INT, QueryId, StateDep, UserDep, require
from indunet.web.state import AppState

router = APIRouter()
ADMINS = (Role.PLATFORM_ADMIN,)
#: Tokens one page of ``GET /auth/tokens`` holds at most (and by default).
MAX_TOKEN_PAGE = 1000


class TokenRequest(BaseModel):
    """Username and password to exchange for an API token."""

    username: str
    password: str
    name: str = Field(default="api", max_length=100)
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=core.users.MAX_TOKEN_TTL.days,
        description=f"lifetime; default {core.users.DEFAULT_TOKEN_TTL.days} days",
    )


class EnterpriseIn(BaseModel):
    """Real-name data of an enterprise."""

    uscc: str = Field(description="unified social credit code, 18 characters (GB 32100-2015)")
    name: str
    legal_representative: str = ""
    contact: str = ""
    industry_code: str = ""
    region: str = ""


class PrefixIn(BaseModel):
    """A prefix to allocate to a verified enterprise."""

    prefix: str = Field(examples=["88.100.1"])
    enterprise_uscc: str
    secret: str | None = Field(default=None, description="admin key; generated when omitted")
    sites: list[str] = Field(
        default_factory=list, description="enterprise node URLs to delegate to"
    )


def _node(state: AppState, name: str | None) -> Node:
    nodes = state.hierarchy.nodes
    if name is None:
        return state.hierarchy.front
    if name not in nodes:
        raise NotFound(f"no node {name!r}; this process runs {', '.join(nodes)}")
    return nodes[name]


def node_status(node: Node, state: AppState) -> dict[str, Any]:
    """Status and statistics of one node."""
    s = node.stats
    out: dict[str, Any] = {
        "name": node.name,
        "role": node.role.value,
        "prefix": node.prefix,
        "records": node.store.count(),
        "delegations": {
            p: [site.url for site in r.sites] for p, r in sorted(node.delegations.items())
        },
        "resolutions": s.resolutions,
        "registrations": s.registrations,
        "resolutions_per_minute": [{"minute": m * 60, "count": c} for m, c in s.per_minute()],
        "latency_ms": {
            "p50": s.percentile_ms(0.5),
            "p90": s.percentile_ms(0.9),
            "p99": s.percentile_ms(0.99),
        },
    }
    if node.resolver is not None:
        out["cache"] = {
            "entries": len(node.resolver.answers),
            "hits": node.resolver.answers.hits,
            "misses": node.resolver.answers.misses,
            "hit_rate": node.resolver.answers.hit_rate,
        }
        guard = state.hierarchy.transport.guard()
        if guard is not None:  # other nodes' sites: breaker states and refusals (ids.siteguard)
            out["sites"] = guard.summary()
    replica = state.services.get("ids-dr")
    if node.copy_of is not None and isinstance(replica, ids.Replica) and replica.node is node:
        st = replica.status  # how far the disaster-recovery copy is (ids.replica)
        out["copy"] = {
            "primary": node.copy_of,
            "applied": st.applied,
            "primary_head": st.primary_head,
            "synced_at": st.synced_at.isoformat() if st.synced_at else None,
            "reaching_primary": not st.failing,
        }
    return out


@router.post(
    "/auth/token",
    tags=["auth"],
    responses={429: {"description": "too many failed logins; retry after Retry-After seconds"}},
)
def create_token(body: TokenRequest, request: Request, state: StateDep) -> dict[str, str]:
    """Exchange a username and password for an API token (shown once); failures are throttled."""
    user = state.logins.password(
        state.engine, body.username, body.password, source=client_address(request), via="token"
    )
    days = body.expires_in_days
    with state.engine.begin() as conn:
        token, expires_at = core.issue_expiring_token(
            conn, user, name=body.name, ttl=timedelta(days=days) if days else None
        )
    return {
        "token": token,
        "username": user.username,
        "role": user.role.value,
        "expires_at": expires_at.isoformat(),
    }


@router.get("/auth/tokens", tags=["auth"])
def list_tokens(
    state: StateDep,
    user: UserDep,
    response: Response,
    username: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TOKEN_PAGE)] = MAX_TOKEN_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[dict[str, Any]]:
    """Tokens that have not expired, newest first, without their secrets: every user's for
    platform admins, else the caller's own. One page of ``limit`` from ``offset``; the
    ``X-Total-Count`` header says how many there are over every page."""
    with state.engine.connect() as conn:
        found = core.list_tokens(conn, user, username=username, offset=offset, limit=limit)
        response.headers["X-Total-Count"] = str(
            core.tokens.count_tokens(conn, user, username=username)
        )
    return [t.to_json() for t in found]


@router.delete("/auth/tokens/{token_id}", tags=["auth"], status_code=204)
def revoke_token_by_id(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], state: StateDep, user: UserDep
) -> None:
    """Revoke a token by its id (platform admins: anyone's; others: their own)."""
    with state.engine.begin() as conn:
        core.revoke_token_by_id(conn, token_id, user)


@router.delete("/auth/token", tags=["auth"], status_code=204)
def revoke_token(request: Request, state: StateDep, user: UserDep) -> None:
    """Revoke the Bearer token this request was made with (log out an API client)."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise core.InvalidInput("send the token to revoke as 'Authorization: Bearer <token>'")
    with state.engine.begin() as conn:
        core.revoke_token(conn, auth[7:].strip())
        core.audit.record(conn, user.actor, "token.revoke", f"user:{user.username}")


@router.get("/nodes", tags=["nodes"])
def list_nodes(state: StateDep) -> list[dict[str, Any]]:
    """Every node this process runs, with statistics."""
    return [node_status(n, state) for n in state.hierarchy.nodes.values()]


@router.get("/nodes/{name}", tags=["nodes"])
def get_node(name: str, state: StateDep) -> dict[str, Any]:
    """One node's status and statistics."""
    return node_status(_node(state, name), state)


@router.get("/resolve/{handle:path}", tags=["identifiers"])
async def resolve(
    handle: str, request: Request, state: StateDep, fresh: bool = False
) -> dict[str, Any]:
    """Resolve through the recursive resolver and show the referral path taken."""
    node = state.hierarchy.nodes.get("recursive") or state.hierarchy.front
    s = state.settings
    resolutions = state.signals.of(RESOLUTIONS)
    try:
        key = schemekeys.handle_of(handle, s.oid_prefixes, s.ecode_prefixes)  # oid:…, ecode:…
        answer = await node.resolve(key, recurse=True, fresh=fresh)
    except core.IndunetError as exc:
        resolutions.add((peer_address(request.scope), handle, rc_of(exc), "api"))
        raise
    resolutions.add((peer_address(request.scope), handle, int(answer.rc), "api"))
    return answer.to_json(with_path=True)


@router.get("/enterprises", tags=["enterprises"])
def list_enterprises(state: StateDep, user: UserDep) -> list[dict[str, Any]]:
    """Enterprises (platform admins and regulators see all, others their own)."""
    with state.engine.connect() as conn:
        ents = core.list_enterprises(conn)
    return [_ent(e) for e in ents if access.can_see(user, e.id)]


def _ent(e: core.Enterprise) -> dict[str, Any]:
    return asdict(e)


@router.post("/enterprises", tags=["enterprises"], status_code=201)
def create_enterprise(body: EnterpriseIn, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Register an enterprise; created by a platform admin it is verified at once."""
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.begin() as conn:
        ent = core.create_enterprise(conn, **body.model_dump(), actor=user.actor, verified=True)
    return _ent(ent)


@router.get("/prefixes", tags=["prefixes"])
def list_prefixes(state: StateDep, user: UserDep) -> list[dict[str, Any]]:
    """Allocated prefixes (an enterprise user sees their own)."""
    if access.sees_all(user):
        allocs = ids.list_allocations(state.engine)
    elif user.enterprise_id is not None:
        allocs = ids.list_allocations(state.engine, enterprise_id=access.scope(user))
    else:
        allocs = []
    return [
        {
            "prefix": a.prefix,
            "node": a.node,
            "enterprise_id": a.enterprise_id,
            "username": a.username,
            "expires_at": a.expires_at.isoformat() if a.expires_at else None,
            "lapsed": a.lapsed,
        }
        for a in allocs
    ]


@router.post("/prefixes", tags=["prefixes"], status_code=201)
def allocate_prefix(body: PrefixIn, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Give a verified enterprise a prefix; returns the username (and generated key, once)."""
    # A sync route (run in the thread pool): the enterprise lookup and the allocation both
    # wait on the database, which an async route did on the event loop.
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.connect() as conn:
        ent = core.get_enterprise(conn, body.enterprise_uscc)
    alloc = ids.allocate(
        state.hierarchy.front,
        body.prefix,
        ent,
        actor=user.actor,
        secret=body.secret,
        sites=body.sites,
    )
    out: dict[str, Any] = {"prefix": alloc.prefix, "node": alloc.node, "username": alloc.username}
    if alloc.secret:
        out["secret"] = alloc.secret
    return out


@router.get("/prefixes/{prefix}/templates", tags=["templates"])
def list_templates(prefix: str, state: StateDep) -> list[dict[str, Any]]:
    """Data templates usable under a prefix (public, so clients can validate before writing)."""
    return [
        t.to_json()
        for t in state.hierarchy.front.templates.for_prefix(ids.handle.normalise_prefix(prefix))
    ]


@router.post("/prefixes/{prefix}/templates", tags=["templates"], status_code=201)
def create_template(
    prefix: str, state: StateDep, user: UserDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Publish a template version for a prefix."""
    principal = template_manager(state.engine, user, prefix)
    t = ids.parse_template(prefix, body)
    with state.engine.begin() as conn:
        t = state.hierarchy.front.templates.add(conn, t, actor=principal.actor)
    return t.to_json()


@router.delete("/prefixes/{prefix}/templates/{ref}", tags=["templates"], status_code=204)
def delete_template(prefix: str, ref: str, state: StateDep, user: UserDep) -> None:
    """Withdraw a template version (``name@version``)."""
    principal = template_manager(state.engine, user, prefix)
    with state.engine.begin() as conn:
        state.hierarchy.front.templates.remove(conn, prefix, ref, actor=principal.actor)


@router.get("/audit", tags=["audit"])
def audit_log(
    state: StateDep,
    user: UserDep,
    response: Response,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="exact, or a prefix ending in '.'")
    ] = None,
    target: Annotated[str | None, Query(max_length=300)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    enterprise_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered; ``X-Total-Count`` says how many match. Platform
    admins and regulators read every entry; enterprise admins their enterprise's only."""
    eid = access.scope(user, enterprise_id)
    if not access.sees_all(user):
        require(user, Role.ENTERPRISE_ADMIN)
    f = core.audit.AuditFilter(
        actor=actor or "",
        action=action or "",
        target=target or "",
        since=_utc(since),
        until=_utc(until),
        enterprise_id=eid,
    )
    with state.engine.connect() as conn:
        found, total = core.audit.find(conn, f, offset=offset, limit=limit)
    response.headers["X-Total-Count"] = str(total)
    return [_entry_json(e) for e in found]


def _utc(at: datetime | None) -> datetime | None:
    """An ISO time as UTC (a time without an offset is taken as UTC)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _entry_json(e: core.audit.AuditEntry) -> dict[str, Any]:
    out = asdict(e)
    out["at"] = e.at.isoformat()
    return out
