"""Identifier statistics per day: registrations and resolutions over a span of days, of all
visible prefixes, one enterprise's or one prefix's, drawn as ECharts charts (per day, by
prefix, by enterprise). Days are the page's zone's days (``ids.daily`` keeps hours).

Counts come from ``ids_daily_stats``, which the ids upkeep service fills every few seconds:
a resolution shows up here within that time, not at once.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.core import NotFound, User, access
from indunet.core import enterprises as core_enterprises
from indunet.ids import daily
from indunet.ids import prefixes as ids_prefixes
from indunet.ids.syntax import handle as hdl
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import page_zone, render
from indunet.web.console.session import ConsoleUser
from indunet.web.console.zones import Zone
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
SPANS = (7, 30, 90, 365)
#: Prefixes and enterprises in the ranking charts (the busiest).
TOP = 15


def _span(text: str | None) -> int:
    return int(text) if text and text.isdigit() and int(text) in SPANS else SPANS[1]


Counted = tuple[
    list[daily.DayCount], list[daily.PrefixCount], list[daily.EnterpriseCount], dict[int, str]
]
#: Answers kept for ``daily.FLUSH_S`` seconds (the counts change only that often), by filters.
_cache: dict[tuple[object, ...], tuple[float, Counted]] = {}
_lock = threading.Lock()
CACHE_ENTRIES = 256


def _counted(
    state: AppState, since: date, prefix: str | None, enterprise_id: int | None, zone: Zone
) -> Counted:
    """The counts the page draws, from the cache when they are a few seconds old at most."""
    key = (str(state.engine.url), since, prefix, enterprise_id, zone.name)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    with state.engine.connect() as conn:
        per_day = daily.counts(
            conn, since_day=since, prefix=prefix, enterprise_id=enterprise_id, zone=zone.info
        )
        ranked, owners = daily.rankings(
            conn,
            since_day=since,
            enterprise_id=enterprise_id,
            prefix=prefix,
            zone=zone.info,
            limit=TOP,
        )
        names = core_enterprises.names_of(conn, [o.enterprise_id for o in owners] + [enterprise_id])
    found = (per_day, ranked, owners, names)
    with _lock:
        if len(_cache) >= CACHE_ENTRIES:
            _cache.clear()
        _cache[key] = (time.monotonic() + daily.FLUSH_S, found)
    return found


def statistics(request: Request, state: AppState, user: User) -> dict[str, Any]:
    """Everything the page shows, for the filters of ``request`` (hostile values fall back to
    the defaults; another tenant's enterprise or prefix is ``NotFound``). Every query is
    bounded: the charts rank the busiest ``TOP`` prefixes and enterprises, and the filters
    offer those (and the one chosen)."""
    params = request.query_params
    days = _span(params.get("days"))
    asked = params.get("enterprise", "")
    enterprise_id = access.scope(user, int(asked) if asked.isdigit() and len(asked) < 19 else None)
    prefix = hdl.normalise_prefix(params.get("prefix", "").strip()[:128]) or None
    if prefix is not None:
        allocation = ids_prefixes.allocation_of(state.engine, prefix)
        access.check_see(user, allocation.enterprise_id, f"prefix {prefix}")
        if enterprise_id is not None and allocation.enterprise_id != enterprise_id:
            raise NotFound(f"no prefix {prefix}")
    zone = page_zone(request)
    since = datetime.now(zone.info).date() - timedelta(days=days - 1)
    per_day, ranked, owners, names = _counted(state, since, prefix, enterprise_id, zone)
    t = translator(locale_of(request))
    choices = {o.enterprise_id: names[o.enterprise_id] for o in owners if o.enterprise_id in names}
    if enterprise_id is not None and enterprise_id in names:
        choices[enterprise_id] = names[enterprise_id]
    prefix_choices = sorted({r.prefix for r in ranked} | ({prefix} if prefix else set()))
    return {
        "days": days,
        "spans": SPANS,
        "enterprise_id": enterprise_id,
        "prefix": prefix or "",
        "enterprises": choices if access.sees_all(user) else {},
        "prefixes": prefix_choices,
        "total_registrations": sum(d.registrations for d in per_day),
        "total_resolutions": sum(d.resolutions for d in per_day),
        "chart": {
            "days": [[d.day.isoformat(), d.registrations, d.resolutions] for d in per_day],
            "prefixes": [[r.prefix, r.registrations, r.resolutions] for r in ranked],
            "enterprises": [
                [
                    names.get(o.enterprise_id or -1, t("ops.stats.no_enterprise")),
                    o.registrations,
                    o.resolutions,
                ]
                for o in owners
            ],
            "text": {
                "registrations": t("ops.stats.registrations"),
                "resolutions": t("ops.stats.resolutions"),
                "empty": t("ops.stats.empty"),
            },
        },
    }


@router.get("/ids/stats")
def stats_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Registrations and resolutions per day, by prefix and by enterprise (an unknown or
    foreign prefix or enterprise is the console's error page, in the reader's words)."""
    return render(request, "idsstats.html", statistics(request, state, user))
