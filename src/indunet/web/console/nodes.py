"""The node status page: each node's records and latency, resolutions per minute, cache hits,
and, for operators of a node that reports to a parent (``ids.parentlink``), how far it has."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.core import access
from indunet.web.api.native import node_status
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.pages import render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: Texts the charts show, handed to the page's script in the page's language.
CHART_TEXT = {
    "hits": N_("nodes.chart.hits"),
    "misses": N_("nodes.chart.misses"),
    "cache_node": N_("nodes.chart.cache_node"),
    "no_cache": N_("nodes.chart.no_cache"),
}


def statuses(state: AppState) -> list[dict[str, Any]]:
    """The status of every node this process runs (the same data as ``/api/v1/nodes``)."""
    return [node_status(n, state) for n in state.hierarchy.nodes.values()]


@router.get("/ids/nodes")
def nodes_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Node table and charts; the page's script refreshes them from ``/api/v1/nodes``."""
    t = translator(locale_of(request))
    chart_text = {name: t(key) for name, key in CHART_TEXT.items()}
    link = state.services.get("ids.parent")
    status = getattr(link, "status", None)
    parent = status() if callable(status) and access.sees_all(user) else None
    ctx = {"nodes": statuses(state), "chart_text": chart_text, "parent": parent}
    return render(request, "nodes.html", ctx)
