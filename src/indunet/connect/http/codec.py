"""The body of ``POST /api/v1/telemetry``: JSON rows or columns, decoded into samples.

Two shapes (docs/platform/connect-http.md):

* rows — ``{"samples": [{"device", "point", "ts", "value", "quality"?}, ...]}``;
* columns, for gateways — ``{"device", "ts": [...], "points": {"<point>": [...]}, "quality"?:
  {"<point>": [...]}}``, or a JSON array of such blocks (one per device). ``null`` in a
  column means "no value at that time" and is skipped.

``ts`` is integer milliseconds since the epoch or an ISO 8601 string (UTC when it carries
no offset); a row without ``ts`` gets the arrival time. The codec checks only the shape: a
body it cannot read raises ``PayloadInvalid`` naming what is wrong, and nothing of it is
stored. Whether a device, point, type, range or time is acceptable is the pipeline's call,
per sample (those become dead letters, the rest is stored).
"""

from __future__ import annotations

import gc
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any, NoReturn

import orjson

from indunet.core import IndunetError, InvalidInput
from indunet.telemetry import Sample

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_new = tuple.__new__


class PayloadInvalid(InvalidInput):
    """The body is not JSON, or not one of the two telemetry shapes; nothing was stored."""

    code = "payload_invalid"


class PayloadTooLarge(IndunetError):
    """The body is bigger than the server accepts in one request."""

    code = "payload_too_large"
    status = 413


@dataclass
class TelemetryBatch:
    """Decoded samples and the devices they name."""

    samples: list[Sample] = field(default_factory=list)
    devices: set[str] = field(default_factory=set)


def iso_ms(text: str) -> int | str:
    """Milliseconds for an ISO 8601 time (UTC if no offset), or the text itself if unreadable.

    An unreadable time is kept as text so the pipeline dead-letters that one sample
    (``bad_timestamp``) rather than the whole body.
    """
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _MS


def inflate_body(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip``/``deflate``, refusing output beyond ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise PayloadInvalid(
            f"Content-Encoding {encoding!r} is not supported (use gzip)",
            reason="body_encoding_unsupported",
            params={"encoding": encoding[:40]},
        )
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise PayloadInvalid(
            f"the {encoding} body is corrupt: {exc}",
            reason="body_corrupt",
            params={"encoding": encoding},
        ) from None
    if len(out) > limit:
        raise PayloadTooLarge(f"the body inflates beyond {limit:,} bytes; send smaller batches")
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a body becomes samples.

    Decoding allocates a tuple per value and frees nothing, so the collections the
    allocations trigger find no garbage; with a large heap they cost more than the decoding
    itself (measured: 3x slower). Only ever re-enables a collector it found enabled.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def decode_telemetry(body: bytes, *, now_ms: int | None = None) -> TelemetryBatch:
    """Samples of a telemetry body, or ``PayloadInvalid`` naming the first problem."""
    with _collector_paused():
        return _decode(body, now_ms)


def _decode(body: bytes, now_ms: int | None) -> TelemetryBatch:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(
            f"the body is not JSON: {exc}", reason="body_not_json", params={"error": str(exc)}
        ) from None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    batch = TelemetryBatch()
    if isinstance(doc, dict) and "samples" in doc:
        _rows(doc["samples"], now, batch)
    elif isinstance(doc, dict) and "points" in doc:
        _block(doc, "", batch)
    elif isinstance(doc, list):
        for i, block in enumerate(doc):
            if not isinstance(block, dict):
                raise PayloadInvalid(
                    f"[{i}] must be an object with device, ts and points",
                    reason="payload_block_not_object",
                    params={"where": f"[{i}]"},
                )
            _block(block, f"[{i}]", batch)
    else:
        raise PayloadInvalid(
            'expected {"samples": [...]} (rows) or {"device": ..., "ts": [...], "points": {...}}'
            " (columns), or an array of column blocks",
            reason="payload_shape",
            params={},
        )
    return batch


def _rows(rows: Any, now: int, batch: TelemetryBatch) -> None:
    if not isinstance(rows, list):
        raise PayloadInvalid(
            "samples must be an array of objects", reason="payload_samples_not_array", params={}
        )
    out = batch.samples
    devices = batch.devices
    last = None
    for row in rows:
        try:
            device = row["device"]
            point = row["point"]
            value = row["value"]
        except (KeyError, TypeError):
            _row_problem(rows, len(out))
        if type(device) is not str or type(point) is not str:
            _row_problem(rows, len(out))
        ts = row.get("ts", now)
        if type(ts) is str:
            ts = iso_ms(ts)
        out.append(_new(Sample, (device, point, ts, value, row.get("quality", 0))))
        if device != last:
            devices.add(device)
            last = device


def _row_problem(rows: list[Any], i: int) -> NoReturn:
    row = rows[i]
    where = f"samples[{i}]"
    if not isinstance(row, dict):
        got = type(row).__name__
        raise PayloadInvalid(
            f"{where} must be an object, not {got}",
            reason="payload_row_not_object",
            params={"where": where, "got": got},
        )
    for key in ("device", "point"):
        if not isinstance(row.get(key), str):
            raise _not_string(f"{where}.{key}")
    raise PayloadInvalid(
        f"{where} has no value", reason="payload_row_no_value", params={"where": where}
    )


def _block(block: dict[str, Any], where: str, batch: TelemetryBatch) -> None:
    device, stamps, points = block.get("device"), block.get("ts"), block.get("points")
    if not isinstance(device, str):
        raise _not_string(_at(where, "device"))
    if not isinstance(stamps, list):
        at = _at(where, "ts")
        raise PayloadInvalid(
            f"{at} must be an array of times", reason="payload_ts_not_array", params={"where": at}
        )
    if not isinstance(points, dict):
        at = _at(where, "points")
        raise PayloadInvalid(
            f"{at} must be an object of value arrays",
            reason="payload_points_not_object",
            params={"where": at},
        )
    qualities = block.get("quality") or {}
    if not isinstance(qualities, dict):
        at = _at(where, "quality")
        raise PayloadInvalid(
            f"{at} must be an object of quality arrays",
            reason="payload_quality_not_object",
            params={"where": at},
        )
    n = len(stamps)
    if not set(map(type, stamps)) <= {int}:
        stamps = [iso_ms(t) if type(t) is str else t for t in stamps]
    out = batch.samples
    for name, values in points.items():
        if not isinstance(values, list) or len(values) != n:
            size = len(values) if isinstance(values, list) else type(values).__name__
            at = f"{_at(where, 'points')}.{name}"
            raise PayloadInvalid(
                f"{at} must be an array of {n} values (one per ts), got {size}",
                reason="payload_values_length",
                params={"where": at, "n": n, "got": size},
            )
        marks = qualities.get(name)
        if marks is None:
            marks = repeat(0)
        elif not isinstance(marks, list) or len(marks) != n:
            at = f"{_at(where, 'quality')}.{name}"
            raise PayloadInvalid(
                f"{at} must be an array of {n} qualities",
                reason="payload_qualities_length",
                params={"where": at, "n": n},
            )
        rows = zip(repeat(device), repeat(name), stamps, values, marks)
        if None in values:
            out.extend(_new(Sample, r) for r in rows if r[3] is not None)
        else:
            out.extend(map(_new, repeat(Sample), rows))
    batch.devices.add(device)


def _not_string(where: str) -> PayloadInvalid:
    return PayloadInvalid(
        f"{where} must be a string", reason="payload_not_string", params={"where": where}
    )


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
