"""Prefix pages: allocated enterprise prefixes, and allocating one (its key is shown once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from indunet import core, ids
from indunet.core import IndunetError, Role, User, access
from indunet.ids import Allocation
from indunet.web.console.enterprises import visible_enterprises
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep, require
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)


def visible_allocations(state: AppState, user: User) -> list[Allocation]:
    """Every allocation for platform admins and regulators, otherwise the user's enterprise's."""
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


def _context(state: AppState, user: User, **extra: object) -> dict[str, object]:
    enterprises = visible_enterprises(state, user)
    ctx: dict[str, object] = {
        "allocations": visible_allocations(state, user),
        "names": {e.id: e.name for e in enterprises},
        "candidates": [e for e in enterprises if e.verified],
        "may_allocate": user.role == Role.PLATFORM_ADMIN,
        "parent": state.hierarchy.front.prefix or "",
        "typed": {"prefix": "", "uscc": ""},
    }
    ctx.update(extra)
    return ctx


@router.get("/ids/prefixes")
def prefixes_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Allocated prefixes and, for platform admins, the allocation form."""
    return render(request, "prefixes.html", _context(state, user))


@router.post("/ids/prefixes")
def allocate_prefix(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    prefix: Annotated[str, Form()] = "",
    uscc: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
) -> Response:
    """Allocate; the username and a generated key appear on this page only, once."""
    try:
        made = allocate(state, user, prefix, uscc, secret)
    except IndunetError as exc:
        typed = {"prefix": prefix, "uscc": uscc}
        ctx = _context(state, user, typed=typed, error=error_text(request, exc))
        return render(request, "prefixes.html", ctx, status=exc.status)
    response = render(request, "prefixes.html", _context(state, user, made=made))
    response.headers["Cache-Control"] = "no-store"
    return response
