"""通报处置 in the console: the notices (searched and paged, each with its progress), the
issue form (kind, severity, title, text; recipients chosen by USCC list, region, industry,
type, level or "vendor:product" lines; optional deadlines in hours) that calls
``Regulation.issue``, and one notice's page: its recipients paged with a state filter, the
overdue and escalated ones marked, and the issuer's verify form (close, or return with a
comment) on each reported disposal. A refused form shows its reason in the reader's language
and changes nothing."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, NotFound, User, access
from indunet.regulation.views import notices_page
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.regulation_pages import ETYPES, LEVELS, overseer, recipients_of, service
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
KINDS = ("vulnerability", "incident", "risk")
SEVERITIES = ("critical", "high", "medium", "low")
#: The issue form's fields, in the order the page asks for them.
FIELDS = (
    "kind",
    "severity",
    "title",
    "body",
    "uscc",
    "region",
    "industry",
    "etype",
    "level",
    "products",
    "sign_within_h",
    "dispose_within_h",
)
FORM_MAX = 200_000  # a field's bound before the service's tighter ones (10,000 USCCs)
MAX_LINES = 10_001


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.splitlines()[:MAX_LINES] if x.strip()]


def _hours(text: str, field: str) -> float | None:
    """Hours typed in the form as seconds (empty: the severity's default)."""
    text = text.strip()
    if not text:
        return None
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours):
        raise InvalidInput(
            f"{field} is a number of hours", reason="regulation_deadline", params={"field": field}
        )
    return hours * 3600.0


def selection_of(typed: dict[str, str]) -> dict[str, Any]:
    """The form's recipient criteria as ``Regulation.issue`` takes them (empty ones left out)."""
    sel: dict[str, Any] = {}
    if codes := _lines(typed["uscc"]):
        sel["uscc"] = [c.upper() for c in codes]
    for key in ("region", "industry", "etype"):
        if typed[key].strip():
            sel[key] = typed[key].strip()
    if typed["level"].strip():
        text = typed["level"].strip()
        sel["level"] = int(text) if text.isdigit() else text
    if pairs := _lines(typed["products"]):
        sel["products"] = [
            [v.strip(), p.strip()] if sep else ["", v.strip()]
            for v, sep, p in (line.partition(":") for line in pairs)
        ]
    return sel


@router.get("/regulation/notices")
def notices_list(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Notices, newest first, searched by title and paged, each with its progress."""
    overseer(user, "the notices")
    paging = paging_of(request)
    with service(state).engine.connect() as conn:
        rows, total = notices_page(conn, q=paging.q, offset=paging.offset, limit=paging.limit)
    return render(request, "regulation_notices.html", {"result": PageOf(rows, total, paging)})


def _form(
    request: Request, typed: dict[str, str], *, error: str = "", status: int = 200
) -> Response:
    ctx = {
        "typed": typed,
        "error": error,
        "kinds": KINDS,
        "severities": SEVERITIES,
        "etypes": ETYPES,
        "levels": LEVELS,
    }
    return render(request, "regulation_issue.html", ctx, status=status)


@router.get("/regulation/notices/new")
def issue_form(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The issue form (a region, type or level given in the address is filled in)."""
    overseer(user, "the issue form")
    typed = dict.fromkeys(FIELDS, "")
    typed |= {"kind": "vulnerability", "severity": "high"}
    for key in ("region", "etype", "level"):
        typed[key] = request.query_params.get(key, "")[:6]
    return _form(request, typed)


@router.post("/regulation/notices")
async def issue(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Issue the notice; its page, or the form again with the reason (nothing issued)."""
    form = await request.form()
    typed = {k: str(form.get(k, ""))[:FORM_MAX] for k in FIELDS}
    overseer(user, "issuing notices")
    try:
        fields = {
            "kind": typed["kind"],
            "severity": typed["severity"],
            "title": typed["title"],
            "body": typed["body"],
            "sign_within_s": _hours(typed["sign_within_h"], "sign_within_s"),
            "dispose_within_s": _hours(typed["dispose_within_h"], "dispose_within_s"),
        }
        sel = selection_of(typed)
        done = await run_in_threadpool(service(state).issue, user, fields, sel)
    except IndunetError as exc:
        return _form(request, typed, error=error_text(request, exc), status=exc.status)
    return RedirectResponse(f"/regulation/notices/{done['uid']}?done=issued", status_code=303)


def _page(
    request: Request,
    state: AppState,
    user: User,
    notice_id: str,
    *,
    status: int = 200,
    error: str = "",
    failed: str = "",
) -> Response:
    n = service(state).notice(user, notice_id[:32])  # another tenant's: 404 first
    overseer(user, "a notice's recipients")
    ctx = {
        "n": n,
        **recipients_of(request, state, notice=n["uid"]),
        "may_verify": access.sees_all(user),
        "error": error,
        "failed": failed,
        "done": request.query_params.get("done", ""),
    }
    return render(request, "regulation_notice.html", ctx, status=status)


@router.get("/regulation/notices/{notice_id}")
def notice_page(request: Request, state: StateDep, user: ConsoleUser, notice_id: str) -> Response:
    """One notice and its recipients (paged, state and overdue filters, search)."""
    return _page(request, state, user, notice_id)


@router.post("/regulation/notices/{notice_id}/recipients/{uscc}/verify")
def verify(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    notice_id: str,
    uscc: str,
    decision: Annotated[str, Form(max_length=20)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The issuer closes a reported disposal or returns it with a comment."""
    try:
        service(state).act(user, notice_id[:32], uscc[:18], "verify", text, None, decision)
    except NotFound:
        raise
    except IndunetError as exc:
        if not access.sees_all(user):
            raise
        return _page(
            request,
            state,
            user,
            notice_id,
            status=exc.status,
            error=error_text(request, exc),
            failed=uscc[:18],
        )
    return RedirectResponse(
        f"/regulation/notices/{notice_id[:32]}?done={decision}#r-{uscc[:18]}", status_code=303
    )
