"""The rule engine: evaluates alarm rules on each stored batch, and manages rules for users.

The pipeline calls ``on_stored(samples)`` after every stored batch. The engine keeps the
latest value of each (device, point) and, for each device of the batch that some enabled
rule targets, walks that device's samples in timestamp order: at each distinct timestamp it
evaluates only the rules that read a point updated at that timestamp. Most devices report all
points under one timestamp, so this is usually one evaluation per rule per device per batch;
when a batch holds several timestamps of one device (a backlog drained at once), each is
evaluated, so "above 80 °C for 30 s" means continuously by sample time, not just at the end
of the batch. A condition is taken to hold between two samples at which it held.

Samples of ``BAD`` quality and samples older than the point's latest value do not feed
rules. A rule whose expression reads a point the device has not reported (or that fails on
types) is not evaluable: it raises nothing and is counted in ``stats.not_evaluable``.
``on_stored`` never raises into the pipeline: failures are counted in ``stats.errors``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import gt, itemgetter
from typing import Any

import sqlalchemy as sa

from indunet.core import Event, EventBus, NotFound, User, access, get_enterprise_by_id
from indunet.devices import ThingModel
from indunet.telemetry import events, owners, rules
from indunet.telemetry.alarms import Alarms, Severity
from indunet.telemetry.expr import NotEvaluable
from indunet.telemetry.rules import CompiledRule, Rule
from indunet.telemetry.samples import BAD, Sample, Value

log = logging.getLogger(__name__)
TARGETS_TTL_S = 60.0
"""How long the engine trusts its device → (model, enterprise) → rules cache."""
_TS = itemgetter(2)  # Sample.ts


@dataclass
class RuleStats:
    """Counters of the rule engine since start."""

    batches: int = 0
    samples: int = 0
    evaluations: int = 0
    not_evaluable: int = 0
    raised: int = 0
    cleared: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class _Change:
    raise_: bool
    rule: CompiledRule
    device: str
    ts: int
    values: dict[str, Value | None]
    pending: int | None  # pending-since to restore if raising fails


class RuleEngine:
    """Rules of every enterprise, cached in memory, evaluated on stored samples."""

    def __init__(
        self,
        engine: sa.Engine,
        devices: owners.DeviceDirectory,
        alarms: Alarms,
        bus: EventBus,
        *,
        find_model: Callable[[str, int], ThingModel] | None = None,
    ) -> None:
        self.engine = engine
        self.devices = devices
        self.alarms = alarms
        self.bus = bus
        self.find_model = find_model
        self.stats = RuleStats()
        self._rules: dict[int, CompiledRule] = {}
        self._targets: dict[str, dict[str, tuple[CompiledRule, ...]]] = {}
        self._targets_at = time.monotonic()
        self._values: dict[str, dict[str, Value]] = {}
        self._stamps: dict[str, dict[str, int]] = {}
        self._pending: dict[tuple[int, str], int] = {}
        self._models: dict[str, str] = {}  # device -> model id, as last resolved
        self._lock = asyncio.Lock()
        with engine.connect() as conn:
            for rule in rules.load_all(conn):
                self._rules[rule.id] = CompiledRule.of(rule)
        self._active = set(alarms.active())
        bus.subscribe(events.DEVICE_PURGED.name, self._on_purged)
        bus.subscribe(events.ALARM_CLEARED.name, self._on_cleared)
        for kind in (events.RULE_CREATED, events.RULE_UPDATED, events.RULE_DELETED):
            bus.subscribe(kind.name, self._on_rule_changed)

    async def _on_rule_changed(self, event: Event) -> None:
        """A rule was made, changed or removed, maybe by another process (an api process
        in the scaled mode; workers evaluate): read it again from the database. Alarms the
        change closed there are no longer active here either."""
        rule_id = event.data.get("id")
        if not isinstance(rule_id, int) or isinstance(rule_id, bool):
            return

        def read() -> tuple[rules.Rule | None, set[tuple[int, str]]]:
            with self.engine.connect() as conn:
                rule = rules.load_one(conn, rule_id)
            return rule, {k for k in self.alarms.active() if k[0] == rule_id}

        async with self._lock:  # not while a batch's alarms are being written
            rule, active = await asyncio.to_thread(read)
            self._reinstall(rule_id, rule, active)

    def _reinstall(
        self, rule_id: int, rule: rules.Rule | None, active: set[tuple[int, str]]
    ) -> None:
        if rule is None:
            if self._rules.pop(rule_id, None) is not None:
                self._targets.clear()
        elif rule_id not in self._rules or self._rules[rule_id].rule != rule:
            try:
                self._install(CompiledRule.of(rule))
            except Exception:  # stored rules were checked when saved; never stop the bus
                self.stats.errors += 1
                log.exception("rule %s from the database does not compile", rule_id)
        self._active = {k for k in self._active if k[0] != rule_id} | active

    async def _on_cleared(self, event: Event) -> None:
        """A person cleared an alarm by hand: its condition is watched afresh, so a condition
        that still holds raises a new alarm once it has held for the rule's duration."""
        if not event.data.get("cleared_by"):
            return
        rule_id, device_id = event.data.get("rule_id"), event.data.get("device_id")
        if isinstance(rule_id, int) and isinstance(device_id, str):
            self._active.discard((rule_id, device_id))
            self._pending.pop((rule_id, device_id), None)

    async def _on_purged(self, event: Event) -> None:
        """A deleted device's rules are gone from the database: drop them from memory too."""
        device_id = event.data.get("device_id")
        for rule_id in [i for i, r in self._rules.items() if r.rule.device_id == device_id]:
            del self._rules[rule_id]
        if isinstance(device_id, str):
            self.forget(device_id)
            # its alarm rows are gone too: a device registered again under the id starts clean
            self._active = {key for key in self._active if key[1] != device_id}
            for key in [k for k in self._pending if k[1] == device_id]:
                del self._pending[key]

    # -- evaluation ----------------------------------------------------------------------

    async def on_stored(self, samples: Sequence[Sample]) -> None:
        """Update latest values and raise or clear alarms; never raises."""
        try:
            changes = self._evaluate(samples)
            if changes:
                async with self._lock:
                    await self._apply_all(changes)
        except Exception:
            self.stats.errors += 1
            log.exception("rule evaluation failed for a batch of %d samples", len(samples))

    def latest(self, device_id: str) -> dict[str, Value]:
        """The latest value of each point of a device, as rules see them."""
        return dict(self._values.get(device_id, {}))

    def forget(self, device_id: str) -> None:
        """Drop what the engine holds about a device (deleted, or its model changed)."""
        self._targets.pop(device_id, None)
        self._values.pop(device_id, None)
        self._stamps.pop(device_id, None)
        self._models.pop(device_id, None)

    def _evaluate(self, samples: Sequence[Sample]) -> list[_Change]:
        self.stats.batches += 1
        self.stats.samples += len(samples)
        if time.monotonic() - self._targets_at > TARGETS_TTL_S:
            self._targets.clear()
            self._targets_at = time.monotonic()
        by_device: dict[str, list[Sample]] = {}
        find = by_device.get
        for s in samples:
            group = find(s[0])
            if group is None:
                by_device[s[0]] = [s]
            else:
                group.append(s)
        changes: list[_Change] = []
        for device, group in by_device.items():
            readers = self._targets.get(device)
            if readers is None:
                readers = self._resolve(device)
            values = self._values.get(device)
            if values is None:
                values = self._values[device] = {}
                self._stamps[device] = {}
            stamps = self._stamps[device]
            if not readers:  # no rule targets the device: keep its latest values only
                for _, point, ts, value, quality in group:
                    if quality != BAD:
                        old = stamps.get(point)
                        if old is None or ts >= old:
                            values[point] = value
                            stamps[point] = ts
                continue
            if len(group) > 1:
                stamps_in = [s[2] for s in group]
                if any(map(gt, stamps_in, stamps_in[1:])):
                    group.sort(key=_TS)
            due: list[CompiledRule] = []  # rules reading a point updated at time `at`
            at = 0
            for _, point, ts, value, quality in group:
                if quality == BAD:
                    continue
                old = stamps.get(point)
                if old is not None and ts < old:
                    continue
                if ts != at:
                    if due:
                        self._run(due, device, at, values, changes)
                        due = []
                    at = ts
                values[point] = value
                stamps[point] = ts
                rules_reading = readers.get(point)
                if rules_reading:
                    due.extend(rules_reading)
            if due:
                self._run(due, device, at, values, changes)
        return changes

    def _run(
        self,
        due: list[CompiledRule],
        device: str,
        ts: int,
        values: Mapping[str, Value],
        changes: list[_Change],
    ) -> None:
        for rule in due if len(due) == 1 else dict.fromkeys(due):
            self._check(rule, device, ts, values, changes)

    def _check(
        self,
        rule: CompiledRule,
        device: str,
        ts: int,
        values: Mapping[str, Value],
        changes: list[_Change],
    ) -> None:
        key = (rule.rule.id, device)
        self.stats.evaluations += 1
        try:
            if key in self._active:
                done = rule.clear.test(values) if rule.clear else not rule.condition.test(values)
                if done:
                    self._active.discard(key)
                    changes.append(_Change(False, rule, device, ts, {}, None))
                return
            hit = rule.condition.test(values)
        except NotEvaluable:
            self.stats.not_evaluable += 1
            if key not in self._active:
                self._pending.pop(key, None)
            return
        if not hit:
            self._pending.pop(key, None)
            return
        since = self._pending.setdefault(key, ts)
        if ts - since >= rule.duration_ms:
            del self._pending[key]
            self._active.add(key)
            shown = {n: values.get(n) for n in sorted(rule.condition.names)}
            changes.append(_Change(True, rule, device, ts, shown, since))

    async def _apply_all(self, changes: list[_Change]) -> None:
        """Write the batch's raises and clears in order; a failed one is retried later."""
        last = {(c.rule.rule.id, c.device): i for i, c in enumerate(changes)}
        failed: set[tuple[int, str]] = set()
        for i, change in enumerate(changes):
            key = (change.rule.rule.id, change.device)
            if key in failed:
                continue
            try:
                await self._apply(change)
            except Exception:
                self.stats.errors += 1
                log.exception("could not write an alarm of rule %s on %s", *key)
                failed.add(key)
                if not change.raise_:
                    self._active.add(key)  # clear again at the next sample
                elif last[key] == i:  # raise again at the next sample that holds
                    self._active.discard(key)
                    if change.pending is not None:
                        self._pending[key] = change.pending
                else:  # the condition broke later in this batch: start over
                    self._active.discard(key)

    async def _apply(self, change: _Change) -> None:
        rule = change.rule.rule
        at = datetime.fromtimestamp(change.ts / 1000, UTC)
        if change.raise_:
            await self.alarms.raise_alarm(
                rule_id=rule.id,
                rule_name=rule.name,
                enterprise_id=rule.enterprise_id,
                device_id=change.device,
                severity=rule.severity,
                message=change.rule.render(change.device, change.values),
                value=change.values,
                at=at,
                model_id=self._models.get(change.device),
            )
            self.stats.raised += 1
        else:
            await self.alarms.clear(rule.id, change.device, at=at)
            self.stats.cleared += 1

    def _resolve(self, device: str) -> dict[str, tuple[CompiledRule, ...]]:
        """Index the enabled rules targeting ``device`` by the points they read."""
        try:
            model, enterprise = owners.device_of(self.devices, device)
        except Exception:  # unknown device: nothing targets it
            found: list[CompiledRule] = []
        else:
            self._models[device] = model.id
            found = [
                r
                for r in self._rules.values()
                if r.rule.enabled
                and r.rule.enterprise_id == enterprise
                and (r.rule.device_id == device or r.rule.model_id == model.id)
            ]
        readers: dict[str, tuple[CompiledRule, ...]] = {}
        for rule in found:
            for point in rule.names:
                readers[point] = (*readers.get(point, ()), rule)
        self._targets[device] = readers
        return readers

    # -- management ----------------------------------------------------------------------

    def get(self, user: User, rule_id: int) -> Rule:
        """One rule the user may see, or ``NotFound``."""
        rule = self._rules.get(rule_id)
        if rule is None or not access.can_see(user, rule.rule.enterprise_id):
            raise NotFound(f"no rule {rule_id}", reason="rule_not_found", params={"rule": rule_id})
        return rule.rule

    def find(
        self,
        user: User,
        *,
        enterprise_id: int | None = None,
        device_id: str | None = None,
        severity: str | None = None,
        enabled: bool | None = None,
        text: str = "",
    ) -> list[Rule]:
        """Rules the user may see, by name; ``text`` is looked for (case-insensitively) in the
        name, condition, device, model and message. Rules live in memory, so this is a scan."""
        scoped = access.scope(user, enterprise_id)
        wanted = Severity.parse(severity) if severity else None
        needle = text.strip().casefold()
        found = [
            r.rule
            for r in self._rules.values()
            if (scoped is None or r.rule.enterprise_id == scoped)
            and (device_id is None or r.rule.device_id == device_id)
            and (wanted is None or r.rule.severity == wanted)
            and (enabled is None or r.rule.enabled == enabled)
            and (not needle or needle in _haystack(r.rule))
        ]
        return sorted(found, key=lambda r: (r.name, r.id))

    async def create(self, user: User, spec: Mapping[str, Any]) -> Rule:
        """Check and store a new rule (audited); it applies from the next batch."""
        rules.check_fields(spec, rules.EDITABLE | {"enterprise_id"})
        compiled = await asyncio.to_thread(self._create, user, dict(spec))
        self._install(compiled)
        await self.bus.publish(
            events.RULE_CREATED.make(
                compiled.rule.to_json(), enterprise_id=compiled.rule.enterprise_id
            )
        )
        return compiled.rule

    def _create(self, user: User, spec: dict[str, Any]) -> CompiledRule:
        model, enterprise = rules.target(
            self.devices, self.find_model, user, spec, spec.get("enterprise_id")
        )
        compiled = rules.check({**spec, "enterprise_id": enterprise}, model)
        with self.engine.begin() as conn:
            get_enterprise_by_id(conn, enterprise)
            stored = rules.insert(conn, compiled.rule, user.actor)
        return replace(compiled, rule=stored)

    async def update(self, user: User, rule_id: int, changes: Mapping[str, Any]) -> Rule:
        """Change some fields of a rule (audited); alarms of a retargeted rule are cleared."""
        rules.check_fields(changes, rules.EDITABLE)
        old = self.get(user, rule_id)
        compiled = await asyncio.to_thread(self._update, user, old, dict(changes))
        self._install(compiled)
        retargeted = (old.device_id, old.model_id) != (
            compiled.rule.device_id,
            compiled.rule.model_id,
        )
        if retargeted or not compiled.rule.enabled:
            await self._clear_rule(rule_id)
        await self.bus.publish(
            events.RULE_UPDATED.make(
                compiled.rule.to_json(), enterprise_id=compiled.rule.enterprise_id
            )
        )
        return compiled.rule

    def _update(self, user: User, old: Rule, changes: dict[str, Any]) -> CompiledRule:
        access.check_change(user, old.enterprise_id, f"rule {old.id}")
        spec: dict[str, Any] = {k: getattr(old, k) for k in rules.EDITABLE}
        if "device_id" in changes or "model_id" in changes:
            spec.update(device_id=None, model_id=None)
        spec.update(changes)
        model, _ = rules.target(self.devices, self.find_model, user, spec, old.enterprise_id)
        compiled = rules.check({**spec, "enterprise_id": old.enterprise_id}, model)
        rule = replace(
            compiled.rule, id=old.id, created_by=old.created_by, created_at=old.created_at
        )
        with self.engine.begin() as conn:
            rules.update(conn, rule, user.actor)
        return replace(compiled, rule=rule)

    async def delete(self, user: User, rule_id: int) -> None:
        """Remove a rule (audited) and clear its active alarms; its alarms stay as history."""
        old = self.get(user, rule_id)
        access.check_change(user, old.enterprise_id, f"rule {rule_id}")

        def remove() -> None:
            with self.engine.begin() as conn:
                rules.delete(conn, old, user.actor)

        await asyncio.to_thread(remove)
        self._rules.pop(rule_id, None)
        self._targets.clear()
        await self._clear_rule(rule_id)
        await self.bus.publish(
            events.RULE_DELETED.make(old.to_json(), enterprise_id=old.enterprise_id)
        )

    def _install(self, compiled: CompiledRule) -> None:
        rule_id = compiled.rule.id
        self._rules[rule_id] = compiled
        self._targets.clear()
        for key in [k for k in self._pending if k[0] == rule_id]:
            del self._pending[key]

    async def _clear_rule(self, rule_id: int) -> None:
        """Close the rule's open alarms: the ones this engine raised and those the database
        holds (raised by another process's engine, in the scaled mode)."""
        now = datetime.now(UTC)
        stored = await asyncio.to_thread(self.alarms.active)
        async with self._lock:
            self._active |= {k for k in stored if k[0] == rule_id}
            for key in [k for k in self._active if k[0] == rule_id]:
                self._active.discard(key)
                await self.alarms.clear(rule_id, key[1], at=now)
                self.stats.cleared += 1


def _haystack(rule: Rule) -> str:
    parts = (rule.name, rule.condition, rule.device_id, rule.model_id, rule.message)
    return "\n".join(p for p in parts if p).casefold()
