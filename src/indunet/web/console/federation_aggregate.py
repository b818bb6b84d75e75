"""The federation's aggregate page (``/federation/aggregate``): this instance's indicators,
each active child's last reported subtree totals with how fresh they are, and the total of
the whole subtree (a province: its enterprises; the nation: its provinces and, through
them, every enterprise). Server-paged and searchable over the children; the total row is
always the whole subtree's, whatever the page. Platform admins and regulators see it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.core import access
from indunet.federation import Federation
from indunet.web.console.fleet import age_text
from indunet.web.console.pages import render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep

router = APIRouter(include_in_schema=False)


@router.get("/federation/aggregate")
def aggregate_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    if not access.sees_all(user):
        return render(request, "federation_aggregate.html", {"operator": False})
    fed = state.services.get("federation")
    if not isinstance(fed, Federation):
        return render(request, "federation_aggregate.html", {"operator": True, "running": False})
    paging = paging_of(request)
    view = fed.aggregate(paging.q, paging.offset, paging.size)
    return render(
        request,
        "federation_aggregate.html",
        {
            "operator": True,
            "running": True,
            "view": view,
            "result": PageOf(view["children"], view["children_matched"], paging),
            "stale_minutes": f"{view['stale_after_s'] / 60:g}",
            "age_text": age_text,
        },
    )
