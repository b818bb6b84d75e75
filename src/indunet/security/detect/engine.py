"""The detection engine: every event from the hub checked against the compiled rules.

Time is the events' own (``ts``), never the wall clock, so a replayed capture detects what
the live one did. State per (rule, group) — windows, distinct values, the last firing — is
kept only for rules that need it, in one LRU bounded by ``max_groups`` (evictions counted).
``handle`` does the CPU work in place (no I/O) and then awaits the sink once per batch.
A rule that fails on an event (a type it cannot compare) is counted against the rule; the
engine goes on.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from indunet.security.alerts import MAX_EVIDENCE, Alert, AlertSink
from indunet.security.events import SecurityEvent

from .conditions import Predicate, getter
from .context import Context
from .rules import GROUPS, Rule, RuleSet

log = logging.getLogger(__name__)
MAX_GROUPS = 100_000
"""(rule, group) states kept at most; the least recently used go first."""


@dataclass
class RuleStats:
    matched: int = 0
    fired: int = 0
    suppressed: int = 0
    errors: int = 0


@dataclass(slots=True)
class _State:
    times: deque[float] = field(default_factory=deque)
    values: OrderedDict[Any, float] = field(default_factory=OrderedDict)
    evidence: deque[SecurityEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVIDENCE))
    seen: int = 0
    last_fired: float | None = None
    last_hit: float | None = None  # fired or suppressed: what a child's if_matched looks for


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    keyed: bool  # needs per-group state
    fields: tuple[str, ...]
    distinct: Any
    test: Predicate  # the rule's predicate, less the kind test where kinds dispatch it
    stats: RuleStats


class Engine:
    """Compiled rules, their state and counters; ``handle`` is the hub's subscriber."""

    def __init__(
        self,
        ruleset: RuleSet,
        sink: AlertSink,
        context: Context | None = None,
        max_groups: int = MAX_GROUPS,
    ) -> None:
        self.sink = sink
        self.context = context if context is not None else Context()
        self.max_groups = max_groups
        self.stats: dict[str, RuleStats] = {}
        self.detections: Counter[tuple[int | None, str]] = Counter()
        """Alerts raised since start per (enterprise, technique)."""
        self.events = 0
        self.evictions = 0
        self.sink_errors = 0
        self._groups: OrderedDict[tuple[str, tuple[Any, ...]], _State] = OrderedDict()
        self.reload(ruleset)

    @property
    def ruleset(self) -> RuleSet:
        return self._ruleset

    def reload(self, ruleset: RuleSet) -> None:
        """Use ``ruleset`` from the next event on (one assignment: no event sees half of
        it). State of rules whose version changed or that went away is dropped."""
        parents = {r.if_matched for r in ruleset.rules if r.if_matched}
        for r in ruleset.rules:
            self.stats.setdefault(r.id, RuleStats())
        compiled = tuple(
            _Compiled(
                r,
                r.frequency > 1 or r.distinct is not None or r.suppress > 0 or r.id in parents,
                GROUPS[r.group_by],
                getter(r.distinct) if r.distinct else None,
                r.rest if r.kinds is not None and r.rest is not None else r.predicate,
                self.stats[r.id],
            )
            for r in ruleset.rules
            if r.enabled
        )
        old = getattr(self, "_ruleset", None)
        keep = {
            r.id
            for r in ruleset.rules
            if old is not None and (o := old.get(r.id)) is not None and o.version == r.version
        }
        by_kind: dict[str, list[_Compiled]] = {}
        kinds = {k for c in compiled if c.rule.kinds for k in c.rule.kinds}
        for kind in kinds:  # rules in set order (parents first), per kind
            by_kind[kind] = [c for c in compiled if c.rule.kinds is None or kind in c.rule.kinds]
        self._any_kind = tuple(c for c in compiled if c.rule.kinds is None)
        self._by_kind = {k: tuple(v) for k, v in by_kind.items()}
        self._ruleset, self._compiled = ruleset, compiled
        for key in [k for k in self._groups if k[0] not in keep]:
            del self._groups[key]

    def set_context(self, context: Context) -> None:
        self.context = context

    async def handle(self, events: Sequence[SecurityEvent]) -> None:
        """The hub's subscriber: detect, then hand the alerts to the sink."""
        alerts = self.process(events)
        if alerts:
            try:
                await self.sink.raise_alerts(alerts)
            except Exception:
                self.sink_errors += 1
                raise

    def process(self, events: Sequence[SecurityEvent]) -> list[Alert]:
        """The alerts ``events`` raise (state updated; no I/O)."""
        out: list[Alert] = []
        ctx, by_kind, any_kind = self.context, self._by_kind, self._any_kind
        baseline = ctx.baseline
        # the baseline learns only while some enterprise's period is learning
        observe = (
            baseline.observe
            if baseline is not None and any(p.mode == "learning" for p in baseline.periods.values())
            else None
        )
        matched = self._matched
        self.events += len(events)
        for event in events:
            if observe is not None:
                observe(event)
            for c in by_kind.get(event.kind, any_kind):
                try:  # the kind is the rule's (dispatched): ``test`` leaves its check out
                    if not c.test(event, ctx):
                        continue
                    alert = matched(c, event)
                except Exception:
                    c.stats.errors += 1
                    log.debug("rule %s failed on event %s", c.rule.id, event.id, exc_info=True)
                    continue
                if alert is not None:
                    out.append(alert)
        return out

    def _state(self, rule_id: str, group: tuple[Any, ...], create: bool) -> _State | None:
        key = (rule_id, group)
        state = self._groups.get(key)
        if state is not None:
            self._groups.move_to_end(key)
            return state
        if not create:
            return None
        state = self._groups[key] = _State()
        if len(self._groups) > self.max_groups:
            self._groups.popitem(last=False)
            self.evictions += 1
        return state

    def _matched(self, c: _Compiled, event: SecurityEvent) -> Alert | None:
        rule, stats = c.rule, c.stats
        stats.matched += 1
        group = (event.enterprise_id, *(getattr(event, f) for f in c.fields))
        ts = event.ts
        if rule.if_matched is not None:
            parent = self._state(rule.if_matched, group, create=False)
            if (
                parent is None
                or parent.last_hit is None
                or not 0 <= ts - parent.last_hit <= rule.within
            ):
                return None
        if not c.keyed:
            stats.fired += 1
            return self._alert(rule, event, group, (event,), 1)
        state = self._state(rule.id, group, create=True)
        assert state is not None
        state.evidence.append(event)
        if c.distinct is not None:
            value = c.distinct(event)
            if isinstance(value, list | dict):
                value = repr(value)[:200]
            state.values[value] = ts
            state.values.move_to_end(value)
            horizon = ts - rule.timeframe
            while state.values and next(iter(state.values.values())) < horizon:
                state.values.popitem(last=False)
            count = len(state.values)
        elif rule.frequency > 1:
            state.times.append(ts)
            horizon = ts - rule.timeframe
            while state.times and state.times[0] < horizon:
                state.times.popleft()
            while len(state.times) > rule.frequency:
                state.times.popleft()
            count = len(state.times)
        else:
            count = 1
        if rule.timeframe:
            horizon = ts - rule.timeframe
            while state.evidence and state.evidence[0].ts < horizon:
                state.evidence.popleft()
        if count < rule.frequency:
            return None
        evidence = tuple(state.evidence)
        state.times.clear()
        state.values.clear()
        state.evidence.clear()
        state.last_hit = ts
        if (
            rule.suppress
            and state.last_fired is not None
            and 0 <= ts - state.last_fired < rule.suppress
        ):
            stats.suppressed += 1
            return None
        state.last_fired = ts
        stats.fired += 1
        return self._alert(rule, event, group, evidence, count)

    def _alert(
        self,
        rule: Rule,
        event: SecurityEvent,
        group: tuple[Any, ...],
        evidence: tuple[SecurityEvent, ...],
        count: int,
    ) -> Alert:
        for t in rule.techniques:
            self.detections[event.enterprise_id, t] += 1
        names = GROUPS[rule.group_by]
        label = ",".join(f"{n}={v}" for n, v in zip(names, group[1:], strict=True))
        return Alert(
            ts=event.ts,
            rule=rule.id,
            rule_version=rule.version,
            level=rule.level,
            title=rule.title_in("en"),
            enterprise_id=event.enterprise_id,
            techniques=rule.techniques,
            src_ip=event.src_ip,
            dst_ip=event.dst_ip,
            events=evidence[-MAX_EVIDENCE:],
            count=count,
            group=label,
            detail={"title_zh": rule.title_in("zh-CN"), "timeframe": rule.timeframe},
        )
