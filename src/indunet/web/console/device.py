"""One device's page: header, live values (refreshed by HTMX), charts fed by the series
endpoint (with the device's offline gaps), its online/offline history, the device's alarms,
the command form and its identifier record."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from indunet.core import IndunetError, NotFound, Role, User
from indunet.devices import Device, Point, ThingModel
from indunet.telemetry import BAD, UNCERTAIN, Sample
from indunet.web.console import alarms as alarm_rows
from indunet.web.console import fleet
from indunet.web.console.deviceform import manage_context
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_, Translator, locale_of, translator
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.platform import Platform
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)

#: Chart ranges: span in ms, and bucket width for downsampling (None: raw samples).
RANGES: dict[str, tuple[int, int | None]] = {
    "15m": (15 * 60_000, None),
    "1h": (3_600_000, None),
    "24h": (86_400_000, 60_000),
    "7d": (7 * 86_400_000, 600_000),
}
RANGE_KEYS = {
    "15m": N_("device.range.15m"),
    "1h": N_("device.range.1h"),
    "24h": N_("device.range.24h"),
    "7d": N_("device.range.7d"),
}
#: How often the page's script redraws a chart of each range, in ms.
REFRESH_MS = {"15m": 2000, "1h": 5000, "24h": 60_000, "7d": 300_000}
RAW_LIMIT = 20_000
#: Up to this many samples in a bucketed range are drawn raw: a device with little history
#: (a day of readings in the 7-day range) shows its points instead of a few lone buckets.
FEW_SAMPLES = 2_000
STATUS_ROWS = 20  # online/offline changes shown on the page
CHARTED = ("number", "integer", "boolean")
DEFAULT_CHARTS = 2
QUALITY = {0: N_("quality.good"), UNCERTAIN: N_("quality.uncertain"), BAD: N_("quality.bad")}
COMMAND_STATE_KEYS = {
    "pending": N_("commandstate.pending"),
    "succeeded": N_("commandstate.succeeded"),
    "failed": N_("commandstate.failed"),
    "timeout": N_("commandstate.timeout"),
}
CHART_TEXT = {"no_data": N_("device.chart.no_data"), "avg": N_("device.chart.avg")}
CHART_TEXT |= {"min": N_("device.chart.min"), "band": N_("device.chart.band")}
TRUE_WORDS = frozenset({"true", "1", "on", "yes", "是", "开"})
FALSE_WORDS = frozenset({"false", "0", "off", "no", "否", "关"})


@dataclass(frozen=True)
class LiveRow:
    """One point in the live values table."""

    name: str
    title: str
    value: str
    unit: str
    quality: int | None
    age: str


def value_text(t: Translator, value: Any) -> str:
    """A sample value for people: booleans in words, numbers without float noise."""
    if isinstance(value, bool):
        return t("common.yes") if value else t("common.no")
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def live_rows(t: Translator, model: ThingModel | None, latest: dict[str, Sample]) -> list[LiveRow]:
    """Every point of the model (then any other point with data), newest value first."""
    now = fleet.now_ms()
    points: dict[str, Point] = dict(model.points) if model else {}
    rows = []
    for name in [*points, *sorted(set(latest) - set(points))]:
        p = points.get(name)
        s = latest.get(name)
        rows.append(
            LiveRow(
                name=name,
                title=fleet.title_in(p.title, t.locale, name) if p else name,
                value=value_text(t, s.value) if s else "—",
                unit=(p.unit or "") if p else "",
                quality=s.quality if s else None,
                age=fleet.age_text(t, now - s.ts) if s else "",
            )
        )
    return rows


def _latest(platform: Platform, device_id: str) -> dict[str, Sample]:
    return platform.store.latest(device_id)


def chart_config(
    t: Translator, device: Device, model: ThingModel | None, with_data: set[str]
) -> dict[str, Any]:
    """What the page's chart script needs: points to offer (those with data drawn first),
    texts, the series endpoint and refresh rates."""
    points = [
        {
            "name": p.name,
            "title": fleet.title_in(p.title, t.locale, p.name),
            "unit": p.unit or "",
            "type": p.type,
        }
        for p in (model.points.values() if model else ())
        if p.type in CHARTED
    ]
    return {
        "device": device.id,
        "points": points,
        "selected": [p["name"] for p in points if p["name"] in with_data][:DEFAULT_CHARTS],
        "range": "15m",
        "series_url": f"/platform/devices/{device.id}/series",
        "refresh_ms": REFRESH_MS,
        "text": {k: t(v) for k, v in CHART_TEXT.items()},
    }


def may_command(user: User) -> bool:
    """Whether the command form is offered (the service checks again, per device)."""
    return user.role in (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN)


def _device_context(
    state: AppState, platform: Platform, user: User, device: Device, t: Translator
) -> dict[str, Any]:
    model = platform.devices.model_of(device.id)
    alarms = platform.alarms.find(user, device_id=device.id, limit=20)
    history = platform.commands.history(user, device.id, limit=10)
    status_history = platform.devices.status_history(device.id, limit=STATUS_ROWS)
    latest = _latest(platform, device.id)
    return {
        "device": device,
        "model": model,
        "model_title": fleet.title_in(model.title, t.locale, model.id) if model else "",
        "enterprise": fleet.enterprise_names(state, user, [device.enterprise_id]).get(
            device.enterprise_id, ""
        ),
        "connection": device.to_json()["connection"],
        "rows": live_rows(t, model, latest),
        "alarms": alarms,
        "history": history,
        "status_history": status_history,
        "writable": [p for p in (model.points.values() if model else ()) if p.writable],
        "actions": list(model.actions.values()) if model else [],
        "may_command": may_command(user),
        "config": chart_config(t, device, model, set(latest)),
        "ranges": RANGE_KEYS,
        "quality_keys": QUALITY,
        "title_in": fleet.title_in,
        "seen_ago": fleet.seen_ago,
        **alarm_rows.row_context(user, show_device=False),
    }


async def device_response(
    request: Request,
    state: AppState,
    user: User,
    device: Device,
    extra: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> Response:
    """The device page of ``device`` (``extra``: what an action on it says)."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    ctx = await run_in_threadpool(_device_context, state, platform, user, device, t)
    ctx.update(manage_context(user, device))
    if device.identifier:
        answer = await state.hierarchy.front.resolve(device.identifier)
        ctx["record"] = answer.public_values() if int(answer.rc) == 1 else []
    ctx.update(extra or {})
    return render(request, "device.html", ctx, status=status)


@router.get("/platform/devices/{device_id}")
async def device_page(
    request: Request, state: StateDep, user: ConsoleUser, device_id: str
) -> Response:
    """Everything about one device."""
    platform = fleet.platform_of(state)
    try:
        device = fleet.visible_device(platform, user, device_id)
    except NotFound:
        return render(request, "device.html", {"missing": device_id}, status=404)
    return await device_response(request, state, user, device)


@router.get("/platform/devices/{device_id}/live")
def live_values(request: Request, state: StateDep, user: ConsoleUser, device_id: str) -> Response:
    """HTMX: the live values table body and the device's status line."""
    platform = fleet.platform_of(state)
    t = translator(locale_of(request))
    device = fleet.visible_device(platform, user, device_id)
    model = platform.devices.model_of(device.id)
    ctx = {
        "device": device,
        "rows": live_rows(t, model, _latest(platform, device.id)),
        "quality_keys": QUALITY,
        "seen_ago": fleet.seen_ago,
        "oob": True,
    }
    return render(request, "_live_values.html", ctx)


def _numeric(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float) and math.isfinite(v):
        return float(v)
    return None


def series(platform: Platform, device: Device, point: str, span: str, end: int) -> dict[str, Any]:
    """Chart data of one point: raw ``[ts, value]`` or buckets ``[ts, avg, min, max]``."""
    model = platform.devices.model_of(device.id)
    p = model.points.get(point) if model else None
    if p is None or p.type not in CHARTED:
        raise NotFound(f"device {device.id} has no numeric point {point!r}")
    if span not in RANGES:
        raise NotFound(f"no chart range {span!r}; use {', '.join(RANGES)}")
    width, bucket = RANGES[span]
    start = end - width
    gaps = [g.to_json() for g in platform.devices.gaps(device.id, start, end)]
    out: dict[str, Any] = {"point": point, "range": span, "start": start, "end": end}
    out["gaps"] = gaps  # offline stretches: the chart shades them
    limit = RAW_LIMIT if bucket is None else FEW_SAMPLES
    raw: list[Sample] = platform.store.query(device.id, point, start, end, limit=limit)
    if len(raw) < limit:
        data = [[s.ts, None if s.quality == BAD else _numeric(s.value)] for s in raw]
        return out | {"mode": "raw", "data": data}
    bucket = bucket or max(1000, width // 1000)
    buckets = platform.store.downsample(device.id, point, start, end, bucket)
    data = [[b.start, b.avg, b.min, b.max] for b in buckets]
    return out | {"mode": "buckets", "bucket_ms": bucket, "data": data}


@router.get("/platform/devices/{device_id}/series")
def series_json(
    state: StateDep, user: ConsoleUser, device_id: str, point: str, range: str = "15m"
) -> Response:
    """JSON for the charts: raw samples for short ranges, downsampled buckets for long ones."""
    platform = fleet.platform_of(state)
    try:
        device = fleet.visible_device(platform, user, device_id)
        body = series(platform, device, point, range, fleet.now_ms() + 1)
    except IndunetError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def typed_value(point: Point, text: str) -> Any:
    """The form's text as the point's type, or a ``FormError`` in the page's language."""
    raw = text.strip()
    if point.type == "boolean":
        if raw.lower() in TRUE_WORDS:
            return True
        if raw.lower() in FALSE_WORDS:
            return False
        raise FormError(N_("command.not_boolean"), text=raw)
    if point.type in ("integer", "number"):
        try:
            return int(raw) if point.type == "integer" else float(raw)
        except ValueError:
            raise FormError(N_("command.not_number"), text=raw) from None
    return text


def typed_payload(text: str) -> Any:
    """The action input: JSON, or nothing when left empty."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormError(N_("command.bad_json"), error=exc.msg) from None


@router.post("/platform/devices/{device_id}/command")
async def command(request: Request, state: StateDep, user: ConsoleUser, device_id: str) -> Response:
    """HTMX: write a point or invoke an action; show the outcome and the command history."""
    platform = fleet.platform_of(state)
    form = await request.form()
    ctx: dict[str, Any] = {}
    status = 200
    try:
        # The registry may read through to the database: off the event loop.
        device = await run_in_threadpool(fleet.visible_device, platform, user, device_id)
        model = await run_in_threadpool(platform.devices.model_of, device.id)
        if model is None:
            raise FormError(N_("command.unavailable"))
        if form.get("kind") == "invoke":
            action = str(form.get("action", ""))
            payload = typed_payload(str(form.get("payload", "")))
            done = await platform.commands.request(user, device.id, action=action, payload=payload)
        else:
            name = str(form.get("point", ""))
            point = model.points.get(name)
            value = typed_value(point, str(form.get("value", ""))) if point else None
            done = await platform.commands.request(user, device.id, point=name, value=value)
        ctx["done"] = done
    except (IndunetError, FormError) as exc:
        ctx["error"] = error_text(request, exc)
        status = getattr(exc, "status", 400)
    try:
        ctx["history"] = await run_in_threadpool(
            platform.commands.history, user, device_id, limit=10
        )
    except IndunetError:
        ctx["history"] = []
    # HTMX swaps only 2xx answers; the error is in the fragment either way.
    return render(request, "_command_result.html", ctx, status=200 if is_htmx(request) else status)
