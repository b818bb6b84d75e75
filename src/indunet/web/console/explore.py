"""The telemetry explorer: one device, several points on one chart, any time range, zoom,
and a CSV or Parquet export of exactly the window shown.

The page takes its range as ``from``/``to`` in the page's time zone (``datetime-local``
inputs) or a preset, and converts it to UTC milliseconds here; the chart script and the
export links speak milliseconds (``start``/``end``). Each series is bounded: raw samples
when the window holds at most ``MAX_POINTS`` of them, else buckets of a width that keeps it
under ``MAX_POINTS`` (the store's downsampling, as the series API). A window is at most
``MAX_SPAN_MS`` long, for the chart and the export alike.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from indunet import telemetry
from indunet.core import IndunetError, InvalidInput, NotFound, User
from indunet.devices import Device, Point, ThingModel
from indunet.devices.finder import find
from indunet.telemetry import BAD, Sample
from indunet.web.console import fleet
from indunet.web.console.i18n import N_, locale_of, translator
from indunet.web.console.pages import error_text, page_zone, render
from indunet.web.console.paging import MAX_QUERY
from indunet.web.console.session import ConsoleUser
from indunet.web.console.zones import Zone
from indunet.web.deps import StateDep
from indunet.web.platform import Platform

router = APIRouter(include_in_schema=False)

HOUR_MS = 3_600_000
PRESETS = {"1h": HOUR_MS, "24h": 24 * HOUR_MS, "7d": 7 * 24 * HOUR_MS, "30d": 30 * 24 * HOUR_MS}
PRESET_KEYS = {
    "1h": N_("explore.preset.1h"),
    "24h": N_("explore.preset.24h"),
    "7d": N_("explore.preset.7d"),
    "30d": N_("explore.preset.30d"),
}
DEFAULT_PRESET = "24h"
MAX_SPAN_MS = 31 * 24 * HOUR_MS
"""The longest window the chart draws and the export writes."""
MAX_POINTS = 2000
"""The most values one series sends to the chart (raw samples or buckets)."""
MAX_SERIES = 8
"""The most points on one chart (and in one export)."""
MAX_TIME_TEXT = 32
"""Characters of a refused from/to value given back in its field."""
MIN_BUCKET_MS = 1000
CHARTED = ("number", "integer", "boolean")
FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
CHART_TEXT = {
    "no_data": N_("explore.chart.no_data"),
    "normalised": N_("explore.chart.normalised"),
    "raw": N_("explore.chart.raw"),
    "buckets": N_("explore.chart.buckets"),
}


def local_ms(text: str, zone: Zone, field: str) -> int:
    """A ``datetime-local`` value (``2026-12-06T08:30``) in ``zone`` as UTC milliseconds;
    ``InvalidInput`` naming ``field`` otherwise (or before 2000)."""
    raw = text.strip()[:32]
    when = zone.local(raw)
    if when is None or when.year < 2000:
        raise InvalidInput(
            f"{field} must be a local date and time after 2000 such as 2026-12-06T08:30, "
            f"not {raw!r}",
            reason="explore_bad_time",
            params={"field": field, "value": raw},
        )
    return int(when.timestamp() * 1000)


def local_text(ms: int, zone: Zone) -> str:
    """UTC milliseconds as a ``datetime-local`` value in ``zone``."""
    return zone.at(ms).strftime(LOCAL_FORMAT)


def checked_window(start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` if it is a window the explorer draws; else ``InvalidInput``."""
    if end <= start:
        raise InvalidInput(
            "the end of the range must be after its start", reason="explore_empty_range", params={}
        )
    if end - start > MAX_SPAN_MS:
        days = MAX_SPAN_MS // (24 * HOUR_MS)
        raise InvalidInput(
            f"a range is at most {days} days long",
            reason="explore_range_too_long",
            params={"days": days},
        )
    return start, end


def window_of(params: Any, zone: Zone, now: int) -> tuple[int, int, str]:
    """The page's window from ``from``/``to`` (page zone) or ``range`` (a preset); the
    preset's key, or ``""`` for a custom range."""
    lo_text, hi_text = params.get("from") or "", params.get("to") or ""
    if lo_text or hi_text:
        hi = local_ms(hi_text, zone, "to") if hi_text else now
        lo = local_ms(lo_text, zone, "from") if lo_text else hi - PRESETS[DEFAULT_PRESET]
        return (*checked_window(lo, hi), "")
    preset = params.get("range") or DEFAULT_PRESET
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    return now - PRESETS[preset], now, preset


def ms_param(value: str | None, name: str) -> int:
    """A ``start``/``end`` query value in milliseconds since 1970."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 15:
        raise InvalidInput(
            f"{name} must be milliseconds since 1970",
            reason="explore_bad_time",
            params={"field": name, "value": text[:32]},
        )
    return int(text)


def charted_points(model: ThingModel | None) -> list[Point]:
    """The points of a model the chart can draw (numbers and booleans)."""
    return [p for p in (model.points.values() if model else ()) if p.type in CHARTED]


def chosen_points(model: ThingModel | None, names: list[str]) -> list[Point]:
    """The named charted points of ``model``, in the model's order; ``InvalidInput`` for a
    name it lacks or for too many."""
    names = [n for n in dict.fromkeys(n.strip() for n in names) if n]
    if len(names) > MAX_SERIES:
        raise InvalidInput(
            f"at most {MAX_SERIES} points on one chart",
            reason="explore_too_many_points",
            params={"max": MAX_SERIES},
        )
    points = {p.name: p for p in charted_points(model)}
    unknown = [n for n in names if n not in points]
    if unknown:
        raise InvalidInput(
            f"the device has no numeric point {unknown[0][:64]!r}",
            reason="explore_unknown_point",
            params={"point": unknown[0][:64]},
        )
    return [points[n] for n in names]


def bucket_width(span: int) -> int:
    """A bucket width (a whole number of seconds, at least one) that keeps a series of
    ``span`` ms under ``MAX_POINTS`` buckets."""
    width = max(MIN_BUCKET_MS, math.ceil(span / MAX_POINTS))
    return math.ceil(width / 1000) * 1000


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float) and math.isfinite(v):
        return float(v)
    return None


def one_series(
    store: telemetry.TimeSeriesStore, device: str, point: Point, start: int, end: int
) -> dict[str, Any]:
    """One point's values in ``[start, end)``: raw ``[ts, value]`` when there are at most
    ``MAX_POINTS``, else bucket averages ``[start, avg, min, max]``."""
    out: dict[str, Any] = {"point": point.name, "unit": point.unit or "", "type": point.type}
    raw: list[Sample] = store.query(device, point.name, start, end, limit=MAX_POINTS + 1)
    if len(raw) <= MAX_POINTS:
        data = [[s.ts, None if s.quality == BAD else _number(s.value)] for s in raw]
        return out | {"mode": "raw", "data": data}
    width = bucket_width(end - start)
    buckets = store.downsample(device, point.name, start, end, width)
    data = [[b.start, b.avg, b.min, b.max] for b in buckets]
    return out | {"mode": "buckets", "bucket_ms": width, "data": data}


def series_of(
    platform: Platform, device: Device, points: list[Point], start: int, end: int, locale: str
) -> dict[str, Any]:
    """The chart's data: every chosen point's series and the device's gaps."""
    series = []
    for p in points:
        s = one_series(platform.store, device.id, p, start, end)
        series.append(s | {"title": fleet.title_in(p.title, locale, p.name)})
    gaps = [g.to_json() for g in platform.devices.gaps(device.id, start, end)]
    return {"device": device.id, "start": start, "end": end, "series": series, "gaps": gaps}


def _device_and_model(
    platform: Platform, user: User, device_id: str
) -> tuple[Device, ThingModel | None]:
    device = fleet.visible_device(platform, user, device_id[:200])
    return device, platform.devices.model_of(device.id)


def _matches(state: Any, user: User, q: str) -> list[tuple[str, str]]:
    text = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return find(state.engine, f"%{text}%", fleet.scope(user), limit=20)


def _page_context(request: Request, state: Any, user: User) -> tuple[dict[str, Any], int]:
    """Everything the page shows, and its status (404 for a device the user cannot see)."""
    platform = fleet.platform_of(state)
    params = request.query_params
    zone = page_zone(request)
    t = translator(locale_of(request))
    q = (params.get("q") or "").strip()[:MAX_QUERY]
    device_id = (params.get("device") or "").strip()
    ctx: dict[str, Any] = {"q": q, "presets": PRESET_KEYS, "device": None, "formats": FORMATS}
    ctx["matches"] = _matches(state, user, q)
    ctx["max_series"] = MAX_SERIES
    now = fleet.now_ms()
    typed = None
    try:
        start, end, preset = window_of(params, zone, now)
    except InvalidInput as exc:
        ctx["error"] = error_text(request, exc)
        start, end, preset = now - PRESETS[DEFAULT_PRESET], now, DEFAULT_PRESET
        typed = [(params.get(k) or "")[:MAX_TIME_TEXT] for k in ("from", "to")]
    ctx |= {
        "preset": preset,
        "from_text": local_text(start, zone),
        "to_text": local_text(end, zone),
    }
    if typed:  # a refused range stays in its fields to be corrected
        ctx |= {"from_text": typed[0], "to_text": typed[1]}
    if not device_id:
        return ctx, 200 if "error" not in ctx else 400
    try:
        device, model = _device_and_model(platform, user, device_id)
    except NotFound:
        return ctx | {"missing": device_id[:200]}, 404
    offered = charted_points(model)
    try:
        chosen = chosen_points(model, params.getlist("points"))
    except InvalidInput as exc:
        ctx["error"] = error_text(request, exc)
        chosen = []
    if not chosen and not params.getlist("points"):
        latest = platform.store.latest(device.id)
        chosen = [p for p in offered if p.name in latest][:2] or offered[:1]
    ctx |= {
        "device": device,
        "offered": offered,
        "chosen": {p.name for p in chosen},
        "title_in": fleet.title_in,
        "config": {
            "device": device.id,
            "points": [p.name for p in chosen],
            "start": start,
            "end": end,
            "max_span": MAX_SPAN_MS,
            "series_url": "/platform/explore/series",
            "export_url": "/platform/explore/export",
            "text": {k: t(v) for k, v in CHART_TEXT.items()},
        },
    }
    return ctx, 400 if "error" in ctx else 200


@router.get("/platform/explore")
def explore_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Pick a device (search), points and a range; the chart and the export links."""
    ctx, status = _page_context(request, state, user)
    return render(request, "explore.html", ctx, status=status)


def _query_window(request: Request) -> tuple[int, int]:
    params = request.query_params
    return checked_window(
        ms_param(params.get("start"), "start"), ms_param(params.get("end"), "end")
    )


def _points_param(request: Request) -> list[str]:
    names: list[str] = []
    for value in request.query_params.getlist("points")[: MAX_SERIES + 1]:
        names += value.split(",")
    return names[: MAX_SERIES + 1]


@router.get("/platform/explore/series")
def explore_series(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """JSON for the chart: the chosen points of a device in ``[start, end)`` (ms)."""
    platform = fleet.platform_of(state)
    try:
        device, model = _device_and_model(platform, user, request.query_params.get("device") or "")
        points = chosen_points(model, _points_param(request))
        start, end = _query_window(request)
        body = series_of(platform, device, points, start, end, locale_of(request))
    except IndunetError as exc:
        shown = exc.to_dict() | {"text": error_text(request, exc)}
        return JSONResponse(shown, status_code=exc.status)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _file_stamp(ms: int, zone: Zone) -> str:
    """``ms`` in the page's zone as a file name part: 20261207-061439."""
    return zone.clock(ms).replace("-", "").replace(" ", "-").replace(":", "")


@router.get("/platform/explore/export")
async def explore_export(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The samples of the chosen points in ``[start, end)`` (ms), raw, as CSV (with the
    device's gaps) or Parquet, streamed."""
    platform = fleet.platform_of(state)
    fmt = request.query_params.get("format", "csv")
    try:
        if fmt not in FORMATS:
            raise InvalidInput(
                "format must be csv or parquet", reason="explore_bad_format", params={}
            )
        device, model = await run_in_threadpool(
            _device_and_model, platform, user, request.query_params.get("device") or ""
        )
        points = chosen_points(model, _points_param(request))
        if not points:
            raise InvalidInput("choose at least one point", reason="explore_no_points", params={})
        start, end = _query_window(request)
        gaps = await run_in_threadpool(platform.devices.gaps, device.id, start, end)
    except IndunetError as exc:  # the page again, saying what was wrong
        ctx, _ = await run_in_threadpool(_page_context, request, state, user)
        ctx["error"] = error_text(request, exc)
        return render(request, "explore.html", ctx, status=exc.status)
    rows = telemetry.store_samples(platform.store, device.id, [p.name for p in points], start, end)
    if fmt == "csv":
        chunks = telemetry.csv_chunks(rows, gaps=[(device.id, g.start, g.end) for g in gaps])
    else:
        chunks = telemetry.parquet_chunks(rows)
    zone = page_zone(request)
    name = f"{device.id}-{_file_stamp(start, zone)}-{_file_stamp(end, zone)}.{fmt}"
    return StreamingResponse(
        chunks,
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
