"""Alarm rules: what a rule holds, how it is checked against the device model, and its storage.

A rule belongs to one enterprise and targets either one device (``device_id``) or every
device of one model in that enterprise (``model_id``). Its ``condition`` is an ``Expression``
over the model's point names; it raises an alarm once the condition has held for
``duration_s`` seconds of sample time, and the alarm clears when ``clear_condition`` holds
(by default: when the condition no longer holds). ``message`` may name points and
``{device}``/``{rule}`` in braces: ``"bearing at {bearing_temp} °C on {device}"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput, User, access, audit
from indunet.devices import ThingModel
from indunet.telemetry import owners
from indunet.telemetry.alarms import Severity
from indunet.telemetry.alarmtables import rules as table
from indunet.telemetry.expr import Expression
from indunet.telemetry.samples import Value

MAX_DURATION_S = 7 * 24 * 3600.0
"""Longest ``duration_s`` a rule may ask for (a week)."""
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
FIXED_PLACEHOLDERS = frozenset({"device", "rule"})
EDITABLE = frozenset(
    {
        "name",
        "device_id",
        "model_id",
        "condition",
        "clear_condition",
        "duration_s",
        "severity",
        "enabled",
        "message",
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored alarm rule."""

    id: int
    enterprise_id: int
    name: str
    device_id: str | None
    model_id: str | None
    condition: str
    clear_condition: str | None
    duration_s: float
    severity: Severity
    enabled: bool
    message: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def target(self) -> str:
        """``device:<id>`` or ``model:<id>``."""
        return f"device:{self.device_id}" if self.device_id else f"model:{self.model_id}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.isoformat() if isinstance(v, datetime) else v
        return out


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: fast
class CompiledRule:
    """A rule with its expressions parsed once, as the engine evaluates it."""

    rule: Rule
    condition: Expression
    clear: Expression | None
    names: frozenset[str]  # every point either expression reads
    duration_ms: int

    @classmethod
    def of(cls, rule: Rule) -> CompiledRule:
        """Parse the rule's expressions."""
        condition = Expression.parse(rule.condition)
        clear = Expression.parse(rule.clear_condition) if rule.clear_condition else None
        names = condition.names | (clear.names if clear else frozenset())
        return cls(rule, condition, clear, names, round(rule.duration_s * 1000))

    def render(self, device_id: str, values: Mapping[str, Value | None]) -> str:
        """The alarm message for ``device_id`` with these point values."""
        if not self.rule.message:
            shown = ", ".join(f"{n}={_show(values.get(n))}" for n in sorted(self.condition.names))
            return f"{self.rule.name} on {device_id}: {self.rule.condition} ({shown})"
        known = {"device": device_id, "rule": self.rule.name}

        def fill(m: re.Match[str]) -> str:
            key = m.group(1)
            return known[key] if key in known else _show(values.get(key))

        return PLACEHOLDER.sub(fill, self.rule.message)


def _show(v: Value | None) -> str:
    if v is None:
        return "?"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _aware(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


def _rule(row: sa.Row[Any]) -> Rule:
    m = dict(row._mapping)
    return Rule(
        **{
            **m,
            "severity": Severity(m["severity"]),
            "created_at": _aware(m["created_at"]),
            "updated_at": _aware(m["updated_at"]),
        }
    )


def check(spec: Mapping[str, Any], model: ThingModel) -> CompiledRule:
    """Check a rule's fields against its device model; ``InvalidInput`` names what is wrong."""
    name = str(spec.get("name") or "").strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput(
            "a rule needs a name of 1 to 100 characters", reason="rule_name", params={"max": 100}
        )
    duration = spec.get("duration_s", 0.0)
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not math.isfinite(duration)
        or not 0 <= duration <= MAX_DURATION_S
    ):
        raise InvalidInput(
            f"duration_s must be 0 to {MAX_DURATION_S:.0f} seconds, not {duration!r}",
            reason="rule_duration",
            params={"max": int(MAX_DURATION_S), "value": str(duration)[:50]},
        )
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput(
            f"enabled must be true or false, not {enabled!r}",
            reason="rule_enabled",
            params={"value": str(enabled)[:50]},
        )
    message = str(spec.get("message") or "")
    if len(message) > 500:
        raise InvalidInput(
            "a rule message has at most 500 characters",
            reason="rule_message_long",
            params={"max": 500},
        )
    now = datetime.now(UTC)
    rule = Rule(
        id=0,
        enterprise_id=spec["enterprise_id"],
        name=name,
        device_id=spec.get("device_id"),
        model_id=spec.get("model_id"),
        condition=str(spec.get("condition") or ""),
        clear_condition=spec.get("clear_condition") or None,
        duration_s=float(duration),
        severity=Severity.parse(spec.get("severity") or Severity.MAJOR),
        enabled=enabled,
        message=message,
        created_by="",
        created_at=now,
        updated_at=now,
    )
    compiled = CompiledRule.of(rule)
    check_points(compiled.condition, compiled.clear, model)
    for m in PLACEHOLDER.finditer(message):
        key = m.group(1)
        if key not in FIXED_PLACEHOLDERS and key not in model.points:
            raise InvalidInput(
                f"the message names {{{key}}}, which is neither a point of {model.id} "
                "nor {device} or {rule}",
                detail={"placeholder": key},
                reason="rule_placeholder_unknown",
                params={"placeholder": key[:50], "model": model.id},
            )
    return compiled


def check_points(condition: Expression, clear: Expression | None, model: ThingModel) -> None:
    """Raise ``InvalidInput`` naming a point either expression reads that ``model`` lacks."""
    for label, expr in (("condition", condition), ("clear condition", clear)):
        for point in sorted(expr.names if expr else ()):
            if point not in model.points:
                points = ", ".join(sorted(model.points))
                raise InvalidInput(
                    f"the {label} uses point {point!r}, which model {model.id} does not have; "
                    f"its points are {points}",
                    detail={"point": point},
                    reason="rule_point_unknown",
                    params={"point": point[:100], "model": model.id, "points": points},
                )


def check_fields(spec: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Raise ``InvalidInput`` naming any field of ``spec`` that is not ``allowed``."""
    unknown = set(spec) - allowed
    if unknown:
        names, choices = ", ".join(sorted(unknown)), ", ".join(sorted(allowed))
        raise InvalidInput(
            f"unknown or fixed rule field(s) {names}; give only {choices}",
            reason="rule_fields",
            params={"fields": names[:200], "choices": choices},
        )


def target(
    devices: owners.DeviceDirectory,
    find_model: Callable[[str, int], ThingModel] | None,
    user: User,
    spec: Mapping[str, Any],
    enterprise: int | None,
) -> tuple[ThingModel, int]:
    """The model a rule is checked against and the enterprise it belongs to.

    Also checks that ``user`` may manage that enterprise's rules.
    """
    device_id, model_id = spec.get("device_id"), spec.get("model_id")
    if bool(device_id) == bool(model_id):
        raise InvalidInput(
            "a rule targets exactly one of device_id or model_id", reason="rule_target"
        )
    if device_id:
        model, owner = owners.device_of(devices, str(device_id))
        access.check_see(user, owner, f"device {device_id}")
        if enterprise is not None and enterprise != owner:
            raise InvalidInput(
                f"device {device_id} belongs to enterprise {owner}, not {enterprise}",
                reason="rule_device_enterprise",
                params={"device": str(device_id)},
            )
        enterprise = owner
    else:
        if find_model is None:
            raise InvalidInput(
                "this platform has no model registry: target a device", reason="rule_no_models"
            )
        enterprise = enterprise if enterprise is not None else user.enterprise_id
        if enterprise is None:
            raise InvalidInput(
                "say which enterprise's devices the rule covers (enterprise_id)",
                reason="rule_enterprise_needed",
            )
        access.check_see(user, enterprise, f"enterprise {enterprise}")
        model = find_model(str(model_id), enterprise)  # another tenant's model: NotFound
    access.check_change(user, enterprise, "rules")
    return model, int(enterprise)


# -- storage -----------------------------------------------------------------------------


def load_all(conn: sa.Connection) -> list[Rule]:
    """Every stored rule."""
    return [_rule(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def load_one(conn: sa.Connection, rule_id: int) -> Rule | None:
    """One stored rule, or None when it does not exist (any more)."""
    row = conn.execute(sa.select(table).where(table.c.id == rule_id)).first()
    return None if row is None else _rule(row)


def insert(conn: sa.Connection, rule: Rule, actor: str) -> Rule:
    """Store a checked rule with its audit entry; ``Conflict`` if the name is taken."""
    _unique_name(conn, rule)
    values = _columns(rule)
    values.update(created_by=actor)
    new_id = conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()
    stored = replace(rule, id=int(new_id), created_by=actor)
    audit.record(
        conn,
        actor,
        "rule.create",
        f"rule:{new_id}",
        _detail(stored),
        enterprise_id=stored.enterprise_id,
    )
    return stored


def update(conn: sa.Connection, rule: Rule, actor: str) -> Rule:
    """Store a changed rule with its audit entry."""
    _unique_name(conn, rule)
    values = _columns(rule)
    del values["created_at"]
    conn.execute(table.update().where(table.c.id == rule.id).values(**values))
    audit.record(
        conn,
        actor,
        "rule.update",
        f"rule:{rule.id}",
        _detail(rule),
        enterprise_id=rule.enterprise_id,
    )
    return rule


def delete(conn: sa.Connection, rule: Rule, actor: str) -> None:
    """Remove a rule with its audit entry (its alarms stay, as history)."""
    conn.execute(table.delete().where(table.c.id == rule.id))
    audit.record(
        conn,
        actor,
        "rule.delete",
        f"rule:{rule.id}",
        _detail(rule),
        enterprise_id=rule.enterprise_id,
    )


def _columns(rule: Rule) -> dict[str, Any]:
    values = {f.name: getattr(rule, f.name) for f in fields(rule) if f.name != "id"}
    values["severity"] = rule.severity.value
    return values


def _detail(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "enterprise_id": rule.enterprise_id,
        "target": rule.target,
        "condition": rule.condition,
        "severity": rule.severity.value,
        "enabled": rule.enabled,
    }


def _unique_name(conn: sa.Connection, rule: Rule) -> None:
    clash = conn.execute(
        sa.select(table.c.id).where(
            table.c.enterprise_id == rule.enterprise_id,
            table.c.name == rule.name,
            table.c.id != rule.id,
        )
    ).first()
    if clash:
        raise Conflict(
            f"the enterprise already has a rule named {rule.name!r} (rule {clash[0]})",
            reason="rule_name_taken",
            params={"name": rule.name, "rule": clash[0]},
        )
