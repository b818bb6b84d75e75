"""Alarm pages: open alarms by severity with filters, refreshed by HTMX, and acknowledging one
with a note (the alarm service decides who may; its message is shown when it refuses)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, Role, User
from indunet.web.console import fleet
from indunet.web.console.fleet import SEVERITIES
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.session import ConsoleUser, safe_next
from indunet.web.deps import PathId, StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

ALL = "all"
#: State filters offered, as (value, catalogue key); "open" is every alarm not yet closed.
STATE_FILTERS = (
    ("open", N_("alarms.filter.open")),
    ("active", N_("alarmstate.active")),
    ("acknowledged", N_("alarmstate.acknowledged")),
    ("cleared", N_("alarmstate.cleared")),
    ("closed", N_("alarmstate.closed")),
    (ALL, N_("alarms.filter.all")),
)
SEVERITY_KEYS = {
    "critical": N_("severity.critical"),
    "major": N_("severity.major"),
    "minor": N_("severity.minor"),
    "warning": N_("severity.warning"),
}
LIST_LIMIT = 200


def may_acknowledge(user: User) -> bool:
    """Whether ack buttons are offered (regulators only look; the service checks again)."""
    return user.role != Role.REGULATOR


def value_text(value: Any) -> str:
    """An alarm's values (point to value) on one line."""
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    return "" if value is None else str(value)


def row_context(user: User, *, show_device: bool) -> dict[str, Any]:
    """What the alarm rows template needs besides the alarms."""
    return {
        "may_ack": may_acknowledge(user),
        "show_device": show_device,
        "severity_keys": SEVERITY_KEYS,
        "alarm_value": value_text,
    }


def _filters(request: Request) -> dict[str, str]:
    state = request.query_params.get("state", "open")
    severity = request.query_params.get("severity", "")
    return {
        "state": state if state in dict(STATE_FILTERS) else "open",
        "severity": severity if severity in SEVERITIES else "",
    }


def _context(
    state: AppState, platform: Platform, user: User, filters: dict[str, str]
) -> dict[str, Any]:
    alarms: list[Any] = platform.alarms.find(
        user,
        state=None if filters["state"] == ALL else filters["state"],
        severity=filters["severity"] or None,
        limit=LIST_LIMIT,
    )
    rank = {sev: i for i, sev in enumerate(SEVERITIES)}
    alarms.sort(key=lambda a: (rank.get(a.severity.value, len(rank)), -a.id))
    return {
        "alarms": alarms,
        "counts": platform.alarms.counts(user),
        "filters": filters,
        "state_filters": STATE_FILTERS,
        "severities": SEVERITIES,
        "limit": LIST_LIMIT,
        **row_context(user, show_device=True),
    }


@router.get("/platform/alarms")
def alarms_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Alarms filtered by state and severity; HTMX asks for the table alone to refresh it."""
    platform = fleet.platform_of(state)
    ctx = _context(state, platform, user, _filters(request))
    return render(request, "_alarm_table.html" if is_htmx(request) else "alarms.html", ctx)


@router.get("/platform/devices/{device_id}/alarms")
def device_alarms(request: Request, state: StateDep, user: ConsoleUser, device_id: str) -> Response:
    """HTMX: the alarm rows of one device (its page refreshes them)."""
    platform = fleet.platform_of(state)
    device = fleet.visible_device(platform, user, device_id)
    alarms = platform.alarms.find(user, device_id=device.id, limit=20)
    ctx = {"alarms": alarms, **row_context(user, show_device=False)}
    return render(request, "_alarm_rows.html", ctx)


@router.post("/platform/alarms/{alarm_id}/ack")
async def acknowledge(
    request: Request, state: StateDep, user: ConsoleUser, alarm_id: PathId
) -> Response:
    """Acknowledge with a note. HTMX gets the alarm's row back; a plain form post goes back."""
    platform = fleet.platform_of(state)
    form = await request.form()
    note = str(form.get("note", ""))
    show_device = form.get("show_device") != "0"
    try:
        alarm = await platform.alarms.acknowledge(user, alarm_id, note)
        error = None
    except IndunetError as exc:
        error = error_text(request, exc)
        status = exc.status
        try:
            alarm = await run_in_threadpool(platform.alarms.get, user, alarm_id)
        except IndunetError:
            alarm = None
    if not is_htmx(request):
        if error is None:
            return RedirectResponse(
                safe_next(str(form.get("next") or "/platform/alarms")), status_code=303
            )
        ctx = await run_in_threadpool(_context, state, platform, user, _filters(request))
        return render(request, "alarms.html", ctx | {"error": error}, status=status)
    ctx = {"alarms": [alarm] if alarm else [], "row_error": error, "failed_id": alarm_id}
    ctx |= row_context(user, show_device=show_device)
    return render(request, "_alarm_rows.html", ctx)
