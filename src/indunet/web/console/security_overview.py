"""The security situation (安全态势) page: ``/security``, the section's first page.

Figures, the riskiest assets, risk per enterprise (overseers), the newest alerts and the open
cases with their SLA state, all from ``security.situation`` and scoped by the access rule: an
enterprise's users see their enterprise only, overseers every enterprise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from indunet.core import User
from indunet.security.service import Security
from indunet.security.situation import HIGH_RISK, Situation, situation
from indunet.web.console import fleet
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import render
from indunet.web.console.security_text import case_titles, rule_titles
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BANDS = ("critical", "high", "medium", "low")
SEVERITIES = ("critical", "high", "medium", "low", "none")
SLA_STATES = ("overdue", "due_soon", "on_time")


def _situation(state: AppState, user: User) -> tuple[Situation, dict[int, str]]:
    scope = fleet.scope(user)
    svc = state.services.get("security")
    found = (
        svc.situations.get(scope) if isinstance(svc, Security) else situation(state.engine, scope)
    )
    ids = [e["enterprise_id"] for e in found.enterprises]
    ids += [a.enterprise_id for a in found.riskiest]
    if scope is not None:
        ids.append(scope)
    return found, fleet.enterprise_names(state, user, ids)


@router.get("/security")
async def overview(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The situation of the user's enterprise (overseers: of every enterprise)."""
    return render(request, "security_overview.html", await _context(request, state, user))


@router.get("/security/wall")
async def wall(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The same situation full screen for a wall display (大屏), refreshed every 15 s: a
    regulator's shows every enterprise, an enterprise's its own."""
    ctx = await _context(request, state, user)
    scope = fleet.scope(user)
    t = translator(locale_of(request))
    ctx["scope_name"] = (
        t("sec.wall.all") if scope is None else ctx["names"].get(scope) or t("sec.wall.own")
    )
    ctx["now"] = datetime.now(UTC)
    return render(request, "security_wall.html", ctx)


async def _context(request: Request, state: AppState, user: User) -> dict[str, Any]:
    found, names = await run_in_threadpool(_situation, state, user)
    ctx: dict[str, Any] = {
        "s": found,
        "names": names,
        "bands": BANDS,
        "severities": SEVERITIES,
        "sla_states": SLA_STATES,
        "high_risk": HIGH_RISK,
        "overseer": fleet.scope(user) is None,
        "rule_title": rule_titles(request, state),
        "case_title": case_titles(request, state),
    }
    return ctx
