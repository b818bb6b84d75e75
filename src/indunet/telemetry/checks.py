"""Validation of samples against their device's model: the hot path of ingest.

``Checks.split`` runs once per ``submit`` over every sample. A tight first loop looks for
the first sample with any problem and, in the usual case where there is none, hands the
caller's sequence back untouched (no copy, no allocation per sample). Only when a problem
exists does a second loop sort samples into valid ones and dead letters with their reasons.
Point specifications are compiled once per model and cached per device for ``ttl`` seconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from indunet.devices import Point, ThingModel
from indunet.telemetry.samples import BAD, Sample

UNKNOWN_DEVICE = "unknown_device"
UNKNOWN_POINT = "unknown_point"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
BAD_TIMESTAMP = "bad_timestamp"
BAD_QUALITY = "bad_quality"
UNDECODABLE = "undecodable"
FORBIDDEN_TOPIC = "forbidden_topic"  # a device published outside its own topics (MQTT)
REFUSED = "refused_by_store"
POISON = "poison"  # a bus envelope that failed every delivery (``bus.BusWorker``)
REASONS = (
    UNKNOWN_DEVICE,
    UNKNOWN_POINT,
    WRONG_TYPE,
    OUT_OF_RANGE,
    BAD_TIMESTAMP,
    BAD_QUALITY,
    UNDECODABLE,
    FORBIDDEN_TOPIC,
    REFUSED,
    POISON,
)
"""Every reason a dead letter can carry."""

EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
AHEAD_MS = 86_400_000  # a device clock may run at most one day ahead of ours
_NUMBER, _INTEGER, _BOOLEAN, _STRING = 0, 1, 2, 3
_KINDS = {"number": _NUMBER, "integer": _INTEGER, "boolean": _BOOLEAN, "string": _STRING}
_NAMES = ("a number", "an integer", "a boolean", "a string")
_TYPES = ("number", "integer", "boolean", "string")
_I64 = -(2**63)  # stores hold 64-bit integers
_HUGE = sys.float_info.max  # unbounded numbers still exclude inf (and NaN fails every test)
_MAX_DEVICES = 100_000  # cached device entries before the cache is cleared
MAX_TEXT = 65_536  # longest string value accepted, in characters

Spec = tuple[int, float, float]
"""A compiled point: (kind, lowest allowed, highest allowed)."""


@dataclass(frozen=True, slots=True)
class Letter:
    """A rejected sample or payload on its way to the dead-letter table.

    ``detail`` is the English sentence the API shows; ``why`` names the same sentence
    stably (the console's catalogue text ``letter.<why>``, or ``error.<why>`` for a service
    error's reason) and ``params`` fills it, every value a string. A letter without ``why``
    is shown by its ``detail``.
    """

    device: str | None
    point: str | None
    source: str
    reason: str
    detail: str
    payload: str
    why: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def said(why: str, **params: object) -> tuple[str, dict[str, str]]:
    """A detail's stable name and its parameters as text (JSON-safe: NaN, big ints, bytes)."""
    return why, {k: v if isinstance(v, str) else repr(v) for k, v in params.items()}


def compile_point(point: Point) -> Spec:
    """The (kind, minimum, maximum) the hot loop tests a point's values against."""
    kind = _KINDS[point.type]
    lo = -_HUGE if point.minimum is None else float(point.minimum)
    hi = _HUGE if point.maximum is None else float(point.maximum)
    if kind == _INTEGER:
        lo, hi = max(lo, float(_I64)), min(hi, float(-_I64 - 1024))
    return (kind, lo, hi)


def sample_text(sample: Sample) -> str:
    """A rejected sample as JSON text: its time, value and quality."""
    body = {"ts": sample.ts, "value": sample.value, "quality": sample.quality}
    return json.dumps(body, default=repr, ensure_ascii=False)  # big ints and NaN too


class Checks:
    """Validates samples against the models of their devices, with per-device caching."""

    def __init__(self, lookup: Callable[[str], ThingModel | None], *, ttl: float = 5.0) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._devices: dict[str, tuple[dict[str, Spec] | None, float]] = {}
        self._models: dict[str, tuple[ThingModel, dict[str, Spec]]] = {}
        self._now = 0.0

    def invalidate(self, device: str | None = None) -> None:
        """Forget the cached model of ``device`` (of every device when None)."""
        if device is None:
            self._devices.clear()
        else:
            self._devices.pop(device, None)

    def _points(self, device: str) -> dict[str, Spec] | None:
        entry = self._devices.get(device)
        if entry is not None and entry[1] > self._now:
            return entry[0]
        model = self._lookup(device)
        points = None if model is None else self._compile(model)
        if len(self._devices) >= _MAX_DEVICES:
            self._devices.clear()
        self._devices[device] = (points, self._now + self._ttl)
        return points

    def _compile(self, model: ThingModel) -> dict[str, Spec]:
        hit = self._models.get(model.ref)
        if hit is not None and (hit[0] is model or hit[0].points == model.points):
            return hit[1]
        specs = {name: compile_point(p) for name, p in model.points.items()}
        self._models[model.ref] = (model, specs)
        return specs

    def split(
        self, samples: Sequence[Sample], source: str, *, now_ms: int | None = None
    ) -> tuple[Sequence[Sample], list[Letter]]:
        """Valid samples (``samples`` itself when all are) and dead letters for the rest."""
        self._now = time.monotonic()
        wall = int(time.time() * 1000) if now_ms is None else now_ms
        first = self._first_problem(samples, wall + AHEAD_MS)
        if first < 0:
            return samples, []
        valid = list(samples[:first])
        letters: list[Letter] = []
        for i in range(first, len(samples)):
            sample = samples[i]
            kept, letter = self._classify(sample, source, wall)
            if kept is not None:
                valid.append(kept)
            if letter is not None:
                letters.append(letter)
        return valid, letters

    def _first_problem(self, samples: Sequence[Sample], latest: int) -> int:
        """Index of the first sample with any problem, or -1. Keep this loop tight."""
        points_of = self._points
        last_device: object = None
        points: dict[str, Spec] | None = None
        for i, (device, point, ts, value, quality) in enumerate(samples):
            if device != last_device:
                points = points_of(device)
                last_device = device
            if points is None:
                return i
            spec = points.get(point)
            if spec is None:
                return i
            kind, lo, hi = spec
            kind_of = type(value)
            if kind == _NUMBER:
                if kind_of is float:
                    if not lo <= value <= hi:  # type: ignore[operator]
                        return i
                elif kind_of is not int or not lo <= value <= hi or not _I64 <= value < -_I64:  # type: ignore[operator]
                    return i
            elif kind == _INTEGER:
                if kind_of is not int or not lo <= value <= hi:  # type: ignore[operator]
                    return i
            elif kind == _BOOLEAN:
                if kind_of is not bool:
                    return i
            elif kind_of is not str or len(value) > MAX_TEXT:  # type: ignore[arg-type]
                return i
            if type(ts) is not int or not EARLIEST_MS <= ts <= latest:
                return i
            if quality != 0 and (type(quality) is not int or not 0 < quality <= BAD):
                return i
        return -1

    def _classify(
        self, sample: Sample, source: str, wall: int
    ) -> tuple[Sample | None, Letter | None]:
        """The sample to keep (possibly normalised) or the dead letter saying why not."""
        device, point, ts, value, quality = sample

        def letter(
            reason: str, detail: str, why: tuple[str, dict[str, str]]
        ) -> tuple[None, Letter]:
            dev = device if isinstance(device, str) else repr(device)
            pt = point if isinstance(point, str) else repr(point)
            text = sample_text(sample)
            return None, Letter(dev, pt, source, reason, detail, text, why[0], why[1])

        points = self._points(device) if isinstance(device, str) else None
        if points is None:
            return letter(
                UNKNOWN_DEVICE,
                f"device {device!r} is not registered",
                said("device_unregistered", device=device),
            )
        spec = points.get(point) if isinstance(point, str) else None
        if spec is None:
            known = ", ".join(sorted(points)[:20])
            return letter(
                UNKNOWN_POINT,
                f"{device} has no point {point!r} (it has: {known})",
                said("point_unknown", device=device, point=point, known=known),
            )
        kind, lo, hi = spec
        kind_of = type(value)
        if kind == _INTEGER and kind_of is float and value.is_integer():  # type: ignore[union-attr]
            value, kind_of = int(value), int
            sample = sample._replace(value=value)
        ok_type = (
            (kind == _NUMBER and kind_of in (float, int))
            or (kind == _INTEGER and kind_of is int)
            or (kind == _BOOLEAN and kind_of is bool)
            or (kind == _STRING and kind_of is str)
        )
        if not ok_type:
            name = kind_of.__name__
            return letter(
                WRONG_TYPE,
                f"{point} expects {_NAMES[kind]}, got {name} {value!r}",
                said(
                    "type_mismatch", point=point, expected=_TYPES[kind], got=name, value=repr(value)
                ),
            )
        if kind_of is int and not _I64 <= value < -_I64:  # type: ignore[operator]
            return letter(
                OUT_OF_RANGE,
                f"{point} value {value} does not fit in 64 bits",
                said("int_too_big", point=point, value=value),
            )
        if kind in (_NUMBER, _INTEGER) and quality != BAD and not lo <= value <= hi:  # type: ignore[operator]
            return letter(OUT_OF_RANGE, *_range_detail(point, value, lo, hi))
        if kind == _STRING and len(value) > MAX_TEXT:  # type: ignore[arg-type]
            return letter(
                OUT_OF_RANGE,
                f"{point} text is longer than {MAX_TEXT} characters",
                said("text_too_long", point=point, max=MAX_TEXT, length=len(value)),  # type: ignore[arg-type]
            )
        if type(ts) is not int:
            got = type(ts).__name__
            return letter(
                BAD_TIMESTAMP,
                f"ts must be integer milliseconds, got {got} {ts!r}",
                said("ts_not_integer", got=got, ts=repr(ts)),
            )
        if ts < EARLIEST_MS:
            return letter(
                BAD_TIMESTAMP,
                f"ts {ts} is before 2000-01-01 (milliseconds expected)",
                said("ts_too_early", ts=ts),
            )
        if ts > wall + AHEAD_MS:
            return letter(
                BAD_TIMESTAMP,
                f"ts {ts} is more than a day ahead of the server clock",
                said("ts_ahead", ts=ts),
            )
        if type(quality) is not int or not 0 <= quality <= BAD:
            return letter(
                BAD_QUALITY,
                f"quality must be 0, 1 or 2, got {quality!r}",
                said("quality_invalid", quality=quality),
            )
        return sample, None


def _range_detail(
    point: str, value: object, lo: float, hi: float
) -> tuple[str, tuple[str, dict[str, str]]]:
    if value != value:  # NaN
        return f"{point} is NaN", said("value_nan", point=point)
    if value in (float("inf"), float("-inf")):
        return f"{point} is infinite", said("value_infinite", point=point)
    if value is not None and value < lo:  # type: ignore[operator]
        low = "-inf" if lo == -_HUGE else f"{lo:g}"
        detail = f"{point} value {value!r} is below the minimum {low}"
        return detail, said("below_minimum", point=point, value=value, minimum=low)
    high = "inf" if hi == _HUGE else f"{hi:g}"
    detail = f"{point} value {value!r} is above the maximum {high}"
    return detail, said("above_maximum", point=point, value=value, maximum=high)
