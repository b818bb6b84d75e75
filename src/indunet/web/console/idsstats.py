"""Identifier statistics per day: registrations and resolutions over a span of days, of all
visible prefixes, one enterprise's or one prefix's, drawn as ECharts charts (per day, by
prefix, by enterprise). Days are the page's zone's days (``ids.daily`` keeps hours).

Counts come from ``ids_daily_stats``, which the ids upkeep service fills every few seconds:
a resolution shows up here within that time, not at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.core import IndunetError, NotFound, User, access
from indunet.ids import daily
from indunet.ids import prefixes as ids_prefixes
from indunet.ids.syntax import handle as hdl
from indunet.web.console.enterprises import visible_enterprises
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import page_zone, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
SPANS = (7, 30, 90, 365)
#: Prefixes in the "by prefix" chart (the busiest); the enterprise chart sums up to
#: ``ALL_PREFIXES`` of them.
TOP_PREFIXES = 15
ALL_PREFIXES = 1000


def _span(text: str | None) -> int:
    return int(text) if text and text.isdigit() and int(text) in SPANS else SPANS[1]


def statistics(request: Request, state: AppState, user: User) -> dict[str, Any]:
    """Everything the page shows, for the filters of ``request`` (hostile values fall back to
    the defaults; another tenant's enterprise or prefix is ``NotFound``)."""
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
    per_day = daily.counts(
        state.engine, since_day=since, prefix=prefix, enterprise_id=enterprise_id, zone=zone.info
    )
    ranked = daily.by_prefix(
        state.engine,
        since_day=since,
        enterprise_id=enterprise_id,
        zone=zone.info,
        limit=ALL_PREFIXES,
    )
    if prefix is not None:
        ranked = [r for r in ranked if r.prefix == prefix]
    enterprises = visible_enterprises(state, user)
    names = {e.id: e.name for e in enterprises}
    t = translator(locale_of(request))
    by_enterprise: dict[str, list[int]] = {}
    for r in ranked:
        if not access.can_see(user, r.enterprise_id):
            continue
        label = names.get(r.enterprise_id or -1, t("ops.stats.no_enterprise"))
        slot = by_enterprise.setdefault(label, [0, 0])
        slot[0] += r.registrations
        slot[1] += r.resolutions
    visible_ranked = [r for r in ranked if access.can_see(user, r.enterprise_id)]
    allocations, _ = ids_prefixes.page_allocations(
        state.engine, enterprise_id=enterprise_id, limit=500
    )
    return {
        "days": days,
        "spans": SPANS,
        "enterprise_id": enterprise_id,
        "prefix": prefix or "",
        "enterprises": enterprises if access.sees_all(user) else [],
        "prefixes": [a.prefix for a in allocations],
        "total_registrations": sum(d.registrations for d in per_day),
        "total_resolutions": sum(d.resolutions for d in per_day),
        "chart": {
            "days": [[d.day.isoformat(), d.registrations, d.resolutions] for d in per_day],
            "prefixes": [
                [r.prefix, r.registrations, r.resolutions] for r in visible_ranked[:TOP_PREFIXES]
            ],
            "enterprises": [
                [name, reg, res]
                for name, (reg, res) in sorted(
                    by_enterprise.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0])
                )
            ][:TOP_PREFIXES],
            "text": {
                "registrations": t("ops.stats.registrations"),
                "resolutions": t("ops.stats.resolutions"),
                "empty": t("ops.stats.empty"),
            },
        },
    }


@router.get("/ids/stats")
def stats_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Registrations and resolutions per day, by prefix and by enterprise."""
    try:
        ctx = statistics(request, state, user)
    except NotFound:
        return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)
    except IndunetError as exc:
        return render(request, "not_found.html", {"missing": str(exc)[:200]}, status=exc.status)
    return render(request, "idsstats.html", ctx)
