"""Subscription rules: which events reach which channel, for an enterprise or one user.

A rule names event kinds (``notices.KINDS``), devices (all, those with a tag, or a list of
ids), a minimum severity (alarms carry theirs; a device offline and a failed command count as
*major*, a finished bulk import as *warning*, or *minor* when rows failed), quiet hours and the
zone they are read in (the subscriber's), the language of its messages, and one channel.

Quiet hours ``22:00``–``07:00`` run over midnight; a start equal to the end means none.
Notices that fall in quiet hours are not sent; the delivery log records them as ``quiet``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from indunet.core import InvalidInput
from indunet.notify.notices import KINDS, LANGUAGES, SEVERITIES, Notice

DEVICE_MODES = ("all", "tag", "list")
MAX_DEVICES = 200
MAX_NAME = 100

TagsOf = Callable[[str], Sequence[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One subscription rule."""

    id: int
    enterprise_id: int | None
    user_id: int | None
    name: str
    channel_id: int
    kinds: tuple[str, ...]
    devices_mode: str
    devices: tuple[str, ...]
    min_severity: str
    quiet_start: str | None
    quiet_end: str | None
    zone: str
    lang: str
    enabled: bool

    def wants(self, notice: Notice, tags_of: TagsOf) -> bool:
        """Whether ``notice`` is one this rule subscribes to (quiet hours aside)."""
        if not self.enabled or notice.kind not in self.kinds:
            return False
        if self.enterprise_id is not None and notice.enterprise_id != self.enterprise_id:
            return False
        if SEVERITIES.index(notice.severity) > SEVERITIES.index(self.min_severity):
            return False
        if self.devices_mode == "all":
            return True
        if notice.device_id is None:
            return False
        if self.devices_mode == "list":
            return notice.device_id in self.devices
        return any(tag in self.devices for tag in tags_of(notice.device_id))

    def quiet_at(self, when: datetime) -> bool:
        """Whether ``when`` (aware) falls in this rule's quiet hours, read in its zone."""
        if not self.quiet_start or not self.quiet_end or self.quiet_start == self.quiet_end:
            return False
        local = when.astimezone(ZoneInfo(self.zone)).strftime("%H:%M")
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end


def _hhmm(text: str, field: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2) or not (
        0 <= int(hours) < 24 and 0 <= int(minutes) < 60
    ):
        raise InvalidInput(
            f"{field} {text!r} is not a time of day (HH:MM)",
            reason="notify_bad_time",
            params={"value": text[:10]},
        )
    return f"{int(hours):02d}:{minutes}"


def check_zone(name: str) -> str:
    """``name`` if it is an IANA time zone, else ``InvalidInput``."""
    try:
        if not name or len(name) > 64:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{name[:64]!r} is not a time zone",
            reason="notify_bad_zone",
            params={"zone": name[:64]},
        ) from None
    return name


def rule_fields(form: Mapping[str, object]) -> dict[str, object]:
    """The stored columns of a rule from its form; ``InvalidInput`` naming the first problem.

    ``kinds`` is a list of event kinds; ``devices`` text of tags or ids separated by commas.
    """
    name = str(form.get("name") or "").strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(
            f"a rule's name has 1 to {MAX_NAME} characters",
            reason="notify_rule_name",
            params={"max": MAX_NAME},
        )
    raw_kinds = form.get("kinds") or ()
    kinds = [str(k) for k in (raw_kinds if isinstance(raw_kinds, list | tuple) else [raw_kinds])]
    if not kinds or any(k not in KINDS for k in kinds):
        raise InvalidInput(
            "choose the events to send",
            reason="notify_rule_kinds",
            params={"kinds": ", ".join(KINDS)},
        )
    mode = str(form.get("devices_mode") or "all")
    if mode not in DEVICE_MODES:
        raise InvalidInput(
            f"devices must be one of {', '.join(DEVICE_MODES)}",
            reason="notify_field_choice",
            params={"field": "devices_mode", "choices": ", ".join(DEVICE_MODES)},
        )
    devices = [d.strip() for d in str(form.get("devices") or "").split(",") if d.strip()]
    if mode != "all" and not devices:
        raise InvalidInput("name the tags or devices", reason="notify_rule_devices", params={})
    if len(devices) > MAX_DEVICES or any(len(d) > 63 for d in devices):
        raise InvalidInput(
            f"at most {MAX_DEVICES} tags or devices of up to 63 characters",
            reason="notify_rule_devices_long",
            params={"max": MAX_DEVICES},
        )
    severity = str(form.get("min_severity") or "warning")
    if severity not in SEVERITIES:
        raise InvalidInput(
            f"severity must be one of {', '.join(SEVERITIES)}",
            reason="notify_field_choice",
            params={"field": "min_severity", "choices": ", ".join(SEVERITIES)},
        )
    lang = str(form.get("lang") or LANGUAGES[0])
    if lang not in LANGUAGES:
        lang = LANGUAGES[0]
    start = _hhmm(str(form.get("quiet_start") or ""), "quiet_start")
    end = _hhmm(str(form.get("quiet_end") or ""), "quiet_end")
    if (start is None) != (end is None):
        raise InvalidInput(
            "give both ends of the quiet hours", reason="notify_quiet_both", params={}
        )
    return {
        "name": name,
        "kinds": kinds,
        "devices_mode": mode,
        "devices": devices if mode != "all" else [],
        "min_severity": severity,
        "quiet_start": start,
        "quiet_end": end,
        "zone": check_zone(str(form.get("zone") or "Asia/Shanghai")),
        "lang": lang,
        "enabled": str(form.get("enabled", "1")) in ("1", "on", "true"),
    }
