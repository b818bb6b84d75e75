"""The platform overview: counts at a glance and the newest alarms (charts: issue 9)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.devices import Device
from indunet.web.console import fleet
from indunet.web.console.devices import status_counts
from indunet.web.console.models import visible_models
from indunet.web.console.pages import render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep

router = APIRouter(include_in_schema=False)


@router.get("/platform")
def overview(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Counts at a glance: devices by status, open alarms by severity, models; newest alarms."""
    platform = fleet.platform_of(state)
    devices: list[Device] = platform.devices.list(enterprise_id=fleet.scope(user))
    alarm_counts = platform.alarms.counts(user)
    recent = platform.alarms.find(user, state="open", limit=8)
    ctx = {
        "counts": status_counts(devices),
        "alarm_counts": alarm_counts,
        "recent": recent,
        "model_count": len(visible_models(platform, user)),
    }
    return render(request, "platform.html", ctx)
