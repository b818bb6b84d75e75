"""Events as notices: what the dispatcher groups and sends, one shape for every event kind.

A notice keeps what a subscription rule filters on (kind, enterprise, device, severity) and
one line of text per event in both console languages. Events a rule cannot subscribe to
(``alarm.acknowledged``, a device coming online) give no notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indunet.core import Event

#: Event kinds a rule may subscribe to, in the order the console lists them.
KINDS = ("alarm.raised", "alarm.cleared", "device.offline", "command.failed", "bulk.finished")
#: Most urgent first, as ``telemetry.Severity``; events that are not alarms get one too.
SEVERITIES = ("critical", "major", "minor", "warning")
LANGUAGES = ("zh-CN", "en")
#: The bus types the dispatcher subscribes to.
EVENT_TYPES = ("alarm.raised", "alarm.cleared", "device.status", "command.failed", "bulk.finished")

_SUBJECTS = {
    "zh-CN": {
        "alarm.raised": "告警：{what}",
        "alarm.cleared": "告警已清除：{what}",
        "device.offline": "设备离线：{what}",
        "command.failed": "命令失败：{what}",
        "bulk.finished": "批量导入完成：{what}",
        "digest": "{subject}（{count} 条）",
        "bulk.counts": "登记 {registered} 条，未变 {unchanged} 条，失败 {failed} 条",
    },
    "en": {
        "alarm.raised": "Alarm: {what}",
        "alarm.cleared": "Alarm cleared: {what}",
        "device.offline": "Device offline: {what}",
        "command.failed": "Command failed: {what}",
        "bulk.finished": "Bulk import finished: {what}",
        "digest": "{subject} ({count} events)",
        "bulk.counts": "registered {registered}, unchanged {unchanged}, failed {failed}",
    },
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One event, ready to be matched and told."""

    kind: str
    enterprise_id: int | None
    device_id: str | None
    severity: str
    what: str  # the short name of what happened (device and rule), for the subject
    detail: str  # one line of detail (data: an alarm's message, a command's error)
    time_ms: int
    event_id: str
    counts: tuple[int, int, int] | None = None  # a bulk import's registered/unchanged/failed

    def subject(self, lang: str) -> str:
        """The subject line in ``lang``."""
        return _SUBJECTS.get(lang, _SUBJECTS["en"])[self.kind].format(what=self.what)

    def line(self, lang: str, clock: str) -> str:
        """The notice as one line: time, subject, detail."""
        return f"{clock} {self.subject(lang)} {self.detail_in(lang)}".strip()

    def detail_in(self, lang: str) -> str:
        """The detail in ``lang`` (a bulk import's counts are worded; data is as it came)."""
        if self.counts is None:
            return self.detail
        registered, unchanged, failed = self.counts
        template = _SUBJECTS.get(lang, _SUBJECTS["en"])["bulk.counts"]
        return template.format(registered=registered, unchanged=unchanged, failed=failed)


def digest_subject(first: Notice, count: int, lang: str) -> str:
    """The subject of a digest of ``count`` notices starting with ``first``."""
    subject = first.subject(lang)
    if count <= 1:
        return subject
    return _SUBJECTS.get(lang, _SUBJECTS["en"])["digest"].format(subject=subject, count=count)


def _text(data: Any, key: str, limit: int = 200) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    return "" if value is None else str(value)[:limit]


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def notice_of(event: Event) -> Notice | None:
    """The notice of ``event``, or None for events no rule subscribes to."""
    d = dict(event.data)

    def make(
        kind: str,
        device: str | None,
        severity: str,
        what: str,
        detail: str,
        counts: tuple[int, int, int] | None = None,
    ) -> Notice:
        return Notice(
            kind,
            event.enterprise_id,
            device,
            severity,
            what,
            detail,
            event.time_ms,
            event.id,
            counts,
        )

    if event.type in ("alarm.raised", "alarm.cleared"):
        device = _text(d, "device_id", 63)
        severity = _text(d, "severity") if _text(d, "severity") in SEVERITIES else "warning"
        what = f"{device} · {_text(d, 'rule_name', 100)}"
        return make(event.type, device, severity, what, _text(d, "message", 300))
    if event.type == "device.status":
        if d.get("status") != "offline":
            return None
        device = _text(d, "device_id", 63)
        return make("device.offline", device, "major", device, "")
    if event.type == "command.failed":
        device = _text(d, "device_id", 63)
        what = f"{device} · {_text(d, 'name', 100)}"
        return make("command.failed", device, "major", what, _text(d, "error", 300))
    if event.type == "bulk.finished":
        registered, unchanged, failed = (
            _count(d, k) for k in ("registered", "unchanged", "failed")
        )
        severity = "minor" if failed else "warning"
        what = _text(d, "source", 100)
        return make("bulk.finished", None, severity, what, "", (registered, unchanged, failed))
    return None
