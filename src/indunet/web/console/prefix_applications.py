"""Prefix application pages: the list (searched, filtered and paged on the server), an
enterprise admin's application form, one application with the operator's review, and the
renewal asked from a prefix's page (``web.console.prefixes``; ``ids.applications``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet import core
from indunet.core import IndunetError, NotFound, Role, User, access
from indunet.core import enterprises as core_enterprises
from indunet.ids import applications
from indunet.ids.applications import PrefixApplication
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import MAX_DB_INT, StateDep, require
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
FORM_MAX = 4000


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)


def _applicant(state: AppState, user: User) -> core.Enterprise | None:
    """The enterprise ``user`` may apply for (its admins', once verified), or ``None``."""
    if user.role is not Role.ENTERPRISE_ADMIN or user.enterprise_id is None:
        return None
    with state.engine.connect() as conn:
        return core.get_enterprise_by_id(conn, user.enterprise_id)


def _context(request: Request, state: AppState, user: User, **extra: Any) -> dict[str, Any]:
    paging = paging_of(request, sorts=applications.SORTS, default_sort="id", default_desc=True)
    wanted = request.query_params.get("state", "")
    kind = request.query_params.get("kind", "")
    eid = access.scope(user) if user.enterprise_id is not None or access.sees_all(user) else -1
    items, total = applications.page_applications(
        state.engine,
        like=paging.like if paging.q else None,
        state=wanted if wanted in applications.STATES else None,
        kind=kind if kind in applications.KINDS else None,
        enterprise_id=eid,
        sort=paging.sort,
        desc=paging.desc,
        offset=paging.offset,
        limit=paging.limit,
    )
    with state.engine.connect() as conn:
        names = core_enterprises.names_of(conn, [a.enterprise_id for a in items])
    ctx: dict[str, Any] = {
        "result": PageOf(items, total, paging),
        "states": applications.STATES,
        "kinds": applications.KINDS,
        "state_filter": wanted,
        "kind_filter": kind,
        "names": names,
        "applicant": _applicant(state, user),
        "parent": state.hierarchy.front.prefix or "",
        "typed": {"prefix": "", "purpose": ""},
        "max_text": applications.MAX_TEXT,
    }
    ctx.update(extra)
    return ctx


@router.get("/ids/prefix-applications")
def applications_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Applications (every enterprise's for overseers, one's own otherwise) and the form."""
    return render(request, "prefix_applications.html", _context(request, state, user))


@router.post("/ids/prefix-applications")
def apply(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    prefix: Annotated[str, Form(max_length=200)] = "",
    purpose: Annotated[str, Form(max_length=FORM_MAX)] = "",
) -> Response:
    """Apply; the new application's page, or the form again with the reason."""
    try:
        ent = _applicant(state, user)
        if ent is None:
            raise core.PermissionDenied(
                f"{user.username} may not apply for prefixes; an enterprise's admin applies"
            )
        made = applications.apply(state.hierarchy.front, ent, prefix, purpose, actor=user.actor)
    except IndunetError as exc:
        typed = {"prefix": prefix, "purpose": purpose}
        ctx = _context(request, state, user, typed=typed, error=error_text(request, exc))
        return render(request, "prefix_applications.html", ctx, status=exc.status)
    return RedirectResponse(f"/ids/prefix-applications/{made.id}?done=applied", status_code=303)


def _visible(state: AppState, user: User, raw: str) -> PrefixApplication:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_DB_INT:
        raise NotFound("no such application")
    app = applications.get_application(state.engine, int(raw))
    access.check_see(user, app.enterprise_id, f"prefix application {raw}")
    return app


def _detail(
    request: Request, state: AppState, user: User, app: PrefixApplication, **extra: Any
) -> Response:
    with state.engine.connect() as conn:
        ent = core.get_enterprise_by_id(conn, app.enterprise_id)
    ctx: dict[str, Any] = {
        "a": app,
        "enterprise": ent,
        "may_review": user.role == Role.PLATFORM_ADMIN and app.state == applications.PENDING,
        "done": request.query_params.get("done", ""),
        "term_days": state.settings.prefix_term_days,
    }
    ctx.update(extra)
    status = int(ctx.pop("status", 200))
    return render(request, "prefix_application.html", ctx, status=status)


@router.get("/ids/prefix-applications/{application_id}")
def application_page(
    request: Request, state: StateDep, user: ConsoleUser, application_id: str
) -> Response:
    """One application: who applied for what and why, and its review."""
    try:
        return _detail(request, state, user, _visible(state, user, application_id))
    except NotFound:
        return _missing(request)


@router.post("/ids/prefix-applications/{application_id}")
def review(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    application_id: str,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=FORM_MAX)] = "",
) -> Response:
    """Approve or reject (platform admins; a rejection needs a reason)."""
    try:
        app = _visible(state, user, application_id)
    except NotFound:
        return _missing(request)
    try:
        require(user, Role.PLATFORM_ADMIN)
        if decision not in ("approve", "reject"):
            raise core.InvalidInput(
                "the decision is approve or reject", reason="review_decision_unknown"
            )
        applications.review(
            state.hierarchy.nodes,
            app.id,
            approve=decision == "approve",
            reason=reason,
            actor=user.actor,
            term_days=state.settings.prefix_term_days,
        )
    except IndunetError as exc:
        return _detail(
            request,
            state,
            user,
            applications.get_application(state.engine, app.id),
            error=error_text(request, exc),
            typed_reason=reason,
            status=exc.status,
        )
    return RedirectResponse(f"/ids/prefix-applications/{app.id}?done={decision}", status_code=303)
