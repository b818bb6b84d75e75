"""Enterprise pages: the registered enterprises (search, review filter, paging), adding one, an
enterprise's detail page and the real-name review (approve, or reject with a reason)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet import core
from indunet.core import Enterprise, IndunetError, NotFound, Role, User, access, documents
from indunet.core import accounts as core_accounts
from indunet.core import enterprises as core_enterprises
from indunet.ids import Allocation
from indunet.ids import prefixes as ids_prefixes
from indunet.web.api.enterprise_review import licence_response
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import MAX_DB_INT, StateDep, require
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
FIELDS = ("uscc", "name", "legal_representative", "contact", "industry_code", "region")
STATES = core_enterprises.REVIEW_STATES


def visible_enterprises(state: AppState, user: User) -> list[Enterprise]:
    """All enterprises for platform admins and regulators, otherwise the user's own."""
    with state.engine.connect() as conn:
        ents = core.list_enterprises(conn)
    return [e for e in ents if access.can_see(user, e.id)]


def add_enterprise(state: AppState, user: User, fields: dict[str, str]) -> Enterprise:
    """A platform admin registers an enterprise; it counts as verified at once."""
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.begin() as conn:
        return core.create_enterprise(
            conn,
            uscc=fields["uscc"],
            name=fields["name"],
            legal_representative=fields["legal_representative"],
            contact=fields["contact"],
            industry_code=fields["industry_code"],
            region=fields["region"],
            actor=user.actor,
            verified=True,
        )


def enterprise_id_of(text: str) -> int:
    """A path's enterprise id, or ``NotFound`` for anything that is not one."""
    if not text.isdigit() or not 0 < int(text) <= MAX_DB_INT:
        raise NotFound(f"no enterprise {text[:40]}")
    return int(text)


def visible_enterprise(state: AppState, user: User, enterprise_id: int) -> Enterprise:
    """The enterprise ``user`` may see, or ``NotFound`` (another tenant's looks missing)."""
    access.check_see(user, enterprise_id, f"enterprise {enterprise_id}")
    with state.engine.connect() as conn:
        return core.get_enterprise_by_id(conn, enterprise_id)


@dataclass(frozen=True, slots=True)
class Detail:
    """What an enterprise's page shows besides its real-name data."""

    enterprise: Enterprise
    prefixes: list[Allocation]
    prefix_total: int
    users: int
    devices: int | None  # None: this process runs no device registry


def detail_of(state: AppState, user: User, enterprise_id: int) -> Detail:
    """An enterprise with its prefixes and how many users and devices it has."""
    ent = visible_enterprise(state, user, enterprise_id)
    allocations, total = ids_prefixes.page_allocations(
        state.engine, enterprise_id=ent.id, limit=100
    )
    with state.engine.connect() as conn:
        _, users = core_accounts.find_accounts(
            conn, user, core_accounts.UserQuery(enterprise_id=ent.id), limit=1
        )
    platform = state.platform
    devices = (
        None
        if platform is None
        else sum(1 for d in platform.devices.in_memory() if d.enterprise_id == ent.id)
    )
    return Detail(ent, allocations, total, users, devices)


def review(state: AppState, user: User, enterprise_id: int, approve: bool, reason: str) -> None:
    """A platform admin approves or rejects an enterprise's real-name data."""
    access.check_see(user, enterprise_id, f"enterprise {enterprise_id}")
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.begin() as conn:
        core_enterprises.review(
            conn, enterprise_id, approve=approve, reason=reason, actor=user.actor
        )


def _list(request: Request, state: AppState, user: User) -> PageOf[Enterprise]:
    paging = paging_of(request, sorts=core_enterprises.SORTS, default_sort="name")
    wanted = request.query_params.get("state", "")
    with state.engine.connect() as conn:
        items, total = core_enterprises.page_enterprises(
            conn,
            like=paging.like if paging.q else None,
            review_state=wanted if wanted in STATES else None,
            enterprise_id=None if access.sees_all(user) else (user.enterprise_id or -1),
            sort=paging.sort,
            desc=paging.desc,
            offset=paging.offset,
            limit=paging.limit,
        )
    return PageOf(items, total, paging)


def _context(request: Request, state: AppState, user: User, **extra: object) -> dict[str, object]:
    ctx: dict[str, object] = {
        "result": _list(request, state, user),
        "states": STATES,
        "state_filter": request.query_params.get("state", ""),
        "may_add": user.role == Role.PLATFORM_ADMIN,
        "fields": FIELDS,
        "typed": dict.fromkeys(FIELDS, ""),
    }
    ctx.update(extra)
    return ctx


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)


@router.get("/ids/enterprises")
def enterprises_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The enterprise list (search, review filter, paging) and, for platform admins, the
    form to add one."""
    return render(request, "enterprises.html", _context(request, state, user))


@router.post("/ids/enterprises")
def create_enterprise(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    uscc: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    legal_representative: Annotated[str, Form(max_length=1000)] = "",
    contact: Annotated[str, Form(max_length=1000)] = "",
    industry_code: Annotated[str, Form(max_length=1000)] = "",
    region: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Add an enterprise; a bad USCC or a duplicate is shown and nothing is written."""
    typed = dict(
        zip(FIELDS, (uscc, name, legal_representative, contact, industry_code, region), strict=True)
    )
    try:
        created = add_enterprise(state, user, typed)
    except IndunetError as exc:
        ctx = _context(request, state, user, typed=typed, error=error_text(request, exc))
        return render(request, "enterprises.html", ctx, status=exc.status)
    return render(request, "enterprises.html", _context(request, state, user, created=created))


@router.get("/ids/enterprises/{enterprise_id}")
def enterprise_page(
    request: Request, state: StateDep, user: ConsoleUser, enterprise_id: str
) -> Response:
    """One enterprise: real-name data, review, prefixes, users and devices."""
    try:
        detail = detail_of(state, user, enterprise_id_of(enterprise_id))
    except NotFound:
        return _missing(request)
    ctx = {
        "d": detail,
        "may_review": user.role == Role.PLATFORM_ADMIN,
        "done": request.query_params.get("done", ""),
        "fields": FIELDS,
        **documents_of(state, user, detail.enterprise.id),
    }
    return render(request, "enterprise.html", ctx)


def documents_of(state: AppState, user: User, enterprise_id: int) -> dict[str, Any]:
    """The review documents the page shows: what is kept of the licence, and whether this
    user may open it (its reviewers and the enterprise's admins; ``core.documents``)."""
    with state.engine.connect() as conn:
        licence = documents.info(conn, enterprise_id)
    return {"licence": licence, "may_read_licence": access.can_change(user, enterprise_id)}


@router.get("/ids/enterprises/{enterprise_id}/licence")
def licence_file(
    request: Request, state: StateDep, user: ConsoleUser, enterprise_id: str
) -> Response:
    """The business licence, to platform admins and the enterprise's admins only."""
    try:
        eid = enterprise_id_of(enterprise_id)
        access.check_change(user, eid, f"enterprise {eid}")
        return licence_response(state, eid)
    except NotFound:
        return _missing(request)


@router.post("/ids/enterprises/{enterprise_id}/review")
def review_enterprise(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    enterprise_id: str,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve or reject (a rejection needs a reason); the page shows the outcome."""
    try:
        eid = enterprise_id_of(enterprise_id)
        if decision not in ("approve", "reject"):
            raise core.InvalidInput(
                "the decision is approve or reject", reason="review_decision_unknown"
            )
        review(state, user, eid, decision == "approve", reason)
    except NotFound:
        return _missing(request)
    except IndunetError as exc:
        detail = detail_of(state, user, eid)
        ctx = {
            "d": detail,
            "may_review": user.role == Role.PLATFORM_ADMIN,
            "error": error_text(request, exc),
            "typed_reason": reason,
            "fields": FIELDS,
            **documents_of(state, user, eid),
        }
        return render(request, "enterprise.html", ctx, status=exc.status)
    return RedirectResponse(f"/ids/enterprises/{eid}?done={decision}", status_code=303)
