"""Prefix governance over the API: applications for a prefix or a renewal and their review,
revocation and key rotation (``ids.applications``, ``ids.prefixes``, ``ids.terms``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from indunet import core
from indunet.core import InvalidInput, Role, access
from indunet.ids import applications, prefixes
from indunet.ids.applications import PrefixApplication
from indunet.ids.syntax import handle as hdl
from indunet.web.deps import MAX_DB_INT, BodyId, PathId, QueryId, StateDep, UserDep, require

router = APIRouter()
_LIKE_MAX = 100
_TEXT = applications.MAX_TEXT


class ApplicationIn(BaseModel):
    """An application for a prefix directly under this node's prefix."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prefix: str = Field(max_length=128, examples=["88.100.7"])
    purpose: str = Field(max_length=_TEXT, description="what the prefix is for (needed)")
    enterprise_id: BodyId | None = Field(
        default=None, description="platform admins: the enterprise applying (others: their own)"
    )


class RenewalIn(BaseModel):
    """An application to renew a prefix's term."""

    model_config = ConfigDict(extra="forbid", strict=True)

    purpose: str = Field(default="", max_length=_TEXT)


class ReviewIn(BaseModel):
    """The reviewer's reason (needed to reject, shown to the enterprise)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(default="", max_length=_TEXT)


class RevokeIn(BaseModel):
    """Why a prefix is revoked (needed; stored and audited)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(max_length=prefixes.MAX_REASON)


def _visible(state: StateDep, user: UserDep, application_id: int) -> PrefixApplication:
    app = applications.get_application(state.engine, application_id)
    access.check_see(user, app.enterprise_id, f"prefix application {application_id}")
    return app


def _allocation(state: StateDep, user: UserDep, prefix: str) -> prefixes.Allocation:
    if not prefix or len(prefix) > 128:
        raise core.NotFound("no such prefix", reason="prefix_not_found", params={"prefix": ""})
    found = prefixes.allocation_of(state.engine, hdl.normalise_prefix(prefix))
    access.check_see(user, found.enterprise_id, f"prefix {prefix}")
    return found


@router.get("/prefix-applications", tags=["prefixes"])
def list_applications(
    response: Response,
    state: StateDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=_LIKE_MAX)] = "",
    state_filter: Annotated[
        Literal["pending", "approved", "rejected"] | None, Query(alias="state")
    ] = None,
    kind: Literal["new", "renew"] | None = None,
    enterprise_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[dict[str, Any]]:
    """Applications, newest first: every enterprise's for platform admins and regulators,
    the caller's enterprise's for others. ``q`` searches prefix and purpose;
    ``X-Total-Count`` says how many match."""
    eid = access.scope(user, enterprise_id)
    text = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    found, total = applications.page_applications(
        state.engine,
        like=f"%{text}%" if text else None,
        state=state_filter,
        kind=kind,
        enterprise_id=eid,
        offset=offset,
        limit=limit,
    )
    response.headers["X-Total-Count"] = str(total)
    return [a.to_json() for a in found]


@router.post("/prefix-applications", tags=["prefixes"], status_code=201)
def apply(body: ApplicationIn, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Apply for a prefix for a verified enterprise (its admins; platform admins name the
    enterprise); it is allocated when a platform admin approves."""
    eid = access.change_scope(user, body.enterprise_id, "apply for prefixes")
    if eid is None:
        raise InvalidInput(
            "name the enterprise applying (enterprise_id)", reason="prefix_application_enterprise"
        )
    with state.engine.connect() as conn:
        ent = core.get_enterprise_by_id(conn, eid)
    made = applications.apply(
        state.hierarchy.front, ent, body.prefix, body.purpose, actor=user.actor
    )
    return made.to_json()


@router.get("/prefix-applications/{application_id}", tags=["prefixes"])
def get_application(application_id: PathId, state: StateDep, user: UserDep) -> dict[str, Any]:
    """One application with its review."""
    return _visible(state, user, application_id).to_json()


@router.post("/prefix-applications/{application_id}/approve", tags=["prefixes"])
def approve(
    application_id: PathId, body: ReviewIn, state: StateDep, user: UserDep
) -> dict[str, Any]:
    """Approve (platform admins): a prefix is allocated for one term, a renewal extends the
    term. The prefix's key is not shown here: the enterprise rotates it to take its own."""
    _visible(state, user, application_id)  # another enterprise's looks missing
    require(user, Role.PLATFORM_ADMIN)
    return applications.review(
        state.hierarchy.nodes,
        application_id,
        approve=True,
        reason=body.reason,
        actor=user.actor,
        term_days=state.settings.prefix_term_days,
    ).to_json()


@router.post("/prefix-applications/{application_id}/reject", tags=["prefixes"])
def reject(
    application_id: PathId, body: ReviewIn, state: StateDep, user: UserDep
) -> dict[str, Any]:
    """Reject (platform admins) with a reason the enterprise reads."""
    _visible(state, user, application_id)  # another enterprise's looks missing
    require(user, Role.PLATFORM_ADMIN)
    return applications.review(
        state.hierarchy.nodes,
        application_id,
        approve=False,
        reason=body.reason,
        actor=user.actor,
        term_days=state.settings.prefix_term_days,
    ).to_json()


@router.post("/prefixes/{prefix}/renewals", tags=["prefixes"], status_code=201)
def apply_renewal(prefix: str, body: RenewalIn, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Apply to renew a prefix's term (the holding enterprise's admins)."""
    found = _allocation(state, user, prefix)
    access.check_change(user, found.enterprise_id, f"prefix {prefix}")
    if found.enterprise_id is None:
        raise core.Conflict(
            f"prefix {found.prefix} belongs to no enterprise",
            reason="prefix_no_term",
            params={"prefix": found.prefix},
        )
    with state.engine.connect() as conn:
        ent = core.get_enterprise_by_id(conn, found.enterprise_id)
    return applications.apply_renewal(
        state.engine, ent, found.prefix, body.purpose, actor=user.actor
    ).to_json()


@router.post("/prefixes/{prefix}/revoke", tags=["prefixes"])
def revoke(prefix: str, body: RevokeIn, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Revoke a prefix (platform admins): it no longer resolves or refers, its key stops
    working; the reason is stored and audited."""
    found = _allocation(state, user, prefix)
    require(user, Role.PLATFORM_ADMIN)
    done = prefixes.revoke(
        state.hierarchy.nodes, found.prefix, reason=body.reason, actor=user.actor
    )
    return {
        "prefix": done.prefix,
        "revoked_at": done.revoked_at.isoformat() if done.revoked_at else None,
    }


@router.post("/prefixes/{prefix}/rotate-key", tags=["prefixes"])
def rotate_key(prefix: str, state: StateDep, user: UserDep, response: Response) -> dict[str, str]:
    """A new secret key for the prefix's admin (platform admins, or the holding enterprise's
    admins), shown in this answer only; the old key stops working at once."""
    found = _allocation(state, user, prefix)
    access.check_change(user, found.enterprise_id, f"prefix {prefix}")
    secret = prefixes.rotate_key(state.hierarchy.nodes, found.prefix, actor=user.actor)
    response.headers["Cache-Control"] = "no-store"
    return {"prefix": found.prefix, "username": found.username, "secret": secret}
