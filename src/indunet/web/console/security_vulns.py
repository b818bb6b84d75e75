"""Console pages of vulnerability matching: ``/security/vulnerabilities``.

The list (search, severity and state filters, paging on the server) of the matches the reader
may see, a match's page (why it matched, CVSS, the advisory's remediation, who decided what) and
the state form (dismiss with a reason). The service decides who may see and change what
(``core.access``); these routes parse, call it in worker threads and render its answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, NotFound, Role, User
from indunet.security import Security, Vulnerabilities
from indunet.web.console import fleet
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BASE = "/security/vulnerabilities"
STATES = ("confirmed", "probable", "needs_review", "dismissed")
SEVERITIES = ("critical", "high", "medium", "low", "none")
MAX_REASON = 500


def vulns_of(state: AppState) -> Vulnerabilities:
    """The vulnerability part of this process's security service (else "not running here")."""
    svc = state.services.get("security")
    part = svc.part("vulns") if isinstance(svc, Security) else None
    if not isinstance(part, Vulnerabilities):
        raise fleet.NoPlatform()
    return part


def may_decide(user: User) -> bool:
    """Whether the state form is offered (the service checks again, per match)."""
    return user.role in (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN)


def _list_context(state: AppState, user: User, request: Request) -> dict[str, Any]:
    part = vulns_of(state)
    paging = paging_of(request)
    params = request.query_params
    severity = params.get("severity", "")
    severity = severity if severity in SEVERITIES else ""
    match_state = params.get("state", "")
    match_state = match_state if match_state in STATES else ""
    items, total = part.matches(
        user,
        severity=severity or None,
        state=match_state or None,
        q=paging.q,
        offset=paging.offset,
        limit=paging.limit,
    )
    return {
        "result": PageOf(items, total, paging),
        "filters": {"severity": severity, "state": match_state},
        "states": STATES,
        "severities": SEVERITIES,
        "summary": part.summary(user),
    }


@router.get(BASE)
async def vulnerabilities_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Matched vulnerabilities, highest CVSS first: search, severity and state filters, paging."""
    ctx = await run_in_threadpool(_list_context, state, user, request)
    return render(request, "security_vulns.html", ctx)


def _detail(state: AppState, user: User, match_id: int) -> dict[str, Any]:
    match = vulns_of(state).match(user, match_id)
    return {"m": match, "states": STATES, "may_decide": may_decide(user), "max_reason": MAX_REASON}


@router.get(BASE + "/{match_id}")
async def match_page(
    request: Request, state: StateDep, user: ConsoleUser, match_id: PathId
) -> Response:
    """One match: why, CVSS, remediation, state and who set it; the state form."""
    ctx = await run_in_threadpool(_detail, state, user, match_id)
    return render(request, "security_vuln.html", ctx)


@router.post(BASE + "/{match_id}/state")
async def change_state(
    request: Request, state: StateDep, user: ConsoleUser, match_id: PathId
) -> Response:
    """Set a match's state (dismissing needs a reason); a refusal is shown on the page."""
    form = await request.form()
    new_state = str(form.get("state") or "")[:16]
    reason = str(form.get("reason") or "")[: MAX_REASON + 1]
    part = vulns_of(state)
    try:
        await run_in_threadpool(part.set_state, user, match_id, new_state, reason)
    except NotFound:
        raise
    except IndunetError as exc:
        ctx = await run_in_threadpool(_detail, state, user, match_id)
        ctx |= {"error": error_text(request, exc), "reason": reason[:MAX_REASON]}
        return render(request, "security_vuln.html", ctx, status=exc.status)
    return RedirectResponse(f"{BASE}/{match_id}", status_code=303)
