"""The federation page: this instance's identity, its parent, and its children with when
each was last heard from, the version it runs and what waits for it (server-paged and
searchable); the latest alert summaries the children relayed up (read-only, each with the
instance it came from and its age; the whole list is ``GET /api/v1/federation/alerts``);
platform administrators issue enrolment tokens here (shown once).

The federation is the installation's, no enterprise's: platform admins and regulators see
it; everyone else reads a line saying so.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.core import Role, access
from indunet.federation import LEVELS, Federation, Refused, enrolment, handle_of
from indunet.federation import alerts as relayed
from indunet.web.console.fleet import seen_ago
from indunet.web.console.pages import render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
CHILD_LEVELS = tuple(level for level in LEVELS if level != "national")
LATEST_ALERTS = 10
"""Relayed alert summaries shown on the page (the API pages through all of them)."""


def _federation(state: AppState) -> Federation | None:
    svc = state.services.get("federation")
    return svc if isinstance(svc, Federation) else None


def _page(request: Request, state: AppState, user: Any, extra: dict[str, Any]) -> Response:
    if not access.sees_all(user):
        return render(request, "federation.html", {"operator": False})
    fed = _federation(state)
    if fed is None:
        return render(request, "federation.html", {"operator": True, "running": False})
    view = fed.overview()
    paging = paging_of(request)
    rows, total = fed.children_page(paging.q, paging.offset, paging.size)
    latest, relayed_total = relayed.page(fed.engine, limit=LATEST_ALERTS)
    me = view["identity"]
    parent = next((p for p in view["peers"] if p["role"] == "parent"), None)
    return render(
        request,
        "federation.html",
        {
            "operator": True,
            "running": True,
            "me": me,
            "handle": handle_of(me["name"]) if me else None,
            "parent": parent,
            "result": PageOf(rows, total, paging),
            "levels": CHILD_LEVELS,
            "admin": user.role == Role.PLATFORM_ADMIN,
            "relayed": latest,
            "relayed_total": relayed_total,
            "seen_ago": seen_ago,
            **extra,
        },
    )


@router.get("/federation")
def federation_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    return _page(request, state, user, {})


@router.post("/federation/tokens")
async def issue_token(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """A one-time enrolment token, shown once on the page (platform admins)."""
    form = await request.form()
    if user.role != Role.PLATFORM_ADMIN or _federation(state) is None:
        return _page(request, state, user, {"token_error": "error.federation_admin_only"})
    level, note = str(form.get("level", "")), str(form.get("note", ""))[:200]
    try:
        token = enrolment.issue_token(state.engine, level, note)
    except Refused as exc:
        return _page(request, state, user, {"token_error": f"error.{exc.reason}"})
    return _page(request, state, user, {"token": token, "token_level": level})
