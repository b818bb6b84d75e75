"""The wall display (大屏) and its display tokens.

``/wall`` is a full-screen, dark, self-refreshing page for a control-room screen. It is opened
with a display token, never with a login: ``/wall?display=<token>`` checks the token once,
sets it as an httponly cookie scoped to ``/wall`` and redirects to ``/wall``; from then on the
page and its data (``/wall/data``) read the cookie. A token opens nothing but these two
routes (the console and the API know only sessions and API tokens), and they only read. An
unknown, expired or revoked token gets a page saying so, with no login prompt.

What a wall shows is the token's scope: one enterprise, the enterprises registered in one
region (``Enterprise.region``), or every enterprise. Platform admins make tokens of any
scope; an enterprise's admins of their own enterprise (``/platform/displays``, shown once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from indunet import core, telemetry
from indunet.core import IndunetError, User, access
from indunet.telemetry import Display
from indunet.web.console import fleet
from indunet.web.console.devices import status_counts
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.overview import MEMO, figures
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

DISPLAY_COOKIE = "indunet_display"
WALL_PATH = "/wall"
REFRESH_MS = 30_000
DAY_MS = 86_400_000
STEP_MS = 30 * 60_000
OFFLINE_ROWS = 8
SCOPE_KEYS = {
    "enterprise": N_("display.scope.enterprise"),
    "region": N_("display.scope.region"),
    "all": N_("display.scope.all"),
}


# -- managing display tokens (console, session) ---------------------------------------------


def displays(state: AppState) -> telemetry.Displays:
    """The display tokens service."""
    return telemetry.Displays(state.engine)


def _regions(state: AppState) -> list[str]:
    with state.engine.connect() as conn:
        return core.enterprises.regions(conn)


def _list_context(request: Request, state: AppState, user: User) -> dict[str, Any]:
    paging = paging_of(request)
    items, total = displays(state).page(
        user, like=paging.like, offset=paging.offset, limit=paging.limit
    )
    platform_admin = user.role is core.Role.PLATFORM_ADMIN
    return {
        "result": PageOf(items, total, paging),
        "enterprises": fleet.enterprise_names(state, user, [d.enterprise_id for d in items]),
        "regions": _regions(state) if platform_admin else [],
        "platform_admin": platform_admin,
        "may_create": user.role in access.CHANGERS,
        "scope_keys": SCOPE_KEYS,
        "now": datetime.now().astimezone(),
    }


@router.get("/platform/displays")
def displays_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Display tokens the user may see (searched, paged), and the form to make one."""
    fleet.platform_of(state)
    return render(request, "displays.html", _list_context(request, state, user))


def _scope_form(user: User, form: Any) -> dict[str, Any]:
    kind = str(form.get("scope", "enterprise"))
    eid_text = str(form.get("enterprise_id", "")).strip()
    days_text = str(form.get("days", "")).strip()
    days = int(days_text) if days_text.isdigit() and len(days_text) < 6 else 0
    out: dict[str, Any] = {"name": str(form.get("name", "")), "days": days}
    if kind == "region":
        out["region"] = str(form.get("region", ""))[:200]
        if not out["region"].strip():
            raise core.InvalidInput("choose a region", reason="display_region", params={"max": 100})
    elif kind != "all" or not access.sees_all(user):
        if eid_text and (not eid_text.isdigit() or len(eid_text) > 18):
            raise core.NotFound(f"no enterprise {eid_text[:20]!r}", reason="board_no_enterprise")
        out["enterprise_id"] = int(eid_text) if eid_text else user.enterprise_id
        if out["enterprise_id"] is None:
            raise core.InvalidInput("choose the enterprise", reason="board_enterprise")
    return out


@router.post("/platform/displays")
async def create_display(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Make a display token; the page shows its URL once."""
    fleet.platform_of(state)
    form = await request.form()
    try:
        fields = _scope_form(user, form)
        made, token = await run_in_threadpool(lambda: displays(state).create(user, **fields))
    except IndunetError as exc:
        ctx = await run_in_threadpool(_list_context, request, state, user)
        return render(
            request, "displays.html", ctx | {"error": error_text(request, exc)}, status=exc.status
        )
    ctx = await run_in_threadpool(_list_context, request, state, user)
    # The address the operator set (INDUNET_PUBLIC_URL), else the one this page was asked at.
    public = state.settings.public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    ctx |= {"made": made, "url": f"{base}{WALL_PATH}?display={token}"}
    response = render(request, "displays.html", ctx)
    response.headers["Cache-Control"] = "no-store"  # the token is on this page, once
    return response


@router.post("/platform/displays/{display_id}/revoke")
def revoke_display(
    request: Request, state: StateDep, user: ConsoleUser, display_id: PathId
) -> Response:
    """Revoke a display token at once; a wall showing it goes blank at its next refresh."""
    fleet.platform_of(state)
    try:
        displays(state).revoke(user, display_id)
    except IndunetError as exc:
        ctx = _list_context(request, state, user)
        return render(
            request, "displays.html", ctx | {"error": error_text(request, exc)}, status=exc.status
        )
    return RedirectResponse("/platform/displays", status_code=303)


# -- the wall (display token only) ----------------------------------------------------------


def _scope(state: AppState, display: Display) -> tuple[list[int] | None, str]:
    """The enterprises a display shows and its name for the header."""
    if display.enterprise_id is not None:
        with state.engine.connect() as conn:
            names = core.enterprises.names_of(conn, [display.enterprise_id])
        return [display.enterprise_id], names.get(display.enterprise_id, "")
    if display.region:
        with state.engine.connect() as conn:
            ids = core.enterprises.ids_in_region(conn, display.region)
        return ids, core.regions.label(display.region, full=True)
    return None, ""


def _devices(platform: Platform, scope: list[int] | None) -> dict[str, Any]:
    """Device counts by status and the first offline devices of the enterprises in ``scope``."""
    wanted = None if scope is None else set(scope)  # from memory, not 100,000 rows a refresh
    found = [d for d in platform.devices.in_memory() if wanted is None or d.enterprise_id in wanted]
    offline = sorted((d for d in found if d.status == "offline"), key=lambda d: d.id)
    offline = offline[:OFFLINE_ROWS]
    return {
        "counts": status_counts(found),
        "offline": [{"id": d.id, "name": d.name, "since": d.last_seen} for d in offline],
    }


def wall_data(state: AppState, platform: Platform, display: Display) -> dict[str, Any]:
    """Everything the wall shows, for the display's scope."""
    scope, name = _scope(state, display)
    key = ("wall", str(state.engine.url), None if scope is None else tuple(sorted(scope)))
    devices = MEMO.get(key, lambda: _devices(platform, scope))
    end = fleet.now_ms()
    end += STEP_MS - end % STEP_MS
    start = end - DAY_MS
    out: dict[str, Any] = {
        "scope": display.kind,
        "name": name,
        "devices": devices["counts"],
        "alarm_counts": telemetry.trends.open_alarm_counts(state.engine, scope),
        "start": start,
        "end": end,
        **figures(state, scope, start, end, STEP_MS),
        "recent": telemetry.trends.recent_open(state.engine, scope, OFFLINE_ROWS),
        "offline": devices["offline"],
        "ingest": None,
        "at": fleet.now_ms(),
    }
    if scope is None:  # the pipeline's counters are platform-wide
        out["ingest"] = [
            [m.start, m.accepted, m.stored] for m in platform.ingest_rate.series(start)
        ]
    return out


def _display_of(state: AppState, token: str | None) -> Display | None:
    return displays(state).opened_by(token)


def _closed(request: Request) -> Response:
    response = render(request, "wall.html", {"closed": True}, status=401)
    response.delete_cookie(DISPLAY_COOKIE, path=WALL_PATH, httponly=True, samesite="lax")
    return response


@router.get(WALL_PATH)
async def wall(request: Request, state: StateDep, display: str | None = None) -> Response:
    """The wall display: opened with ``?display=<token>`` once, then by its cookie."""
    platform = fleet.platform_of(state)
    if display is not None:
        found = await run_in_threadpool(_display_of, state, display)
        if found is None:
            return _closed(request)
        response = RedirectResponse(WALL_PATH, status_code=303)
        left = int((found.expires_at - datetime.now(found.expires_at.tzinfo)).total_seconds())
        response.set_cookie(
            DISPLAY_COOKIE,
            display,
            max_age=max(1, left),
            path=WALL_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response
    found = await run_in_threadpool(_display_of, state, request.cookies.get(DISPLAY_COOKIE))
    if found is None:
        return _closed(request)
    data = await run_in_threadpool(wall_data, state, platform, found)
    t = translator(locale_of(request))
    config = {
        "data_url": f"{WALL_PATH}/data",
        "refresh_ms": REFRESH_MS,
        "text": {
            "online": t("overview.chart.online"),
            "accepted": t("overview.chart.accepted"),
            "stored": t("overview.chart.stored"),
            "alarms": t("overview.chart.alarms"),
            "no_data": t("overview.chart.no_data"),
            "severity": {s: t(f"severity.{s}") for s in fleet.SEVERITIES},
            "closed": t("wall.closed"),
        },
    }
    ctx = {"data": data, "config": config, "scope_keys": SCOPE_KEYS}
    return render(request, "wall.html", ctx)


@router.get(f"{WALL_PATH}/data")
def wall_json(request: Request, state: StateDep) -> Response:
    """JSON: what the wall shows now (401 once the token expired or was revoked)."""
    platform = fleet.platform_of(state)
    found = _display_of(state, request.cookies.get(DISPLAY_COOKIE))
    if found is None:
        err = core.AuthenticationFailed("this wall display's link expired or was revoked")
        return JSONResponse(err.to_dict(), status_code=401)
    body = wall_data(state, platform, found)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
