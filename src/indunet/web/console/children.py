"""The top-level node's page of its secondaries (``ids.children``): who reported and pushed
when, their registrations and resolutions per day as a chart (days of China Standard Time,
the regulator's day, whatever the page's zone), and three server-paged, searchable tables:
the report rows, the enterprises and the prefix allocations they pushed.

Platform admins and regulators see it; everyone else reads a line saying so (the data is
no enterprise's own, ``core.access``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.core import access
from indunet.ids import children, childview, handle
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep

router = APIRouter(include_in_schema=False)
VIEWS = ("reports", "enterprises", "allocations")
SPANS = (30, 90, 365)


def _span(text: str | None) -> int:
    return int(text) if text and text.isdigit() and int(text) in SPANS else SPANS[0]


@router.get("/ids/children")
def children_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Secondaries' reports and registries, for the filters of the query string (a hostile
    value falls back to the default)."""
    if not access.sees_all(user):
        return render(request, "children.html", {"operator": False})
    params = request.query_params
    view = params.get("view", "")
    view = view if view in VIEWS else VIEWS[0]
    days = _span(params.get("days"))
    reporter = handle.normalise_prefix(params.get("reporter", "").strip()[:128])
    paging = paging_of(request)
    last = children.report_today() - timedelta(days=1)  # today is never reported
    since = last - timedelta(days=days - 1)
    ctx: dict[str, Any] = {"operator": True, "view": view, "views": VIEWS, "days": days}
    with state.engine.connect() as conn:
        known = childview.children(conn)
        if reporter not in {k["reporter"] for k in known}:
            reporter = ""
        if view == "reports":
            f = childview.ReportFilter(q=paging.q, reporter=reporter, since=since)
            rows, total = childview.page_reports(conn, f, offset=paging.offset, limit=paging.limit)
            per_day = {d: (g, s) for d, g, s in childview.per_day(conn, f)}
        elif view == "enterprises":
            rows, total = childview.page_enterprises(
                conn, q=paging.q, reporter=reporter, offset=paging.offset, limit=paging.limit
            )
        else:
            rows, total = childview.page_allocations(
                conn, q=paging.q, reporter=reporter, offset=paging.offset, limit=paging.limit
            )
    ctx |= {
        "children": known,
        "reporter": reporter,
        "spans": SPANS,
        "result": PageOf(rows, total, paging),
        "report_zone": children.REPORT_ZONE.key,
    }
    if view == "reports":
        t = translator(locale_of(request))
        every = [since + timedelta(days=i) for i in range(days)]
        ctx["chart"] = {
            "days": [[d.isoformat(), *per_day.get(d, (0, 0))] for d in every],
            "text": {
                "registrations": t("ops.stats.registrations"),
                "resolutions": t("ops.stats.resolutions"),
                "empty": t("ops.stats.empty"),
            },
        }
        ctx["total_registrations"] = sum(g for g, _ in per_day.values())
        ctx["total_resolutions"] = sum(s for _, s in per_day.values())
    return render(request, "children.html", ctx)
