"""Telemetry JSON → samples: the three payload forms of the topic tree and model JSON paths.

On ``indunet/v1/<id>/telemetry`` a device sends ``{"ts": <ms>, "values": {"<point>": v}}``,
a flat ``{"<point>": v, ...}`` (``ts`` optional) or a JSON list of such objects. ``ts`` is
milliseconds since the epoch or an ISO 8601 string; without it the arrival time is used. A
``device`` key, when present, must name the topic's device. Points bound by a model's
``MqttForm`` are read at their JSON path (``$.a.b``, ``$.a[0]``, ``$['a b']``) on their
topic. Unknown point names pass through: the ingest pipeline dead-letters them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from indunet.core import IndunetError
from indunet.telemetry import Sample, Value

_RESERVED = ("ts", "device")
_STEP = re.compile(r"""\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


class PayloadError(IndunetError):
    """An MQTT payload could not be decoded into samples; the message says why."""

    code = "mqtt_bad_payload"
    status = 400


@lru_cache(maxsize=4096)
def compile_path(path: str) -> tuple[str | int, ...]:
    """The keys and indexes of a JSON path such as ``$.a.b[0]`` (raises ``ValueError``)."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with '$'")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"JSON path {path!r} is not understood at {path[pos:]!r}")
        name, index, quoted1, quoted2 = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(s for s in (name, quoted1, quoted2) if s is not None))
        pos = m.end()
    return tuple(steps)


_MISSING = object()


def _resolve(steps: tuple[str | int, ...], doc: Any) -> Any:
    """The value at compiled path ``steps`` in ``doc``, or ``_MISSING``."""
    for step in steps:
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
        elif not isinstance(doc, dict) or step not in doc:
            return _MISSING
        doc = doc[step]
    return doc


@dataclass(frozen=True, slots=True)
class Binding:
    """One point read from a JSON path on a topic (from the model's ``MqttForm``)."""

    point: str
    steps: tuple[str | int, ...]


def parse_ts(value: Any) -> int:
    """Milliseconds since the epoch from a number (ms) or an ISO 8601 string."""
    if isinstance(value, bool):
        raise PayloadError(
            "ts must be milliseconds since the epoch or ISO 8601, not a boolean",
            reason="mqtt_ts_boolean",
            params={},
        )
    if isinstance(value, int | float):
        if value < 0 or value != value or value > 253_402_300_799_999:
            raise PayloadError(
                f"ts {value} is not a time in milliseconds since the epoch",
                reason="mqtt_ts_range",
                params={"ts": str(value)},
            )
        return int(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError(
                f"ts {value!r} is not an ISO 8601 time",
                reason="mqtt_ts_not_iso",
                params={"ts": value[:64]},
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000)
    raise PayloadError(
        "ts must be milliseconds since the epoch or an ISO 8601 string",
        reason="mqtt_ts_type",
        params={},
    )


_SCALARS = frozenset((bool, int, float, str))


def _scalar(point: str, value: Any) -> Value:
    if type(value) in _SCALARS or isinstance(value, bool | int | float | str):
        return value  # type: ignore[no-any-return]
    kind = "null" if value is None else "an object" if isinstance(value, dict) else "a list"
    raise PayloadError(
        f"point {point} has {kind} value; values are numbers, booleans or strings",
        reason="mqtt_value_type",
        params={"point": point, "kind": "null" if value is None else type(value).__name__},
    )


def decode(
    device_id: str,
    payload: bytes,
    now_ms: int,
    *,
    standard: bool = True,
    bindings: Sequence[Binding] = (),
) -> list[Sample]:
    """Samples of ``device_id`` in ``payload`` (raises ``PayloadError``; all or nothing).

    ``standard`` reads the three payload forms of the telemetry topic; ``bindings`` read
    the model's JSON paths. Where a model binds paths on the telemetry topic, nested
    objects the paths reach into are not themselves points.
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(
            f"payload is not JSON ({exc})", reason="mqtt_not_json", params={"error": str(exc)}
        ) from None
    items = doc if isinstance(doc, list) else [doc]
    out: list[Sample] = []
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError(
                "payload must be a JSON object or a list of objects",
                reason="mqtt_not_object",
                params={},
            )
        named = item.get("device", device_id)
        if named != device_id:
            raise PayloadError(
                f"payload names device {named} but came on the topic of device {device_id}",
                reason="mqtt_wrong_device",
                params={"named": str(named)[:200], "device": device_id},
            )
        ts = parse_ts(item["ts"]) if "ts" in item else now_ms
        if standard and not bindings:  # the common case, kept tight
            values = item.get("values")
            if not isinstance(values, dict):
                values = {k: v for k, v in item.items() if k not in _RESERVED}
            for point, value in values.items():
                if type(value) not in _SCALARS:
                    value = _scalar(point, value)
                out.append(Sample(device_id, point, ts, value))
            continue
        found: dict[str, Value] = {}
        if standard:
            values = item.get("values")
            if not isinstance(values, dict):
                values = {k: v for k, v in item.items() if k not in _RESERVED}
            for point, value in values.items():
                if not isinstance(value, dict | list):
                    found[point] = _scalar(point, value)
        for b in bindings:
            value = _resolve(b.steps, item)
            if value is not _MISSING:
                found[b.point] = _scalar(b.point, value)
        out.extend(Sample(device_id, p, ts, v) for p, v in found.items())
    if not out:
        raise PayloadError("payload carries no point values", reason="mqtt_no_points", params={})
    return out


def decode_command_result(payload: bytes) -> tuple[str, bool, Any, str]:
    """``(id, ok, output, error)`` of a device's answer on ``commands/result``."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(
            f"command result is not JSON ({exc})",
            reason="mqtt_result_not_json",
            params={"error": str(exc)},
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise PayloadError(
            'command result must be an object with a string "id"',
            reason="mqtt_result_no_id",
            params={},
        )
    ok = doc.get("ok")
    if not isinstance(ok, bool):
        raise PayloadError(
            'command result must have a boolean "ok"', reason="mqtt_result_no_ok", params={}
        )
    error = doc.get("error")
    return doc["id"], ok, doc.get("output"), error if isinstance(error, str) else ""


def encode_command(command_id: str, body: dict[str, Any]) -> bytes:
    """The JSON of a command: ``{"id": ..., "point"/"action": ..., "value"/"input": ...}``."""
    return orjson.dumps({"id": command_id, **body})
