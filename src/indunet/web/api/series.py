"""Reading telemetry over HTTP: latest values, raw samples, downsampled buckets, exports.

Times are ISO 8601 (``2024-05-01T08:00:00Z``; without an offset they are UTC) or integer
milliseconds since 1970. Without ``end`` the window ends now; without ``start`` it is the
24 hours before ``end``. Platform admins and regulators read every device; enterprise users
only their enterprise's (another enterprise's device is reported as not found).

Raw samples and buckets come with the device's *gaps* in the window (``[{start, end}]`` in ms,
``end`` null while it is still offline): stretches when it was offline, so a chart can tell an
outage from a quiet machine. CSV exports end with one ``gap`` row per gap; the status
history (every online/offline change) is ``GET /devices/{id}/status-history``.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from indunet import telemetry
from indunet.core import InvalidInput, NotFound, User
from indunet.web.deps import PlatformDep, UserDep
from indunet.web.platform import Platform

router = APIRouter(tags=["telemetry"])
DAY_MS = 86_400_000
MAX_SAMPLES = 100_000
MAX_HISTORY = 1000  # status changes per answer
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY_MS}
_BUCKET = re.compile(r"(\d{1,12})(ms|s|m|h|d)?")
_FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def parse_time(value: str | None, parameter: str, default: int) -> int:
    """Milliseconds from ISO 8601 or integer ms; ``default`` when absent."""
    if value is None or value == "":
        return default
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{parameter} must be ISO 8601 (2024-05-01T08:00:00Z) or ms since 1970, not {value!r}",
            detail={"parameter": parameter},
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ms = round(when.timestamp() * 1000)
    if ms < 0:
        raise InvalidInput(
            f"{parameter} is before 1970: {value!r}", detail={"parameter": parameter}
        )
    return ms


def parse_bucket(value: str) -> int:
    """Bucket width in ms from ``1m``, ``5m``, ``1h``, ``10s``, ``1d`` or plain ms."""
    m = _BUCKET.fullmatch(value.strip())
    width = int(m.group(1)) * _UNITS[m.group(2) or "ms"] if m else 0
    if width < 1:
        raise InvalidInput(
            f"bucket must be a width such as 1m, 5m, 1h, 10s, 1d or ms, not {value!r}",
            detail={"parameter": "bucket"},
        )
    return width


def window(start: str | None, end: str | None) -> tuple[int, int]:
    """The ``[start, end)`` window in ms, checked."""
    now = int(time.time() * 1000)
    hi = parse_time(end, "end", now)
    lo = parse_time(start, "start", max(0, hi - DAY_MS))
    if hi < lo:
        raise InvalidInput(f"end ({end}) is before start ({start})", detail={"parameter": "end"})
    return lo, hi


def readable_device(platform: Platform, user: User, device_id: str) -> Any:
    """The device, if it exists and ``user`` may read it; else ``NotFound`` naming it."""
    return platform.devices.visible(user, device_id)


def store_of(platform: Platform) -> telemetry.TimeSeriesStore:
    """The platform's time-series store."""
    if platform.store is None:
        raise NotFound("this process runs no time-series store")
    store: telemetry.TimeSeriesStore = platform.store
    return store


def _sample(s: telemetry.Sample) -> dict[str, Any]:
    return {"ts": s.ts, "value": s.value, "quality": s.quality}


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


def _gaps(platform: Platform, device_id: str, lo: int, hi: int) -> list[dict[str, int | None]]:
    return [g.to_json() for g in platform.devices.gaps(device_id, lo, hi)]


def _points(points: str | None) -> list[str] | None:
    if points is None:
        return None
    return [p.strip() for p in points.split(",") if p.strip()]


@router.get("/devices/{device_id}/latest")
def latest(
    device_id: str, platform: PlatformDep, user: UserDep, points: str | None = None
) -> Response:
    """The newest sample of each point of a device (``points=a,b`` for some only)."""
    readable_device(platform, user, device_id)
    found = store_of(platform).latest(device_id, _points(points))
    return _json({"device": device_id, "points": {p: _sample(s) for p, s in sorted(found.items())}})


@router.get("/devices/{device_id}/points/{point}/samples")
def samples(
    device_id: str,
    point: str,
    platform: PlatformDep,
    user: UserDep,
    start: str | None = None,
    end: str | None = None,
    limit: int = 10_000,
) -> Response:
    """Raw samples of one point in ``[start, end)``, oldest first; ``next`` pages on."""
    readable_device(platform, user, device_id)
    lo, hi = window(start, end)
    if not 1 <= limit <= MAX_SAMPLES:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_SAMPLES}, not {limit}",
            detail={"parameter": "limit"},
        )
    rows = store_of(platform).query(device_id, point, lo, hi, limit=limit)
    more = len(rows) == limit and rows[-1].ts + 1 < hi
    return _json(
        {
            "device": device_id,
            "point": point,
            "start": lo,
            "end": hi,
            "samples": [_sample(s) for s in rows],
            "next": rows[-1].ts + 1 if more else None,
            "gaps": _gaps(platform, device_id, lo, hi),
        }
    )


@router.get("/devices/{device_id}/points/{point}/downsample")
def downsample(
    device_id: str,
    point: str,
    platform: PlatformDep,
    user: UserDep,
    start: str | None = None,
    end: str | None = None,
    bucket: str = "1m",
) -> Response:
    """Min, max, avg, count, first and last of one point per bucket, from ``start`` on."""
    readable_device(platform, user, device_id)
    lo, hi = window(start, end)
    width = parse_bucket(bucket)
    buckets = store_of(platform).downsample(device_id, point, lo, hi, width)
    return _json(
        {
            "device": device_id,
            "point": point,
            "start": lo,
            "end": hi,
            "bucket_ms": width,
            "buckets": [asdict(b) for b in buckets],
            "gaps": _gaps(platform, device_id, lo, hi),
        }
    )


@router.get("/devices/{device_id}/export")
def export(
    device_id: str,
    platform: PlatformDep,
    user: UserDep,
    format: str = "csv",
    points: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> StreamingResponse:
    """Raw samples as a CSV or Parquet download, streamed (all points unless ``points``);
    a CSV ends with one ``gap`` row per outage of the device in the window."""
    readable_device(platform, user, device_id)
    lo, hi = window(start, end)
    if format not in _FORMATS:
        raise InvalidInput(
            f"format must be csv or parquet, not {format!r}", detail={"parameter": "format"}
        )
    store = store_of(platform)
    names = _points(points)
    if names is None:
        names = sorted(store.latest(device_id))
    rows = telemetry.store_samples(store, device_id, names, lo, hi)
    if format == "csv":
        gaps = [(device_id, g.start, g.end) for g in platform.devices.gaps(device_id, lo, hi)]
        chunks = telemetry.csv_chunks(rows, gaps=gaps)
    else:
        chunks = telemetry.parquet_chunks(rows)
    filename = f"{device_id}-{lo}-{hi}.{format}"
    return StreamingResponse(
        chunks,
        media_type=_FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/devices/{device_id}/status-history")
def status_history(
    device_id: str,
    platform: PlatformDep,
    user: UserDep,
    since: str | None = None,
    limit: int = 100,
) -> Response:
    """When the device went online and offline, newest first (``since``: ISO 8601 or ms)."""
    readable_device(platform, user, device_id)
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_HISTORY}, not {limit}",
            detail={"parameter": "limit"},
        )
    after = None if since is None else parse_time(since, "since", 0) / 1000
    changes = platform.devices.status_history(device_id, since=after, limit=limit)
    return _json({"device": device_id, "changes": [c.to_json() for c in changes]})
