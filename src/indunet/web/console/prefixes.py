"""Prefix pages: allocated prefixes (search, filters, paging) and allocating one (its key is
shown once); a prefix's detail page with its HS_ADMIN and HS_SITE values read plainly,
revocation (platform admins, with a reason) and key rotation (the new key shown once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet import core, ids
from indunet.core import IndunetError, NotFound, Role, User, access
from indunet.core import enterprises as core_enterprises
from indunet.ids import Allocation, HandleValue, Perm, applications
from indunet.ids import prefixes as ids_prefixes
from indunet.ids.admin import right_names
from indunet.ids.syntax import handle as hdl
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep, require
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
STATES = (ids_prefixes.ACTIVE, ids_prefixes.REVOKED)
#: Verified enterprises offered in the allocation form's list (the newest); with more, the
#: form takes a typed USCC.
CANDIDATES = 200


def visible_allocations(state: AppState, user: User) -> list[Allocation]:
    """Every allocation in service for platform admins and regulators, otherwise the user's
    enterprise's."""
    if access.sees_all(user):
        return ids.list_allocations(state.engine)
    if user.enterprise_id is None:
        return []
    return ids.list_allocations(state.engine, enterprise_id=access.scope(user))


def allocate(state: AppState, user: User, prefix: str, uscc: str, secret: str) -> Allocation:
    """A platform admin gives a verified enterprise a prefix under the front node's prefix."""
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.connect() as conn:
        enterprise = core.get_enterprise(conn, uscc)
    return ids.allocate(
        state.hierarchy.front, prefix.strip(), enterprise, actor=user.actor, secret=secret or None
    )


@dataclass(frozen=True, slots=True)
class AdminView:
    """An HS_ADMIN value as a reader wants it: who, and which rights by name."""

    index: int
    who: str
    rights: list[str]
    all_rights: bool


def admin_view(v: HandleValue) -> AdminView:
    """Read an HS_ADMIN value: ``index:handle`` and the names of the rights it grants."""
    data: dict[str, Any] = v.value if isinstance(v.value, dict) else {}
    rights = right_names(str(data.get("permissions", "")))
    return AdminView(
        v.index,
        f"{data.get('index', '')}:{data.get('handle', '')}",
        rights,
        len(rights) == len(Perm),
    )


def visible_prefix(state: AppState, user: User, prefix: str) -> Allocation:
    """The allocation ``user`` may see, or ``NotFound`` (another tenant's looks missing)."""
    if not prefix or len(prefix) > 128:
        raise NotFound("no such prefix")
    allocation = ids_prefixes.allocation_of(state.engine, prefix)
    access.check_see(user, allocation.enterprise_id, f"prefix {prefix}")
    return allocation


def revoke(state: AppState, user: User, prefix: str, reason: str, confirm: str) -> Allocation:
    """A platform admin revokes a prefix; ``confirm`` must repeat the prefix."""
    allocation = visible_prefix(state, user, prefix)
    require(user, Role.PLATFORM_ADMIN)
    if confirm.strip() != allocation.prefix:
        raise core.InvalidInput(
            "type the prefix to confirm its revocation",
            reason="revoke_confirm",
            params={"prefix": allocation.prefix},
        )
    return ids_prefixes.revoke(
        state.hierarchy.nodes, allocation.prefix, reason=reason, actor=user.actor
    )


def rotate(state: AppState, user: User, prefix: str) -> str:
    """A new admin key for a prefix (platform admins, or the enterprise's admins)."""
    allocation = visible_prefix(state, user, prefix)
    access.check_change(user, allocation.enterprise_id, f"prefix {prefix}")
    return ids_prefixes.rotate_key(state.hierarchy.nodes, allocation.prefix, actor=user.actor)


def _list(request: Request, state: AppState, user: User) -> PageOf[Allocation]:
    paging = paging_of(request, sorts=ids_prefixes.SORTS, default_sort="prefix")
    wanted = request.query_params.get("state", "")
    asked = request.query_params.get("enterprise", "")
    try:
        eid = access.scope(user, int(asked) if asked.isdigit() and len(asked) < 19 else None)
    except IndunetError:
        eid = -1  # another enterprise, or none: nothing to show
    items, total = ids_prefixes.page_allocations(
        state.engine,
        like=paging.like if paging.q else None,
        enterprise_id=eid,
        state=wanted if wanted in STATES else None,
        sort=paging.sort,
        desc=paging.desc,
        offset=paging.offset,
        limit=paging.limit,
    )
    return PageOf(items, total, paging)


def _context(request: Request, state: AppState, user: User, **extra: object) -> dict[str, object]:
    result = _list(request, state, user)
    may_allocate = user.role == Role.PLATFORM_ADMIN
    asked = request.query_params.get("enterprise", "")
    with state.engine.connect() as conn:
        names = core_enterprises.names_of(
            conn,
            [a.enterprise_id for a in result.items]
            + ([int(asked)] if asked.isdigit() and len(asked) < 19 else []),
        )
        candidates, more = (
            core_enterprises.page_enterprises(
                conn,
                review_state=core_enterprises.APPROVED,
                sort="name",
                limit=CANDIDATES,
            )
            if may_allocate
            else ([], 0)
        )
        # one enterprise's list (its detail page's "allocate" link) pre-selects it to allocate
        chosen = None
        if may_allocate and asked.isdigit() and len(asked) < 19:
            found, _ = core_enterprises.page_enterprises(
                conn, enterprise_id=int(asked), review_state=core_enterprises.APPROVED
            )
            chosen = found[0] if found else None
        if chosen is not None and all(c.id != chosen.id for c in candidates):
            candidates = [chosen, *candidates]
    ctx: dict[str, object] = {
        "result": result,
        "states": STATES,
        "state_filter": request.query_params.get("state", ""),
        "names": names,
        "enterprise_filter": names.get(int(asked)) if asked.isdigit() and len(asked) < 19 else None,
        "candidates": candidates,
        "more_candidates": more > len(candidates),
        "may_allocate": may_allocate,
        "parent": state.hierarchy.front.prefix or "",
        "typed": {"prefix": "", "uscc": chosen.uscc if chosen is not None else ""},
    }
    ctx.update(extra)
    return ctx


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)


@router.get("/ids/prefixes")
def prefixes_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Allocated prefixes and, for platform admins, the allocation form."""
    return render(request, "prefixes.html", _context(request, state, user))


@router.post("/ids/prefixes")
def allocate_prefix(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    prefix: Annotated[str, Form(max_length=200)] = "",
    uscc: Annotated[str, Form(max_length=100)] = "",
    secret: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Allocate; the username and a generated key appear on this page only, once."""
    try:
        made = allocate(state, user, prefix, uscc, secret)
    except IndunetError as exc:
        typed = {"prefix": prefix, "uscc": uscc}
        ctx = _context(request, state, user, typed=typed, error=error_text(request, exc))
        return render(request, "prefixes.html", ctx, status=exc.status)
    response = render(request, "prefixes.html", _context(request, state, user, made=made))
    response.headers["Cache-Control"] = "no-store"
    return response


def _detail(
    request: Request, state: AppState, user: User, prefix: str, *, status: int = 200, **extra: Any
) -> Response:
    allocation = visible_prefix(state, user, prefix)
    detail = ids_prefixes.prefix_detail(state.hierarchy.nodes, state.engine, allocation.prefix)
    with state.engine.connect() as conn:
        ent = (
            core.get_enterprise_by_id(conn, allocation.enterprise_id)
            if allocation.enterprise_id is not None
            else None
        )
    ctx: dict[str, Any] = {
        "d": detail,
        "a": allocation,
        "enterprise": ent,
        "admins": [admin_view(v) for v in detail.admins],
        "sites": [v.value for v in detail.sites if isinstance(v.value, dict)],
        "username": ids.admin_username(allocation.prefix),
        "may_revoke": user.role == Role.PLATFORM_ADMIN and allocation.revoked_at is None,
        "may_rotate": access.can_change(user, allocation.enterprise_id)
        and allocation.revoked_at is None,
        "may_renew": allocation.expires_at is not None
        and allocation.revoked_at is None
        and allocation.enterprise_id is not None
        and access.can_change(user, allocation.enterprise_id),
        "done": request.query_params.get("done", ""),
    }
    ctx.update(extra)
    response = render(request, "prefix.html", ctx, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/ids/prefixes/{prefix}")
def prefix_page(request: Request, state: StateDep, user: ConsoleUser, prefix: str) -> Response:
    """One prefix: its enterprise, admins and sites read plainly, how many identifiers."""
    try:
        return _detail(request, state, user, hdl.normalise_prefix(prefix))
    except NotFound:
        return _missing(request)


@router.post("/ids/prefixes/{prefix}/revoke")
def revoke_prefix(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    prefix: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Revoke after the prefix is typed again; a refusal is shown on the page."""
    norm = hdl.normalise_prefix(prefix)
    try:
        revoke(state, user, norm, reason, confirm)
    except NotFound:
        return _missing(request)
    except IndunetError as exc:
        return _detail(
            request,
            state,
            user,
            norm,
            status=exc.status,
            revoke_error=error_text(request, exc),
            typed_reason=reason,
        )
    return RedirectResponse(f"/ids/prefixes/{norm}?done=revoked", status_code=303)


@router.post("/ids/prefixes/{prefix}/rotate")
def rotate_prefix_key(
    request: Request, state: StateDep, user: ConsoleUser, prefix: str
) -> Response:
    """Rotate the admin key; the new secret is on this answer only (never stored in clear)."""
    norm = hdl.normalise_prefix(prefix)
    try:
        secret = rotate(state, user, norm)
    except NotFound:
        return _missing(request)
    except IndunetError as exc:
        return _detail(
            request, state, user, norm, status=exc.status, rotate_error=error_text(request, exc)
        )
    return _detail(request, state, user, norm, new_secret=secret)


@router.post("/ids/prefixes/{prefix}/renew")
def renew_prefix(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    prefix: str,
    purpose: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Apply to renew the prefix's term (its enterprise's admins); the application's page,
    or this page with the reason."""
    norm = hdl.normalise_prefix(prefix)
    try:
        allocation = visible_prefix(state, user, norm)
        access.check_change(user, allocation.enterprise_id, f"prefix {norm}")
        if allocation.enterprise_id is None:
            raise NotFound(f"no prefix {norm}")
        with state.engine.connect() as conn:
            ent = core.get_enterprise_by_id(conn, allocation.enterprise_id)
        made = applications.apply_renewal(state.engine, ent, norm, purpose, actor=user.actor)
    except NotFound:
        return _missing(request)
    except IndunetError as exc:
        return _detail(
            request, state, user, norm, status=exc.status, renew_error=error_text(request, exc)
        )
    return RedirectResponse(f"/ids/prefix-applications/{made.id}?done=applied", status_code=303)
