"""Rules and alarms (告警) API: manage alarm rules, list and count alarms, acknowledge them.

Platform admins manage every enterprise's rules; enterprise admins their own enterprise's.
Enterprise users read their enterprise's rules and alarms and may acknowledge its alarms;
regulators read everything and change nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from indunet import telemetry
from indunet.core import User, access
from indunet.telemetry.alarms import MAX_COMMENT, AlarmFilter
from indunet.web.deps import MAX_DB_INT, BodyId, PathId, PlatformDep, QueryId, UserDep
from indunet.web.platform import Platform

router = APIRouter(tags=["alarms"])


class RuleIn(BaseModel):
    """An alarm rule; on change, omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100, examples=["主轴轴承过热"])
    device_id: str | None = Field(default=None, description="the one device the rule watches")
    model_id: str | None = Field(
        default=None,
        description="or: every device of this model in the enterprise",
        examples=["indunet:cnc-machine"],
    )
    enterprise_id: BodyId | None = Field(
        default=None, description="for model rules made by a platform admin (creation only)"
    )
    condition: str | None = Field(
        default=None,
        description="expression over the model's point names",
        examples=["bearing_temp > 80", "motor_current > 1.2 * 40 and running"],
    )
    clear_condition: str | None = Field(
        default=None, description="when the alarm clears; default: the condition no longer holds"
    )
    duration_s: float | None = Field(
        default=None, description="seconds (of sample time) the condition must hold", examples=[30]
    )
    severity: str | None = Field(
        default=None, description="critical, major (default), minor or warning"
    )
    enabled: bool | None = None
    message: str | None = Field(
        default=None,
        description="text with {point}, {device} and {rule} placeholders",
        examples=["{device}: bearing at {bearing_temp} °C"],
    )


class Ack(BaseModel):
    """An acknowledgement of an alarm."""

    note: str = Field(default="", max_length=500, examples=["已安排检修"])


class Clearing(BaseModel):
    """Clearing an alarm by hand, with an optional note (kept as a comment)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500, examples=["误报：传感器接线松动，已紧固"])


class CommentIn(BaseModel):
    """A comment on an alarm."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_COMMENT, examples=["已更换轴承，观察中"])


def _engine(platform: Platform) -> telemetry.RuleEngine:
    rules: telemetry.RuleEngine | None = platform.rules
    if rules is None:
        raise RuntimeError("this platform runs no rule engine")
    return rules


def _alarms(platform: Platform) -> telemetry.Alarms:
    alarms: telemetry.Alarms | None = platform.alarms
    if alarms is None:
        raise RuntimeError("this platform keeps no alarms")
    return alarms


def _filters_visible(
    platform: Platform, user: User, device_id: str | None, rule_id: int | None
) -> None:
    """A filter naming another tenant's device or rule is not found (``core.access``), as a
    path naming it would be; overseers may filter by things that are gone (history)."""
    if access.sees_all(user):
        return
    if device_id is not None:
        platform.devices.visible(user, device_id)
    if rule_id is not None:
        _engine(platform).get(user, rule_id)


@router.get("/rules")
def list_rules(
    platform: PlatformDep,
    user: UserDep,
    enterprise_id: QueryId = None,
    device_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rules the user may see, by name."""
    _filters_visible(platform, user, device_id, None)
    found = _engine(platform).find(user, enterprise_id=enterprise_id, device_id=device_id)
    return [r.to_json() for r in found]


@router.post("/rules", status_code=201)
async def create_rule(body: RuleIn, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """Create a rule, checked against the device model; it applies from the next batch."""
    rule = await _engine(platform).create(user, body.model_dump(exclude_unset=True))
    return rule.to_json()


@router.get("/rules/{rule_id}")
async def get_rule(rule_id: PathId, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """One rule."""
    return _engine(platform).get(user, rule_id).to_json()


@router.patch("/rules/{rule_id}")
async def update_rule(
    rule_id: PathId, body: RuleIn, platform: PlatformDep, user: UserDep
) -> dict[str, Any]:
    """Change some fields of a rule."""
    rule = await _engine(platform).update(user, rule_id, body.model_dump(exclude_unset=True))
    return rule.to_json()


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: PathId, platform: PlatformDep, user: UserDep) -> None:
    """Delete a rule; its active alarms clear, and its alarms stay as history."""
    await _engine(platform).delete(user, rule_id)


Since = Annotated[
    AwareDatetime | None,
    Query(alias="from", description="raised at or after (ISO 8601 with an offset)"),
]
Until = Annotated[
    AwareDatetime | None, Query(alias="to", description="raised before (ISO 8601 with an offset)")
]


def _model_visible(platform: Platform, user: User, model_id: str | None) -> None:
    if model_id is not None and not access.sees_all(user):
        platform.models.visible(user, model_id)


@router.get("/alarms")
def list_alarms(
    platform: PlatformDep,
    user: UserDep,
    response: Response,
    state: str | None = Query(
        default=None, description="open, active, acknowledged, cleared or closed"
    ),
    enterprise_id: QueryId = None,
    device_id: str | None = Query(default=None, max_length=200),
    model_id: str | None = Query(default=None, max_length=200, description="the device's model"),
    severity: str | None = Query(default=None, max_length=50),
    rule_id: QueryId = None,
    since: Since = None,
    until: Until = None,
    q: str = Query(
        default="", max_length=100, description="text in the message, device id or rule name"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000, description="alarms to skip"),
    before: int | None = Query(
        default=None, ge=1, le=MAX_DB_INT, description="an alarm id: older alarms only"
    ),
) -> list[dict[str, Any]]:
    """Alarms the user may see, newest first; the ``X-Total-Count`` header says how many
    match the filters in all (``before`` aside)."""
    _filters_visible(platform, user, device_id, rule_id)
    _model_visible(platform, user, model_id)
    f = AlarmFilter(state, enterprise_id, device_id, model_id, severity, rule_id, since, until, q)
    service = _alarms(platform)
    found = service.page(user, f, offset=offset, limit=limit, before=before)
    response.headers["X-Total-Count"] = str(service.total(user, f))
    return [a.to_json() for a in found]


@router.get("/alarms/counts")
def count_alarms(
    platform: PlatformDep,
    user: UserDep,
    state: str = Query(default="open", description="open (default), all, or one state"),
    enterprise_id: QueryId = None,
    device_id: str | None = Query(default=None, max_length=200),
    model_id: str | None = Query(default=None, max_length=200),
    rule_id: QueryId = None,
    since: Since = None,
    until: Until = None,
    q: str = Query(default="", max_length=100),
) -> dict[str, int]:
    """Number of alarms per severity matching the filters, for the console's tiles."""
    _filters_visible(platform, user, device_id, rule_id)
    _model_visible(platform, user, model_id)
    f = AlarmFilter(
        None if state == "all" else state,
        enterprise_id,
        device_id,
        model_id,
        None,
        rule_id,
        since,
        until,
        q,
    )
    return _alarms(platform).counts(user, where=f)


@router.get("/alarms/{alarm_id}")
def get_alarm(alarm_id: PathId, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    """One alarm."""
    return _alarms(platform).get(user, alarm_id).to_json()


@router.post("/alarms/{alarm_id}/ack")
async def acknowledge_alarm(
    alarm_id: PathId, platform: PlatformDep, user: UserDep, body: Ack | None = None
) -> dict[str, Any]:
    """Acknowledge an alarm (a user of its enterprise, or a platform admin); audited."""
    alarm = await _alarms(platform).acknowledge(user, alarm_id, body.note if body else "")
    return alarm.to_json()


@router.post("/alarms/{alarm_id}/clear")
async def clear_alarm(
    alarm_id: PathId, platform: PlatformDep, user: UserDep, body: Clearing | None = None
) -> dict[str, Any]:
    """Clear an alarm by hand: it closes now, acknowledged by the caller if nobody had; a
    condition that still holds raises a new alarm after the rule's duration. Audited."""
    alarm = await _alarms(platform).clear_by_hand(user, alarm_id, body.note if body else "")
    return alarm.to_json()


@router.get("/alarms/{alarm_id}/comments")
def list_comments(alarm_id: PathId, platform: PlatformDep, user: UserDep) -> list[dict[str, Any]]:
    """The comments of an alarm, oldest first."""
    return [c.to_json() for c in _alarms(platform).comments(user, alarm_id)]


@router.post("/alarms/{alarm_id}/comments", status_code=201)
async def add_comment(
    alarm_id: PathId, body: CommentIn, platform: PlatformDep, user: UserDep
) -> dict[str, Any]:
    """Comment on an alarm (a user of its enterprise, or a platform admin); audited."""
    made = await run_in_threadpool(_alarms(platform).comment, user, alarm_id, body.text)
    return made.to_json()
