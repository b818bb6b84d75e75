"""Trying a rule on a device's stored samples: when it would have raised and cleared an alarm,
without raising anything.

``replay`` reads the samples of the points the rule's expressions read, within a window, and
walks them in timestamp order exactly as the rule engine does (``ruleengine``): ``BAD``
samples are left out; at each timestamp the latest value of every point is taken; the
condition must hold for ``duration_s`` of sample time; the alarm clears when the clear
condition holds (by default: when the condition no longer holds). A point with no sample yet
in the window makes the rule not evaluable at that moment (the engine, which remembers values
from before, may know more). Each point is read up to ``MAX_SAMPLES`` samples; the trial says
when it was cut.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from indunet.telemetry.expr import NotEvaluable
from indunet.telemetry.rules import CompiledRule
from indunet.telemetry.samples import BAD, Value
from indunet.telemetry.store import TimeSeriesStore

MAX_SAMPLES = 20_000
"""Most samples read per point."""
MAX_FIRINGS = 200
"""Most firings a trial reports (later ones are counted, not listed)."""
WINDOWS_MS = {"15m": 15 * 60_000, "1h": 3_600_000, "6h": 6 * 3_600_000, "24h": 86_400_000}
"""Windows a trial may look back over, by name."""


@dataclass(frozen=True, slots=True)
class Firing:
    """One alarm the rule would have raised: when (ms), with which values, and when it would
    have cleared (``None``: still active at the window's end)."""

    raised_at: int
    values: dict[str, Value | None]
    cleared_at: int | None = None


@dataclass(slots=True)
class Trial:
    """What a replay found."""

    device_id: str
    start: int
    end: int
    samples: int = 0
    evaluations: int = 0
    not_evaluable: int = 0
    truncated: list[str] = field(default_factory=list)  # points cut at MAX_SAMPLES
    firings: list[Firing] = field(default_factory=list)
    more: int = 0  # firings beyond MAX_FIRINGS
    missing: list[str] = field(default_factory=list)  # points with no sample in the window

    @property
    def fired(self) -> int:
        """How many alarms the rule would have raised."""
        return len(self.firings) + self.more

    def to_json(self) -> dict[str, Any]:
        """A JSON-able summary (times in epoch milliseconds)."""
        return {
            "device_id": self.device_id,
            "start": self.start,
            "end": self.end,
            "samples": self.samples,
            "evaluations": self.evaluations,
            "not_evaluable": self.not_evaluable,
            "truncated": self.truncated,
            "missing": self.missing,
            "fired": self.fired,
            "firings": [
                {"raised_at": f.raised_at, "cleared_at": f.cleared_at, "values": f.values}
                for f in self.firings
            ],
        }


def replay(
    store: TimeSeriesStore,
    rule: CompiledRule,
    device_id: str,
    start: int,
    end: int,
    *,
    max_samples: int = MAX_SAMPLES,
) -> Trial:
    """Replay ``rule`` over ``device_id``'s samples in ``[start, end)`` (blocking)."""
    trial = Trial(device_id, start, end)
    streams = []
    for point in sorted(rule.names):
        found = store.query(device_id, point, start, end, limit=max_samples + 1)
        if len(found) > max_samples:
            trial.truncated.append(point)
            found = found[:max_samples]
        if not found:
            trial.missing.append(point)
        streams.append(found)
    values: dict[str, Value] = {}
    pending: int | None = None
    active: Firing | None = None
    at: int | None = None
    for sample in heapq.merge(*streams, key=lambda s: s.ts):
        if sample.quality == BAD:
            continue
        trial.samples += 1
        if at is not None and sample.ts != at:
            pending, active = _step(rule, trial, at, values, pending, active)
        at = sample.ts
        values[sample.point] = sample.value
    if at is not None:
        pending, active = _step(rule, trial, at, values, pending, active)
    if active is not None:
        _keep(trial, active)
    return trial


def _step(
    rule: CompiledRule,
    trial: Trial,
    ts: int,
    values: dict[str, Value],
    pending: int | None,
    active: Firing | None,
) -> tuple[int | None, Firing | None]:
    """One evaluation at ``ts``, as ``RuleEngine._check`` does it."""
    trial.evaluations += 1
    try:
        if active is not None:
            done = rule.clear.test(values) if rule.clear else not rule.condition.test(values)
            if done:
                _keep(trial, Firing(active.raised_at, active.values, ts))
                return None, None
            return pending, active
        hit = rule.condition.test(values)
    except NotEvaluable:
        trial.not_evaluable += 1
        return (None, None) if active is None else (pending, active)
    if not hit:
        return None, None
    since = ts if pending is None else pending
    if ts - since >= rule.duration_ms:
        shown = {n: values.get(n) for n in sorted(rule.condition.names)}
        return None, Firing(ts, shown)
    return since, None


def _keep(trial: Trial, firing: Firing) -> None:
    if len(trial.firings) < MAX_FIRINGS:
        trial.firings.append(firing)
    else:
        trial.more += 1
