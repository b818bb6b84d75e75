"""Enterprise pages: the registered enterprises (with real-name data) and adding one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from indunet import core
from indunet.core import Enterprise, IndunetError, Role, User, access
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep, require
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
FIELDS = ("uscc", "name", "legal_representative", "contact", "industry_code", "region")


def visible_enterprises(state: AppState, user: User) -> list[Enterprise]:
    """All enterprises for platform admins and regulators, otherwise the user's own."""
    with state.engine.connect() as conn:
        ents = core.list_enterprises(conn)
    return [e for e in ents if access.can_see(user, e.id)]


def add_enterprise(state: AppState, user: User, fields: dict[str, str]) -> Enterprise:
    """A platform admin registers an enterprise; it counts as verified at once."""
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.begin() as conn:
        return core.create_enterprise(conn, **fields, actor=user.actor, verified=True)


def _context(state: AppState, user: User, **extra: object) -> dict[str, object]:
    ctx: dict[str, object] = {
        "enterprises": visible_enterprises(state, user),
        "may_add": user.role == Role.PLATFORM_ADMIN,
        "fields": FIELDS,
        "typed": dict.fromkeys(FIELDS, ""),
    }
    ctx.update(extra)
    return ctx


@router.get("/ids/enterprises")
def enterprises_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The enterprise list and, for platform admins, the form to add one."""
    return render(request, "enterprises.html", _context(state, user))


@router.post("/ids/enterprises")
def create_enterprise(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    uscc: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    legal_representative: Annotated[str, Form()] = "",
    contact: Annotated[str, Form()] = "",
    industry_code: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
) -> Response:
    """Add an enterprise; a bad USCC or a duplicate is shown and nothing is written."""
    typed = dict(
        zip(FIELDS, (uscc, name, legal_representative, contact, industry_code, region), strict=True)
    )
    try:
        created = add_enterprise(state, user, typed)
    except IndunetError as exc:
        ctx = _context(state, user, typed=typed, error=error_text(request, exc))
        return render(request, "enterprises.html", ctx, status=exc.status)
    return render(request, "enterprises.html", _context(state, user, created=created))
