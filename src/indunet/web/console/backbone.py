"""The backbone page: how far each partition's worker is behind and how full the stream is.

In the scaled mode (``INDUNET_BUS_URL`` set) the page reads JetStream itself
(``bus.status.read_status``, bounded to 2 seconds), so the api process, which runs no worker,
shows every partition's consumer: its lag (pending plus unacknowledged), redeliveries, the
pull requests waiting (a worker is fetching) and when it last delivered and was acknowledged,
and the telemetry stream's messages and bytes against its limits; the table refreshes itself
every few seconds. In the embedded mode the page says the backbone is off and what to set.

Backbone status is operator information about every enterprise's traffic: only platform
admins read it; every other role gets 403 (the page says so in the reader's language).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indunet.bus import Backbone
from indunet.bus.status import (
    READ_TIMEOUT,
    BackboneStatus,
    ConsumerState,
    ConsumerStatus,
    read_status,
)
from indunet.core import Role
from indunet.web.backbone import backbone_of
from indunet.web.console.i18n import N_
from indunet.web.console.pages import render
from indunet.web.console.paging import page_of, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: What a consumer's row says about it, in the order the filter offers them.
ROW_STATES = {
    "behind": N_("backbone.state.behind"),
    "caught_up": N_("backbone.state.caught_up"),
    "not_started": N_("backbone.state.not_started"),
    "unknown": N_("backbone.state.unknown"),
}
#: Why a reading is incomplete: catalogue key of each ``bus.status.Problem``.
PROBLEMS = {
    "not_connected": N_("backbone.problem.not_connected"),
    "no_stream": N_("backbone.problem.no_stream"),
    "timeout": N_("backbone.problem.timeout"),
    "failed": N_("backbone.problem.failed"),
}
SORTS = ("partition", "lag", "redelivered", "last_acked")


def row_state(c: ConsumerStatus) -> str:
    """``behind``, ``caught_up``, ``not_started`` or ``unknown`` (keys of ``ROW_STATES``)."""
    if c.state is ConsumerState.ACTIVE:
        return "behind" if c.lag > 0 else "caught_up"
    return c.state.value


def age_text(seconds: float) -> tuple[str, int]:
    """A stream's age limit as a catalogue key and its number (days, hours or minutes)."""
    s = int(seconds)
    if s <= 0:
        return N_("backbone.age.none"), 0
    if s % 86400 == 0:
        return N_("backbone.age.days"), s // 86400
    if s % 3600 == 0:
        return N_("backbone.age.hours"), s // 3600
    return N_("backbone.age.minutes"), max(1, round(s / 60))


def server_of(backbone: Backbone) -> str:
    """``host:port`` of the NATS server this process is connected to (never credentials)."""
    nc = backbone.nc
    url = nc.connected_url if nc is not None and nc.is_connected else None
    if url is None or not url.hostname:
        return ""
    return f"{url.hostname}:{url.port}" if url.port else url.hostname


def sorted_rows(rows: list[ConsumerStatus], key: str, *, desc: bool) -> list[ConsumerStatus]:
    """The consumers in the order of the column ``key`` (a consumer never acknowledged sorts
    as the oldest by ``last_acked``); ties by partition."""
    epoch = datetime.min.replace(tzinfo=UTC)
    order: dict[str, Callable[[ConsumerStatus], tuple[Any, ...]]] = {
        "lag": lambda c: (c.lag, c.partition),
        "redelivered": lambda c: (c.redelivered, c.partition),
        "last_acked": lambda c: (c.last_acked or epoch, c.partition),
    }
    return sorted(rows, key=order.get(key, lambda c: (c.partition,)), reverse=desc)


def _context(
    request: Request, state: AppState, backbone: Backbone, status: BackboneStatus
) -> dict[str, Any]:
    paging = paging_of(request, sorts=SORTS, default_sort="partition")
    shown = request.query_params.get("state", "")
    if shown not in ROW_STATES:
        shown = ""
    rows = [c for c in status.consumers if not shown or row_state(c) == shown]
    rows = sorted_rows(rows, paging.sort, desc=paging.desc)
    states = [row_state(c) for c in status.consumers]
    age_key, age_n = age_text(status.stream.max_age_s) if status.stream else ("", 0)
    names = backbone.names
    settings = state.settings
    return {
        "status": status,
        "result": page_of(rows, paging),
        "row_state": row_state,
        "row_states": ROW_STATES,
        "counts": {key: states.count(key) for key in ROW_STATES},
        "shown": shown,
        "problem": PROBLEMS.get(status.problem.value) if status.problem else None,
        "read_within": f"{READ_TIMEOUT:g}",
        "age_key": age_key,
        "age_n": age_n,
        "server": server_of(backbone),
        "reconnects": backbone.reconnects,
        "prefix": names.prefix,
        "partitions": names.partitions,
        "stream_name": names.telemetry_stream,
        "role": settings.role,
        "shard": settings.shard,
    }


@router.get("/platform/backbone")
async def backbone_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Each partition's consumer (lag, redeliveries, last delivery and acknowledgement) and
    the telemetry stream against its limits; platform admins only."""
    if user.role is not Role.PLATFORM_ADMIN:
        return render(request, "backbone.html", {"denied": True}, status=403)
    backbone = backbone_of(state)
    if backbone is None:
        return render(request, "backbone.html", {"off": True})
    status = await read_status(backbone)
    return render(request, "backbone.html", _context(request, state, backbone, status))
