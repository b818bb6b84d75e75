"""The security section's event page: stored security events with search (text, source,
kind, protocol, IP, time range typed in the page's zone, least severity), server-side
paging, and a histogram of the matching events over time (ECharts).

Who sees what is the store's rule (``core.access``): an enterprise its own events, overseers
every enterprise's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.security import SOURCES, Security
from indunet.security.eventstore import EventQuery, EventStore
from indunet.web.console import fleet
from indunet.web.console.pages import page_zone, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
BASE = "/security/events"
MAX_FILTER = 100


def store_of(state: AppState) -> EventStore:
    svc = state.services.get("security")
    part = svc.part("event-store") if isinstance(svc, Security) else None
    if not isinstance(part, EventStore):
        raise fleet.NoPlatform()
    return part


def _text(request: Request, name: str, limit: int = MAX_FILTER) -> str:
    return request.query_params.get(name, "").strip()[:limit]


@router.get(BASE)
def events_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Stored security events, newest first, with search, filters, paging and a histogram."""
    store = store_of(state)
    paging = paging_of(request)
    zone = page_zone(request)
    source = _text(request, "source")
    source = source if source in SOURCES else ""
    since_text, until_text = _text(request, "since", 19), _text(request, "until", 19)
    since, until = zone.local(since_text), zone.local(until_text)
    try:
        severity = max(0, min(15, int(_text(request, "min_severity", 2) or 0)))
    except ValueError:
        severity = 0
    query = EventQuery(
        q=paging.q,
        source=source,
        kind=_text(request, "kind"),
        protocol=_text(request, "protocol"),
        ip=_text(request, "ip", 45),
        since=since.timestamp() if since else None,
        until=until.timestamp() if until else None,
        min_severity=severity,
    )
    items, total = store.search(user, query, offset=paging.offset, limit=paging.limit)
    hist = store.histogram(user, query)
    chart: dict[str, Any] = {
        "labels": [
            zone.clock(hist["start"] + i * hist["step"], seconds=False)
            for i in range(len(hist["counts"]))
        ]
        if hist["start"] is not None
        else [],
        "counts": hist["counts"],
    }
    ctx = {
        "result": PageOf(items, total, paging),
        "filters": {
            "source": source,
            "kind": query.kind,
            "protocol": query.protocol,
            "ip": query.ip,
            "since": since_text if since else "",
            "until": until_text if until else "",
            "min_severity": severity,
        },
        "sources": sorted(SOURCES),
        "chart": chart,
    }
    return render(request, "security_events.html", ctx)
