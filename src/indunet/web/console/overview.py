"""The platform overview: counts at a glance, the newest alarms, and charts over time.

The charts' data comes from ``/platform/overview/charts`` (JSON, the console session), drawn
by ``static/overview.js`` in the page's zone: devices online (the status history), samples
accepted and stored per minute (``IngestRate``, in memory: empty after a restart; overseers
only, since the pipeline's counters are not per enterprise), alarms raised by severity,
resolutions per day (``ids.daily``: the enterprise's own prefixes) and the devices with
most alarms. Every figure is scoped
by ``core.access``: an enterprise's users count their enterprise only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from indunet import ids, telemetry
from indunet.core import User, access
from indunet.devices import Device
from indunet.web.console import fleet
from indunet.web.console.devices import status_counts
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.models import visible_models
from indunet.web.console.pages import page_zone, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

HOUR_MS = 3_600_000
#: Chart windows: span and bucket in ms.
WINDOWS = {"24h": (24 * HOUR_MS, 15 * 60_000), "7d": (7 * 24 * HOUR_MS, 3 * HOUR_MS)}
RESOLUTION_DAYS = 14
TOP_DEVICES = 10
CHART_TEXT = {
    "online": N_("overview.chart.online"),
    "accepted": N_("overview.chart.accepted"),
    "stored": N_("overview.chart.stored"),
    "resolutions": N_("overview.chart.resolutions"),
    "registrations": N_("overview.chart.registrations"),
    "alarms": N_("overview.chart.alarms"),
    "no_data": N_("overview.chart.no_data"),
    "critical": N_("severity.critical"),
    "major": N_("severity.major"),
    "minor": N_("severity.minor"),
    "warning": N_("severity.warning"),
}


def scope_of(user: User) -> list[int] | None:
    """The enterprises ``user``'s figures count (None: every enterprise)."""
    eid = fleet.scope(user)
    return None if eid is None else [eid]


def resolutions(state: AppState, user: User, zone: tzinfo) -> list[list[Any]]:
    """``[day, registrations, resolutions]`` of the last ``RESOLUTION_DAYS`` days in the
    page's zone, counting the prefixes of the user's enterprise (overseers: every prefix)."""
    today = datetime.now(zone).date()
    since = today - timedelta(days=RESOLUTION_DAYS - 1)
    rows = ids.daily.counts(
        state.engine, since_day=since, enterprise_id=fleet.scope(user), zone=zone
    )
    return [[r.day.isoformat(), r.registrations, r.resolutions] for r in rows]


MEMO = telemetry.trends.Memo()


def figures(
    state: AppState, scope: list[int] | None, start: int, end: int, step: int
) -> dict[str, Any]:
    """Devices online, alarms by severity and top devices of a window, for the enterprises of
    ``scope`` (computed at most once per ``MEMO`` period for every page and wall asking)."""
    trends = telemetry.trends

    def compute() -> dict[str, Any]:
        return {
            "online": trends.online_series(state.engine, scope, start, end, step),
            "alarms": trends.alarm_series(state.engine, scope, start, end, step),
            "top": trends.top_devices(state.engine, scope, start, TOP_DEVICES),
        }

    key = (str(state.engine.url), None if scope is None else tuple(sorted(scope)), start, end, step)
    found: dict[str, Any] = MEMO.get(key, compute)
    return found


def charts(state: AppState, platform: Platform, user: User, span: str, zone: Any) -> dict[str, Any]:
    """The overview's chart data for the window ``span`` (a key of ``WINDOWS``)."""
    span = span if span in WINDOWS else "24h"
    width, step = WINDOWS[span]
    end = fleet.now_ms()
    end += step - end % step  # buckets on round times, the last one holding now
    start = end - width
    scope = scope_of(user)
    out: dict[str, Any] = {"range": span, "start": start, "end": end, "step": step}
    out |= figures(state, scope, start, end, step)
    out["ingest"] = None
    if access.sees_all(user):
        rate = platform.ingest_rate.series(max(start, end - 24 * HOUR_MS))
        out["ingest"] = [[m.start, m.accepted, m.stored] for m in rate]
    out["resolutions"] = resolutions(state, user, zone.info)
    return out


@router.get("/platform")
def overview(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Counts at a glance, the charts (drawn from the charts endpoint) and the newest alarms."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    scope = fleet.scope(user)  # the registry's memory: reading 100,000 rows took seconds
    devices: list[Device] = [
        d for d in platform.devices.in_memory() if scope is None or d.enterprise_id == scope
    ]
    ctx = {
        "counts": status_counts(devices),
        "alarm_counts": platform.alarms.counts(user),
        "recent": platform.alarms.find(user, state="open", limit=8),
        "model_count": len(visible_models(platform, user)),
        "sees_all": access.sees_all(user),
        "chart_config": {
            "url": "/platform/overview/charts",
            "ranges": list(WINDOWS),
            "text": {k: t(v) for k, v in CHART_TEXT.items()},
        },
    }
    return render(request, "platform.html", ctx)


@router.get("/platform/overview/charts")
def overview_charts(
    request: Request, state: StateDep, user: ConsoleUser, range: str = "24h"
) -> Response:
    """JSON for the overview's charts (an unknown range answers the default one)."""
    platform = fleet.platform_of(state)
    body = charts(state, platform, user, range, page_zone(request))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
