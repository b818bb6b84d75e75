"""Alarm pages: the list (time range, device, model, state, severity, search; paged on the
server), tiles counting the current filter by severity, acknowledging, clearing by hand,
comments and a CSV export of the filtered list.

Acknowledging says "someone has seen it and is on it": the alarm stays active while its
condition holds. Clearing by hand says "it is over": the alarm closes at once (acknowledged
by whoever clears it, if nobody had); a condition that still holds raises a new alarm after
the rule's duration. Both need a user of the alarm's enterprise or a platform admin
(``Alarms`` checks); regulators only look. After either, the page's tiles refresh: the answer
carries ``HX-Trigger: alarms-changed``, which the tiles listen for.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import RedirectResponse, Response, StreamingResponse

from indunet.core import IndunetError, Role, User
from indunet.telemetry.alarms import MAX_COMMENT, MAX_NOTE, Alarm, Alarms
from indunet.web.console import alarmfilters, fleet
from indunet.web.console.alarmfilters import Filters
from indunet.web.console.fleet import SEVERITIES
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, is_htmx, page_zone, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser, safe_next
from indunet.web.deps import PathId, StateDep
from indunet.web.platform import Platform

router = APIRouter(include_in_schema=False)

#: State filters offered, as (value, catalogue key); "open" is every alarm not yet closed.
STATE_FILTERS = (
    ("open", N_("alarms.filter.open")),
    ("active", N_("alarmstate.active")),
    ("acknowledged", N_("alarmstate.acknowledged")),
    ("cleared", N_("alarmstate.cleared")),
    ("closed", N_("alarmstate.closed")),
    (alarmfilters.ALL, N_("alarms.filter.all")),
)
SEVERITY_KEYS = {
    "critical": N_("severity.critical"),
    "major": N_("severity.major"),
    "minor": N_("severity.minor"),
    "warning": N_("severity.warning"),
}
SORTS = ("raised", "severity", "device")
MAX_EXPORT = 50_000
"""Most rows one CSV export holds (newest first); narrow the filter for more."""
CHANGED = {"HX-Trigger": "alarms-changed"}
EXPORT_COLUMNS = (
    "id",
    "raised_at",
    "severity",
    "state",
    "device_id",
    "model_id",
    "rule_name",
    "message",
    "value",
    "occurrences",
    "acked_by",
    "acked_at",
    "ack_note",
    "cleared_at",
    "cleared_by",
)


def may_acknowledge(user: User) -> bool:
    """Whether ack, clear and comment forms are offered (regulators only look; the service
    checks again)."""
    return user.role != Role.REGULATOR


def value_text(value: Any) -> str:
    """An alarm's values (point to value) on one line."""
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    return "" if value is None else str(value)


def row_context(user: User, *, show_device: bool) -> dict[str, Any]:
    """What the alarm rows template needs besides the alarms."""
    return {
        "may_ack": may_acknowledge(user),
        "show_device": show_device,
        "severity_keys": SEVERITY_KEYS,
        "alarm_value": value_text,
        "max_note": MAX_NOTE,
    }


def _service(platform: Platform) -> Alarms:
    alarms: Alarms = platform.alarms
    return alarms


def _filters(request: Request, params: QueryParams | None = None) -> Filters:
    return alarmfilters.read(
        params if params is not None else request.query_params,
        page_zone(request),
        datetime.now(UTC),
    )


def _tiles(platform: Platform, user: User, f: Filters) -> dict[str, Any]:
    counts = _service(platform).counts(user, where=f.query())
    return {
        "counts": counts,
        "filters": f,
        "severities": SEVERITIES,
        **row_context(user, show_device=True),
    }


def _context(
    request: Request, platform: Platform, user: User, f: Filters, *, tiles: bool = True
) -> dict[str, Any]:
    alarmfilters.check_visible(platform, user, f)
    paging = paging_of(request, sorts=SORTS, default_sort="raised", default_desc=True)
    f.q = paging.q
    query = f.query()
    service = _service(platform)
    items = service.page(
        user, query, offset=paging.offset, limit=paging.limit, sort=paging.sort, desc=paging.desc
    )
    result = PageOf(items, service.total(user, query), paging)
    models = [m.id for m in platform.models.list_for(user)]
    return {
        "alarms": result.items,
        "result": result,
        "paging": paging,
        "state_filters": STATE_FILTERS,
        "models": models,
        "problems": f.problems,
        "max_export": MAX_EXPORT,
        **f.context(),
        **(_tiles(platform, user, f) if tiles else row_context(user, show_device=True)),
    }


@router.get("/platform/alarms")
def alarms_page(request: Request, user: ConsoleUser, state: StateDep) -> Response:
    """Alarms filtered and paged on the server; HTMX asks for the table alone to refresh it."""
    platform = fleet.platform_of(state)
    fragment = is_htmx(request)  # the table alone: the tiles refresh themselves
    ctx = _context(request, platform, user, _filters(request), tiles=not fragment)
    return render(request, "_alarm_table.html" if fragment else "alarms.html", ctx)


@router.get("/platform/alarms/tiles")
def alarm_tiles(request: Request, user: ConsoleUser, state: StateDep) -> Response:
    """HTMX: the tiles of the current filter (asked again after an acknowledgement)."""
    platform = fleet.platform_of(state)
    f = _filters(request)
    alarmfilters.check_visible(platform, user, f)
    return render(request, "_alarm_tiles.html", _tiles(platform, user, f))


@router.get("/platform/alarms/export.csv")
def export_alarms(request: Request, user: ConsoleUser, state: StateDep) -> Response:
    """The filtered list as CSV (UTF-8 with a byte-order mark, so spreadsheets read Chinese),
    newest first, at most ``MAX_EXPORT`` rows, streamed; times in the page's zone."""
    platform = fleet.platform_of(state)
    f = _filters(request)
    alarmfilters.check_visible(platform, user, f)
    query = f.query()
    service = _service(platform)
    service.total(user, query)  # an unknown state or severity fails here, before streaming
    zone = page_zone(request)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        yield "\ufeff" + buffer.getvalue()
        for alarm in service.export(user, query, limit=MAX_EXPORT):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(_csv_row(alarm, zone.iso))
            yield buffer.getvalue()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="alarms-{stamp}.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


def _csv_row(alarm: Alarm, iso: Any) -> list[str]:
    def when(v: datetime | None) -> str:
        return iso(v) if v is not None else ""

    return [
        str(alarm.id),
        when(alarm.raised_at),
        alarm.severity.value,
        alarm.state.value,
        alarm.device_id,
        alarm.model_id or "",
        alarm.rule_name,
        alarm.message,
        json.dumps(alarm.value, ensure_ascii=False),
        str(alarm.occurrences),
        alarm.acked_by or "",
        when(alarm.acked_at),
        alarm.ack_note or "",
        when(alarm.cleared_at),
        alarm.cleared_by or "",
    ]


@router.get("/platform/devices/{device_id}/alarms")
def device_alarms(request: Request, state: StateDep, user: ConsoleUser, device_id: str) -> Response:
    """HTMX: the alarm rows of one device (its page refreshes them)."""
    platform = fleet.platform_of(state)
    device = fleet.visible_device(platform, user, device_id)
    alarms = platform.alarms.find(user, device_id=device.id, limit=20)
    ctx = {"alarms": alarms, **row_context(user, show_device=False)}
    return render(request, "_alarm_rows.html", ctx)


@router.get("/platform/alarms/{alarm_id}")
def alarm_page(request: Request, state: StateDep, user: ConsoleUser, alarm_id: PathId) -> Response:
    """One alarm: what it is, its comments, and acknowledging, clearing, commenting."""
    platform = fleet.platform_of(state)
    return render(request, "alarm.html", _alarm_context(platform, user, alarm_id))


def _alarm_context(platform: Platform, user: User, alarm_id: int) -> dict[str, Any]:
    service = _service(platform)
    alarm = service.get(user, alarm_id)
    return {
        "alarm": alarm,
        "alarms": [alarm],
        "comments": service.comments(user, alarm_id),
        "max_comment": MAX_COMMENT,
        **row_context(user, show_device=True),
    }


def _back(form: Any, alarm_id: int) -> str:
    return safe_next(str(form.get("next") or f"/platform/alarms/{alarm_id}"))


async def _row_answer(
    request: Request,
    platform: Platform,
    user: User,
    alarm_id: int,
    error: IndunetError | None,
    show_device: bool,
) -> Response:
    """HTMX: the alarm's row again (with the error, if any), and tiles told to refresh."""
    try:
        alarm: Alarm | None = await run_in_threadpool(platform.alarms.get, user, alarm_id)
    except IndunetError:
        alarm = None
    ctx: dict[str, Any] = {"alarms": [alarm] if alarm else [], "failed_id": alarm_id}
    ctx["row_error"] = error_text(request, error) if error else None
    ctx |= row_context(user, show_device=show_device)
    status = 200 if error is None or alarm is not None else error.status
    headers = CHANGED if error is None else None
    response = render(request, "_alarm_rows.html", ctx, status=status)
    if headers:
        response.headers.update(headers)
    return response


async def _fallback(
    request: Request, platform: Platform, user: User, alarm_id: int, exc: IndunetError
) -> Response:
    """A plain form post that failed: the alarm's page with the error (or the error alone)."""
    try:
        ctx = await run_in_threadpool(_alarm_context, platform, user, alarm_id)
    except IndunetError as missing:
        return render(
            request, "alarm.html", {"error": error_text(request, missing)}, status=missing.status
        )
    return render(
        request, "alarm.html", ctx | {"error": error_text(request, exc)}, status=exc.status
    )


@router.post("/platform/alarms/{alarm_id}/ack")
async def acknowledge(
    request: Request, state: StateDep, user: ConsoleUser, alarm_id: PathId
) -> Response:
    """Acknowledge with a note. HTMX gets the row back; a plain form post goes back."""
    platform = fleet.platform_of(state)
    form = await request.form()
    error: IndunetError | None = None
    try:
        await platform.alarms.acknowledge(user, alarm_id, str(form.get("note", ""))[: MAX_NOTE + 1])
    except IndunetError as exc:
        error = exc
    if is_htmx(request):
        return await _row_answer(
            request, platform, user, alarm_id, error, form.get("show_device") != "0"
        )
    if error is not None:
        return await _fallback(request, platform, user, alarm_id, error)
    return RedirectResponse(_back(form, alarm_id), status_code=303)


@router.post("/platform/alarms/{alarm_id}/clear")
async def clear(request: Request, state: StateDep, user: ConsoleUser, alarm_id: PathId) -> Response:
    """Clear by hand (closes the alarm; see the module). HTMX gets the row back."""
    platform = fleet.platform_of(state)
    form = await request.form()
    error: IndunetError | None = None
    try:
        note = str(form.get("note", ""))[: MAX_NOTE + 1]
        await _service(platform).clear_by_hand(user, alarm_id, note)
    except IndunetError as exc:
        error = exc
    if is_htmx(request):
        return await _row_answer(
            request, platform, user, alarm_id, error, form.get("show_device") != "0"
        )
    if error is not None:
        return await _fallback(request, platform, user, alarm_id, error)
    return RedirectResponse(_back(form, alarm_id), status_code=303)


@router.post("/platform/alarms/{alarm_id}/comments")
async def add_comment(
    request: Request, state: StateDep, user: ConsoleUser, alarm_id: PathId
) -> Response:
    """Add a comment, then back to the alarm's page (which lists it)."""
    platform = fleet.platform_of(state)
    form = await request.form()
    text = str(form.get("text", ""))[: MAX_COMMENT + 1]
    try:
        await run_in_threadpool(_service(platform).comment, user, alarm_id, text)
    except IndunetError as exc:
        response = await _fallback(request, platform, user, alarm_id, exc)
        return response
    return RedirectResponse(f"/platform/alarms/{alarm_id}#comments", status_code=303)
