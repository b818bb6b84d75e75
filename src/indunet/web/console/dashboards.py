"""User-arranged dashboards: the list (search, paging), a dashboard drawn from its widgets, and
the editor where an enterprise's admins compose, order, size and save one.

Everyone who may see the enterprise sees its dashboards; only platform admins and the
enterprise's admins edit (``telemetry.Dashboards`` asks ``core.access``). The editor posts the
layout as JSON (``static/dashboard.js`` builds it; without script, the JSON field is the
editor). Widget data comes from ``/platform/dashboards/{id}/data``: the store's buckets and
latest values and the alarm service, for the dashboard's enterprise only, every device checked
again when read (a device that left the enterprise shows as missing).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from indunet import core, telemetry
from indunet.core import IndunetError, NotFound, User, access
from indunet.telemetry import Dashboard
from indunet.telemetry.dashboards import LIMITS, RANGES, WIDGET_TYPES, WIDTHS
from indunet.web.console import fleet
from indunet.web.console.device import value_text
from indunet.web.console.i18n import N_, Translator, locale_of, translator
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: Chart windows of a widget: span and bucket in ms.
SPANS = {"1h": (3_600_000, 60_000), "24h": (86_400_000, 900_000), "7d": (7 * 86_400_000, 7_200_000)}
DEVICE_MATCHES = 20
EDITOR_TEXT = {
    k: N_(f"board.editor.{k}")
    for k in (
        "type",
        "title",
        "width",
        "device",
        "points",
        "point",
        "range",
        "min",
        "max",
        "rows",
        "devices",
        "text",
        "up",
        "down",
        "remove",
        "no_points",
        "pick_device",
        "widget",
    )
}
TYPE_KEYS = {k: N_(f"board.type.{k}") for k in WIDGET_TYPES}
RANGE_KEYS = {k: N_(f"board.range.{k}") for k in RANGES}


def service(platform: Platform) -> telemetry.Dashboards:
    """The dashboards of the platform's enterprises."""
    return telemetry.Dashboards(platform.engine, platform.devices.lookup, platform.devices.model_of)


def may_edit(user: User, board: Dashboard) -> bool:
    """Whether ``user`` may change ``board`` (the service checks again)."""
    return access.can_change(user, board.enterprise_id)


def may_create(user: User) -> bool:
    """Whether the new-dashboard form is offered (platform and enterprise admins)."""
    return user.role in access.CHANGERS


def _list_context(
    request: Request, state: AppState, platform: Platform, user: User
) -> dict[str, Any]:
    paging = paging_of(request, sorts=("name", "updated"), default_sort="name")
    chosen = _form_id(request.query_params.get("enterprise_id", ""))
    boards, total = service(platform).page(
        user,
        enterprise_id=chosen,
        q=paging.q,
        like=paging.like,
        offset=paging.offset,
        limit=paging.limit,
        sort=paging.sort,
        desc=paging.desc,
    )
    names = fleet.enterprise_names(state, user, [b.enterprise_id for b in boards] + [chosen])
    return {
        "result": PageOf(boards, total, paging),
        "chosen": chosen,
        "enterprises": names,
        "may_create": may_create(user),
        "choose_enterprise": user.role is core.Role.PLATFORM_ADMIN,
    }


@router.get("/platform/dashboards")
def dashboards_page(
    request: Request, state: StateDep, user: ConsoleUser, enterprise_id: str = ""
) -> Response:
    """Dashboards the user may see, searched, filtered by enterprise (``enterprise_id``) and
    paged; admins get the new-dashboard form."""
    platform = fleet.platform_of(state)
    try:
        ctx = _list_context(request, state, platform, user)
    except IndunetError as exc:  # naming an enterprise the user may not see
        return refused(request, exc)
    return render(request, "dashboards.html", ctx)


def _form_id(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"no enterprise {text[:20]!r}", reason="board_no_enterprise")
    return int(text)


@router.post("/platform/dashboards")
async def create_dashboard(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Make an empty dashboard and open its editor."""
    platform = fleet.platform_of(state)
    form = await request.form()
    try:
        eid = _form_id(str(form.get("enterprise_id", "")))
        if eid is None and not access.sees_all(user):
            eid = user.enterprise_id
        board = await run_in_threadpool(
            service(platform).create, user, str(form.get("name", "")), eid
        )
    except IndunetError as exc:
        ctx = await run_in_threadpool(_list_context, request, state, platform, user)
        ctx |= {"error": error_text(request, exc), "name": str(form.get("name", ""))[:100]}
        return render(request, "dashboards.html", ctx, status=exc.status)
    return RedirectResponse(f"/platform/dashboards/{board.id}/edit", status_code=303)


def _board_context(
    state: AppState, platform: Platform, user: User, board: Dashboard, t: Translator
) -> dict[str, Any]:
    return {
        "board": board,
        "enterprise": fleet.enterprise_names(state, user, [board.enterprise_id]).get(
            board.enterprise_id, ""
        ),
        "may_edit": may_edit(user, board),
        "type_keys": TYPE_KEYS,
        "config": {
            "data_url": f"/platform/dashboards/{board.id}/data",
            "refresh_ms": 30_000,
            "text": {
                "no_data": t("board.no_data"),
                "missing": t("board.missing"),
                "status": {s: t(k) for s, k in fleet.STATUS_KEYS.items()},
                "severity": {s: t(f"severity.{s}") for s in fleet.SEVERITIES},
                "device": t("board.col.device"),
                "name": t("board.col.name"),
                "location": t("board.col.location"),
                "value": t("board.col.value"),
                "point": t("board.col.point"),
                "time": t("board.col.time"),
                "message": t("board.col.message"),
                "no_alarms": t("alarms.none"),
            },
        },
    }


def refused(request: Request, exc: IndunetError) -> Response:
    """The page of a dashboard that is not there (404) or may not be changed (403)."""
    return render(
        request, "dashboard.html", {"failure": error_text(request, exc)}, status=exc.status
    )


@router.get("/platform/dashboards/{board_id}")
def dashboard_page(
    request: Request, state: StateDep, user: ConsoleUser, board_id: PathId
) -> Response:
    """One dashboard, its widgets filled by the page's script."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    try:
        board = service(platform).get(user, board_id)
    except IndunetError as exc:
        return refused(request, exc)
    return render(request, "dashboard.html", _board_context(state, platform, user, board, t))


def _editor_context(
    state: AppState, platform: Platform, user: User, board: Dashboard, t: Translator
) -> dict[str, Any]:
    ctx = _board_context(state, platform, user, board, t)
    ctx["editing"] = True
    ctx["layout_text"] = json.dumps(board.layout, ensure_ascii=False, indent=1)
    ctx["editor"] = {
        "devices_url": f"/platform/dashboards/{board.id}/devices",
        "types": [{"value": k, "label": t(v)} for k, v in TYPE_KEYS.items()],
        "widths": list(WIDTHS),
        "ranges": [{"value": k, "label": t(v)} for k, v in RANGE_KEYS.items()],
        "limits": {"widgets": LIMITS.widgets, "chart_points": LIMITS.chart_points},
        "text": {k: t(v) for k, v in EDITOR_TEXT.items()},
    }
    return ctx


@router.get("/platform/dashboards/{board_id}/edit")
def edit_page(request: Request, state: StateDep, user: ConsoleUser, board_id: PathId) -> Response:
    """The editor: widgets in order with their fields, move up/down, width, save."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    try:
        board = service(platform).get(user, board_id)
        access.check_change(user, board.enterprise_id, f"dashboard {board_id}")
    except IndunetError as exc:
        return refused(request, exc)
    return render(request, "dashboard.html", _editor_context(state, platform, user, board, t))


@router.post("/platform/dashboards/{board_id}")
async def save_dashboard(
    request: Request, state: StateDep, user: ConsoleUser, board_id: PathId
) -> Response:
    """Save the name and layout (checked whole: nothing is written when any widget is wrong)."""
    platform = fleet.platform_of(state)
    form = await request.form()
    name, layout = str(form.get("name", "")), str(form.get("layout", ""))
    boards = service(platform)
    try:
        await run_in_threadpool(boards.save, user, board_id, name, layout)
    except IndunetError as exc:
        if exc.status in (403, 404) and exc.reason != "board_device":
            return refused(request, exc)
        t = translator(locale_of(request))
        board = await run_in_threadpool(boards.get, user, board_id)
        ctx = await run_in_threadpool(_editor_context, state, platform, user, board, t)
        ctx["error"] = error_text(request, exc)
        ctx["layout_text"] = layout[: LIMITS.layout_bytes]
        return render(request, "dashboard.html", ctx, status=exc.status)
    return RedirectResponse(f"/platform/dashboards/{board_id}", status_code=303)


@router.post("/platform/dashboards/{board_id}/delete")
def delete_dashboard(
    request: Request, state: StateDep, user: ConsoleUser, board_id: PathId
) -> Response:
    """Delete the dashboard and go back to the list."""
    try:
        service(fleet.platform_of(state)).delete(user, board_id)
    except IndunetError as exc:
        return refused(request, exc)
    return RedirectResponse("/platform/dashboards", status_code=303)


def _device_row(t: Translator, platform: Platform, device_id: str) -> dict[str, Any]:
    d = platform.devices.lookup(device_id)
    model = platform.devices.model_of(device_id)
    points = [
        {
            "name": p.name,
            "title": fleet.title_in(p.title, t.locale, p.name),
            "unit": p.unit or "",
            "numeric": p.type in telemetry.dashboards.NUMERIC,
        }
        for p in (model.points.values() if model else ())
    ]
    return {"id": device_id, "name": d.name if d else "", "points": points}


@router.get("/platform/dashboards/{board_id}/devices")
def device_matches(
    request: Request, state: StateDep, user: ConsoleUser, board_id: PathId, q: str = ""
) -> Response:
    """JSON for the editor: devices of the dashboard's enterprise matching ``q``, with points."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    try:
        board = service(platform).get(user, board_id)
        access.check_change(user, board.enterprise_id, f"dashboard {board_id}")
    except IndunetError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    needle = q.strip()[:63].casefold()
    found = []
    mine = (d for d in platform.devices.in_memory() if d.enterprise_id == board.enterprise_id)
    for d in sorted(mine, key=lambda d: d.id):
        if not needle or needle in d.id.casefold() or needle in d.name.casefold():
            found.append(_device_row(t, platform, d.id))
            if len(found) >= DEVICE_MATCHES:
                break
    return JSONResponse({"devices": found}, headers={"Cache-Control": "no-store"})


# -- widget data --------------------------------------------------------------------------


def _mine(platform: Platform, board: Dashboard, device_id: str | None) -> Any:
    d = platform.devices.lookup(device_id) if device_id else None
    return d if d is not None and d.enterprise_id == board.enterprise_id else None


def _titles(t: Translator, platform: Platform, device_id: str) -> dict[str, tuple[str, str]]:
    model = platform.devices.model_of(device_id)
    return {
        n: (fleet.title_in(p.title, t.locale, n), p.unit or "")
        for n, p in (model.points.items() if model else ())
    }


def widget_data(
    platform: Platform, user: User, board: Dashboard, w: dict[str, Any], t: Translator, now: int
) -> dict[str, Any]:
    """The data one widget shows (``missing`` when its device left the enterprise)."""
    kind = w["type"]
    if kind == "text":
        return {}
    if kind == "alarms":
        if w.get("device") and _mine(platform, board, w["device"]) is None:
            return {"missing": True}
        alarms = platform.alarms.find(
            user,
            state="open",
            enterprise_id=board.enterprise_id,
            device_id=w.get("device"),
            limit=w["rows"],
        )
        listed = [
            [a.severity.value, a.device_id, a.message, int(a.raised_at.timestamp() * 1000)]
            for a in alarms
        ]
        return {"alarms": listed}
    if kind == "locations":
        rows: list[list[Any]] = []
        for device_id in w["devices"]:
            d = _mine(platform, board, device_id)
            if d is not None:
                place = ", ".join(f"{k}: {v}" for k, v in sorted(d.location.items()))
                rows.append([d.id, d.name, d.status, place])
        return {"devices": rows}
    device = _mine(platform, board, w["device"])
    if device is None:
        return {"missing": True}
    titles = _titles(t, platform, device.id)
    if kind == "chart":
        width, bucket = SPANS[w["range"]]
        start = now - width
        series = []
        for point in w["points"]:
            buckets = platform.store.downsample(device.id, point, start, now, bucket)
            title, unit = titles.get(point, (point, ""))
            data = [[b.start, b.avg] for b in buckets]
            series.append({"name": title, "unit": unit, "data": data})
        return {"start": start, "end": now, "series": series}
    points = [w["point"]] if kind == "gauge" else w["points"] or None
    latest = platform.store.latest(device.id, points)
    if kind == "gauge":
        s = latest.get(w["point"])
        title, unit = titles.get(w["point"], (w["point"], ""))
        value = s.value if s is not None and not isinstance(s.value, str) else None
        return {"value": None if value is None else float(value), "name": title, "unit": unit}
    values: list[list[Any]] = []
    for name in w["points"] or sorted(latest):
        s = latest.get(name)
        title, unit = titles.get(name, (name, ""))
        values.append([title, value_text(t, s.value) if s else "—", unit, s.ts if s else None])
    return {"rows": values}


def board_data(platform: Platform, user: User, board_id: int, t: Translator) -> dict[str, Any]:
    """The data of every widget of a dashboard, in order."""
    board = service(platform).get(user, board_id)
    now = fleet.now_ms()
    return {"widgets": [widget_data(platform, user, board, w, t, now) for w in board.widgets]}


@router.get("/platform/dashboards/{board_id}/data")
def dashboard_data(
    request: Request, state: StateDep, user: ConsoleUser, board_id: PathId
) -> Response:
    """JSON: what each widget shows now."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    try:
        body = board_data(platform, user, board_id, t)
    except IndunetError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
