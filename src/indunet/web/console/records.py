"""Identifier records (备案记录): every registration, change and deletion of an identifier, one
entry each, with the values before; searched by identifier, prefix, action, actor and time
range (in the page's zone), paged on the server, and exported as CSV with the same filters.

Scoped by ``core.access.scope``: platform admins and regulators read every entry (and may
narrow to one enterprise); everyone else reads the entries of their enterprise's prefixes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from indunet.core import User, access
from indunet.ids import history, recordcsv
from indunet.web.console.forms import FormError
from indunet.web.console.handles import stored_value
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, page_zone, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.console.users import enterprise_choices
from indunet.web.console.zones import Zone
from indunet.web.deps import MAX_DB_INT, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: The filters of the page (query parameters), and how many characters each keeps.
FILTERS = {
    "q": 400,
    "prefix": 128,
    "action": 32,
    "actor": 200,
    "from": 40,
    "to": 40,
    "enterprise_id": 20,
}


def _time(text: str, zone: Zone, name: str) -> datetime | None:
    """A ``datetime-local`` value in the page's zone, as UTC, or None."""
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(N_("records.time_invalid"), field=name, text=text[:40]) from None
    return history.utc(naive if naive.tzinfo is not None else naive.replace(tzinfo=zone.info))


def record_filter(
    request: Request, state: AppState, user: User
) -> tuple[history.RecordFilter, dict[str, str]]:
    """The filter the query string asks for, limited to what ``user`` may read, and the values
    as typed. A bad time, action or enterprise is ``FormError``; another enterprise's prefix
    or enterprise is 404."""
    params = request.query_params
    typed = {k: (params.get(k) or "").strip()[:n] for k, n in FILTERS.items()}
    eid_text = typed["enterprise_id"]
    if eid_text and (not eid_text.isdigit() or not 1 <= int(eid_text) <= MAX_DB_INT):
        raise FormError(N_("records.enterprise_invalid"), text=eid_text[:20])
    if typed["action"] and typed["action"] not in history.ACTIONS:
        raise FormError(N_("records.action_invalid"), text=typed["action"])
    zone = page_zone(request)
    eid = access.scope(user, int(eid_text) if eid_text else None)
    f = history.RecordFilter(
        q=typed["q"],
        prefix=history.seen_prefix(state.engine, user, typed["prefix"]) if typed["prefix"] else "",
        action=typed["action"],
        actor=typed["actor"],
        since=_time(typed["from"], zone, "from"),
        until=_time(typed["to"], zone, "to"),
        enterprise_id=eid,
    )
    return f, typed


@router.get("/ids/records")
def records_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """One page of the records the filters match, newest first."""
    paging = paging_of(request)
    error, status = "", 200
    try:
        f, typed = record_filter(request, state, user)
    except FormError as exc:
        f = history.RecordFilter(enterprise_id=access.scope(user))
        typed = dict.fromkeys(FILTERS, "")
        error, status = error_text(request, exc), 400
    total, found = history.search(state.engine, f, offset=paging.offset, limit=paging.limit)
    ctx: dict[str, Any] = {
        "entries": PageOf(found, total, paging),
        "typed": typed,
        "error": error,
        "actions": history.ACTIONS,
        "enterprises": enterprise_choices(state, user, f.enterprise_id),
        "export_limit": history.EXPORT_LIMIT,
        "export_query": request.url.query,
        "stored_value": stored_value,
    }
    return render(request, "records.html", ctx, status=status)


@router.get("/ids/records/export.csv")
def export_csv(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The records the filters match as CSV, newest first, at most ``EXPORT_LIMIT`` lines,
    streamed in chunks; times with the page zone's offset (a bad filter is 400)."""
    try:
        f, _typed = record_filter(request, state, user)
    except FormError as exc:
        return Response(error_text(request, exc), status_code=400, media_type="text/plain")
    zone = page_zone(request)
    stamp = datetime.now(zone.info).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        recordcsv.lines(history.export(state.engine, f), zone.iso),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="records-{stamp}.csv"'},
    )
