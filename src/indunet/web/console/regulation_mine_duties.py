"""What a graded enterprise owes and is told: its obligations (protection items, conformity
evaluations, risk assessments, rectifications; open, overdue or all, paged; completed by its
admins with a note and evidence, an evaluation's findings becoming rectification items) at
``/regulation/mine/{uscc}/obligations``, and the notices sent to it (searched and paged, each
with its deadlines, the sign button, the report form and the issuer's verdicts) at
``/regulation/mine/{uscc}/notices``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, NotFound, User
from indunet.regulation import Regulation, grading
from indunet.regulation import notices as reg_notices
from indunet.regulation.views import notices_page
from indunet.web.console.i18n import locale_of
from indunet.web.console.pages import render
from indunet.web.console.paging import PageOf, Paging, paging_of
from indunet.web.console.regulation_mine_kit import (
    BASE,
    FORM_FIELDS,
    MAX_EVIDENCE_MIB,
    MAX_FINDINGS_TEXT,
    Reader,
    files,
    label,
    reader,
    refusal,
    service,
    text,
    upload,
)
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
SHOWS = ("open", "overdue", "all")
"""The obligation list's filters."""
NEEDS_EVIDENCE = ("evaluation", "rectification")
"""Obligations the service completes only with an evidence file."""


def overdue_count(rows: list[dict[str, Any]], now: float | None = None) -> int:
    """How many of the (open) obligations ``rows`` are past their due time."""
    now = time.time() if now is None else now
    return sum(1 for r in rows if r["done"] is None and r["due"] < now)


# -- obligations ------------------------------------------------------------------------------


def _obligations_context(
    request: Request, state: AppState, user: User, uscc: str
) -> dict[str, Any]:
    svc = service(state)
    me, _ = reader(svc, user, uscc)
    show = request.query_params.get("show", "open")
    show = show if show in SHOWS else "open"
    paging = paging_of(request)
    rows, total = svc.obligations(
        user,
        paging.offset,
        paging.limit,
        uscc=me.uscc,
        overdue=show == "overdue",
        open_only=show == "open",
    )
    now = time.time()
    for r in rows:
        r["overdue"] = r["done"] is None and r["due"] < now
        r["files"] = files(svc, list(r["data"].get("evidence") or []))
        r["title"] = label(r["data"].get("title"), locale_of(request))
    return {
        "me": me,
        "show": show,
        "shows": SHOWS,
        "result": PageOf(rows, total, paging),
        "needs_evidence": NEEDS_EVIDENCE,
        "max_mib": MAX_EVIDENCE_MIB,
    }


@router.get(f"{BASE}/{{uscc}}/obligations")
def obligations_page(request: Request, state: StateDep, user: ConsoleUser, uscc: str) -> Response:
    """The enterprise's obligations, due first; open, overdue or all; paged."""
    ctx = _obligations_context(request, state, user, uscc)
    return render(request, "regulation_mine_obligations.html", ctx)


@router.post(f"{BASE}/obligations/{{obligation_id}}/complete")
async def complete_obligation(
    request: Request, state: StateDep, user: ConsoleUser, obligation_id: str
) -> Response:
    """Complete an obligation with a note and an evidence file (an evaluation's findings, one
    a line, become rectification items)."""
    svc = service(state)
    form = await request.form(max_files=1, max_fields=FORM_FIELDS)
    uid = obligation_id[:32]
    lines = [x.strip() for x in text(form, "findings", MAX_FINDINGS_TEXT).splitlines()]
    findings = [x for x in lines if x] or None
    uscc = ""
    try:
        ob = await run_in_threadpool(_obligation, svc, user, uid)
        uscc = ob["uscc"]
        shas = await upload(svc, user, uscc, form)
        await run_in_threadpool(svc.complete, user, uid, text(form, "note"), shas, findings)
    except IndunetError as exc:
        if not uscc or exc.status == 404:
            raise
        request.state.list_path = f"{BASE}/{uscc}/obligations"
        ctx = await run_in_threadpool(_obligations_context, request, state, user, uscc)
        ctx |= {"error": refusal(request, exc), "failed": uid}
        return render(request, "regulation_mine_obligations.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{uscc}/obligations?show=all#ob-{uid}", status_code=303)


def _obligation(svc: Regulation, user: User, uid: str) -> dict[str, Any]:
    """The obligation ``uid`` if ``user`` sees its enterprise (else 404, as for none)."""
    with svc.engine.connect() as conn:
        ob = grading.obligation(conn, uid)
    try:
        svc.check_visible(user, ob["uscc"])
    except NotFound:
        raise NotFound(f"no obligation {uid}", reason="regulation_obligation_unknown") from None
    return ob


# -- notices ----------------------------------------------------------------------------------


def _notices(svc: Regulation, me: Reader, paging: Paging) -> PageOf[dict[str, Any]]:
    """The notices sent to ``me``'s enterprise, newest first, each with its disposal here."""
    now = time.time()
    with svc.engine.connect() as conn:
        rows, total = notices_page(
            conn, q=paging.q, offset=paging.offset, limit=paging.limit, uscc=me.uscc
        )
        for n in rows:
            r = reg_notices.recipient(conn, n["uid"], me.uscc)
            r["overdue"] = reg_notices.overdue(r, now)
            r["sign_late"] = r["state"] == "sent" and r["sign_due"] < now
            r["dispose_late"] = r["state"] in reg_notices.OPEN and r["dispose_due"] < now
            n["mine"] = r
    for n in rows:
        for rep in n["mine"]["data"].get("reports", []):
            rep["files"] = files(svc, list(rep.get("evidence") or []))
    return PageOf(rows, total, paging)


def _notices_context(request: Request, state: AppState, user: User, uscc: str) -> dict[str, Any]:
    svc = service(state)
    me, _ = reader(svc, user, uscc)
    return {
        "me": me,
        "result": _notices(svc, me, paging_of(request)),
        "max_mib": MAX_EVIDENCE_MIB,
    }


@router.get(f"{BASE}/{{uscc}}/notices")
def notices_list(request: Request, state: StateDep, user: ConsoleUser, uscc: str) -> Response:
    """Notices sent to the enterprise, with deadlines, signing, reports and verdicts."""
    ctx = _notices_context(request, state, user, uscc)
    return render(request, "regulation_mine_notices.html", ctx)


async def _act(
    request: Request, state: AppState, user: User, uscc: str, notice_id: str, action: str
) -> Response:
    svc = service(state)
    uid, code = notice_id[:32], uscc[:18]
    form = await request.form(max_files=1, max_fields=FORM_FIELDS)
    try:
        if action == "sign":
            await run_in_threadpool(svc.act, user, uid, code, "sign")
        else:
            await run_in_threadpool(svc.check_visible, user, code)  # another's: 404 first
            words = text(form, "text")
            shas = await upload(svc, user, code, form)
            await run_in_threadpool(svc.act, user, uid, code, "report", words, shas)
    except IndunetError as exc:
        if exc.status == 404:
            raise
        request.state.list_path = f"{BASE}/{code}/notices"
        ctx = await run_in_threadpool(_notices_context, request, state, user, code)
        ctx |= {"error": refusal(request, exc), "failed": uid, "report_text": text(form, "text")}
        return render(request, "regulation_mine_notices.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{code}/notices#notice-{uid}", status_code=303)


@router.post(f"{BASE}/{{uscc}}/notices/{{notice_id}}/sign")
async def sign_notice(
    request: Request, state: StateDep, user: ConsoleUser, uscc: str, notice_id: str
) -> Response:
    """签收: acknowledge the notice (the enterprise's users too)."""
    return await _act(request, state, user, uscc, notice_id, "sign")


@router.post(f"{BASE}/{{uscc}}/notices/{{notice_id}}/report")
async def report_notice(
    request: Request, state: StateDep, user: ConsoleUser, uscc: str, notice_id: str
) -> Response:
    """处置 and report: what was done, with an evidence file."""
    return await _act(request, state, user, uscc, notice_id, "report")
