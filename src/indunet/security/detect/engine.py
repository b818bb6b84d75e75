"""The detection engine: every event from the hub checked against the compiled rules.

Time is the events' own (``ts``), never the wall clock, so a replayed capture detects what
the live one did. State per (rule, group) — windows, distinct values, the last firing — is
kept only for rules that need it, in one LRU bounded by ``max_groups`` (evictions counted).
``handle`` does the CPU work in place (no I/O) and then awaits the sink once per batch.
A rule that fails on an event (a type it cannot compare) is counted against the rule; the
engine goes on.

Verdicts are remembered. A rule whose match reads only few-valued fields (addresses,
protocol, port, action, the function code: ``conditions.DECIDABLE``), the named lists and the
baseline gives the same answer for every event that agrees on those fields, and plant traffic
is polling: the same station asks the same PLC the same thing many times a second. So per
event kind the engine keeps which of those rules held for each combination of the values they
read (``MAX_MEMO`` combinations at most, then forgotten and counted), and tests the others
on every event. What it remembers is forgotten when the rules, the lists or the baseline
change, and not used while a baseline is learning (the time then decides too).
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from indunet.security.alerts import MAX_EVIDENCE, Alert, AlertSink
from indunet.security.events import SecurityEvent

from .conditions import EVENT_FIELDS, Predicate, getter
from .context import Context
from .rules import GROUPS, Rule, RuleSet

log = logging.getLogger(__name__)
MAX_GROUPS = 100_000
"""(rule, group) states kept at most; the least recently used go first."""
MAX_MEMO = 65_536
"""Remembered verdicts per event kind at most (beyond: all forgotten, ``memo_resets``)."""
_MISSING = object()


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
    order: int  # its place in the set (parents before children)
    reads: frozenset[str] | None  # what ``test`` reads when the memo may decide it


@dataclass(frozen=True, slots=True)
class _Plan:
    """The rules one event kind is tried against."""

    rules: tuple[_Compiled, ...]  # all of them, in set order
    decided: tuple[_Compiled, ...]  # those the memo answers for
    each: tuple[_Compiled, ...]  # those tested on every event
    key: Callable[[SecurityEvent], Hashable] | None  # what ``decided`` read; None: none
    memo: dict[Hashable, tuple[_Compiled, ...]] = field(default_factory=dict)


def _key_of(names: frozenset[str]) -> Callable[[SecurityEvent], Hashable]:
    """The values of ``names`` (event attributes and ``fields.<name>``) as one key; a
    ``fields`` value keeps its type beside it (``True`` is not ``1``), a missing one is not
    ``None``."""
    attrs = sorted(n for n in names if n in EVENT_FIELDS)
    paths = tuple(sorted(n.split(".", 1)[1] for n in names if n not in EVENT_FIELDS))
    of_event = attrgetter(*attrs) if attrs else None
    if not paths:
        assert of_event is not None
        return of_event
    if len(paths) == 1:
        (path,) = paths

        def one(event: SecurityEvent) -> Hashable:
            value = event.fields.get(path, _MISSING)
            return (of_event(event) if of_event else None, value.__class__, value)

        return one

    def several(event: SecurityEvent) -> Hashable:
        fields = event.fields
        values = [fields.get(p, _MISSING) for p in paths]
        return (
            of_event(event) if of_event else None,
            *[v.__class__ for v in values],
            *values,
        )

    return several


class Engine:
    """Compiled rules, their state and counters; ``handle`` is the hub's subscriber."""

    def __init__(
        self,
        ruleset: RuleSet,
        sink: AlertSink,
        context: Context | None = None,
        max_groups: int = MAX_GROUPS,
        *,
        remember: bool = True,
    ) -> None:
        self.sink = sink
        self.remember = remember
        """Whether verdicts are remembered (off: every rule tested on every event)."""
        self.context = context if context is not None else Context()
        self.max_groups = max_groups
        self.stats: dict[str, RuleStats] = {}
        self.detections: Counter[tuple[int | None, str]] = Counter()
        """Alerts raised since start per (enterprise, technique)."""
        self.events = 0
        self.evictions = 0
        self.sink_errors = 0
        self.memo_resets = 0
        self._memo_version = -1  # the baseline's version the remembered verdicts hold for
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
                n,
                # the rule's test without its kind test reads what ``reads`` says; with it
                # (no ``rest``), the kind too
                r.reads if r.kinds is not None and r.rest is not None else None,
            )
            for n, r in enumerate(r for r in ruleset.rules if r.enabled)
        )
        old = getattr(self, "_ruleset", None)
        keep = {
            r.id
            for r in ruleset.rules
            if old is not None and (o := old.get(r.id)) is not None and o.version == r.version
        }
        kinds = {k for c in compiled if c.rule.kinds for k in c.rule.kinds}
        # rules in set order (parents first), per kind; any other kind meets the rules that
        # name none
        self._plans = {
            kind: _plan(tuple(c for c in compiled if c.rule.kinds is None or kind in c.rule.kinds))
            for kind in kinds
        }
        self._other_kinds = _plan(tuple(c for c in compiled if c.rule.kinds is None))
        self._ruleset, self._compiled = ruleset, compiled
        for key in [k for k in self._groups if k[0] not in keep]:
            del self._groups[key]

    def set_context(self, context: Context) -> None:
        self.context = context
        self._forget()

    def _forget(self) -> None:
        """Drop every remembered verdict (the lists or the baseline changed)."""
        for plan in (*self._plans.values(), self._other_kinds):
            plan.memo.clear()

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
        ctx = self.context
        baseline = ctx.baseline
        # the baseline learns only while some enterprise's period is learning
        observe = (
            baseline.observe
            if baseline is not None and any(p.mode == "learning" for p in baseline.periods.values())
            else None
        )
        # remembered verdicts hold while the baseline is what they were taken against, and
        # are not used while it learns (whether an enterprise learns depends on the time)
        version = baseline.version if baseline is not None else 0
        if version != self._memo_version:
            self._forget()
            self._memo_version = version
        remember = self.remember and observe is None
        plans, other = self._plans, self._other_kinds
        tested, matched = self._tested, self._matched
        self.events += len(events)
        for event in events:
            if observe is not None:
                observe(event)
            plan = plans.get(event.kind, other)
            if remember and plan.key is not None:
                try:
                    key: Hashable = plan.key(event)
                    hits = plan.memo.get(key)
                except TypeError:  # a value that cannot be a key (a list): tested as it is
                    hits, key = None, _MISSING
                if hits is None:
                    hits, clean = tested(plan.decided, event, ctx)
                    if clean and key is not _MISSING:  # a rule failed: nothing to remember
                        memo = plan.memo
                        if len(memo) >= MAX_MEMO:
                            memo.clear()
                            self.memo_resets += 1
                        memo[key] = hits
                if plan.each:
                    more = tested(plan.each, event, ctx)[0]
                    if more:
                        hits = tuple(sorted((*hits, *more), key=_order)) if hits else more
            else:
                hits = tested(plan.rules, event, ctx)[0]
            for c in hits:
                try:
                    alert = matched(c, event)
                except Exception:
                    c.stats.errors += 1
                    log.debug("rule %s failed on event %s", c.rule.id, event.id, exc_info=True)
                    continue
                if alert is not None:
                    out.append(alert)
        return out

    @staticmethod
    def _tested(
        rules: tuple[_Compiled, ...], event: SecurityEvent, ctx: Context
    ) -> tuple[tuple[_Compiled, ...], bool]:
        """The rules whose test ``event`` passes, in order, and whether none failed on it (a
        failure counts against the rule, as not passed)."""
        passed: list[_Compiled] = []
        clean = True
        for c in rules:
            try:  # the kind is the rule's (dispatched): ``test`` leaves its check out
                if c.test(event, ctx):
                    passed.append(c)
            except Exception:
                clean = False
                c.stats.errors += 1
                log.debug("rule %s failed on event %s", c.rule.id, event.id, exc_info=True)
        return tuple(passed), clean

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


def _order(c: _Compiled) -> int:
    return c.order


def _plan(rules: tuple[_Compiled, ...]) -> _Plan:
    """The plan for an event kind whose rules are ``rules``: those whose test reads only
    what a key can hold are decided once per key."""
    decided = tuple(c for c in rules if c.reads is not None)
    if not decided:
        return _Plan(rules, (), rules, None)
    names = frozenset().union(*(c.reads for c in decided if c.reads is not None))
    each = tuple(c for c in rules if c.reads is None)
    # a kind whose rules test nothing beyond it: the same (empty) key for every event
    return _Plan(rules, decided, each, _key_of(names) if names else _constant)


def _constant(event: SecurityEvent) -> Hashable:
    return None
