"""Subscription rules: what they match, quiet hours in the subscriber's zone, form checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from indunet.core import Event, InvalidInput
from indunet.notify import Notice, Rule, notice_of
from indunet.notify.rules import rule_fields

RULE = Rule(
    id=1, enterprise_id=7, user_id=None, name="r", channel_id=1, kinds=("alarm.raised",),
    devices_mode="all", devices=(), min_severity="major", quiet_start=None, quiet_end=None,
    zone="Asia/Shanghai", lang="zh-CN", enabled=True,
)  # fmt: skip


def alarm(severity: str = "critical", device: str = "pump-1", enterprise: int = 7) -> Notice:
    data = {"device_id": device, "severity": severity, "rule_name": "hot", "message": "热"}
    notice = notice_of(Event("alarm.raised", 1, "telemetry", data, enterprise))
    assert notice is not None
    return notice


def no_tags(_d: str) -> tuple[str, ...]:
    return ()


def test_kind_enterprise_and_severity_filter() -> None:
    assert RULE.wants(alarm("critical"), no_tags)
    assert RULE.wants(alarm("major"), no_tags)
    assert not RULE.wants(alarm("minor"), no_tags)
    assert not RULE.wants(alarm(enterprise=8), no_tags)  # another enterprise's event
    assert replace(RULE, enterprise_id=None).wants(alarm(enterprise=8), no_tags)  # platform rule
    assert not replace(RULE, enabled=False).wants(alarm(), no_tags)
    assert not replace(RULE, kinds=("alarm.cleared",)).wants(alarm(), no_tags)


def test_devices_by_list_and_by_tag() -> None:
    by_list = replace(RULE, devices_mode="list", devices=("pump-1",))
    assert by_list.wants(alarm(device="pump-1"), no_tags)
    assert not by_list.wants(alarm(device="pump-2"), no_tags)
    by_tag = replace(RULE, devices_mode="tag", devices=("line-1",))
    tags = {"pump-1": ("line-1",), "pump-2": ("line-2",)}
    assert by_tag.wants(alarm(device="pump-1"), lambda d: tags.get(d, ()))
    assert not by_tag.wants(alarm(device="pump-2"), lambda d: tags.get(d, ()))


def test_quiet_hours_over_midnight_in_the_rules_zone() -> None:
    rule = replace(RULE, quiet_start="22:00", quiet_end="07:00", zone="Asia/Shanghai")
    # 15:30 UTC is 23:30 in Shanghai (quiet); 23:30 UTC is 07:30 there (not quiet)
    assert rule.quiet_at(datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    assert not rule.quiet_at(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    assert not replace(rule, zone="UTC").quiet_at(datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    day = replace(RULE, quiet_start="12:00", quiet_end="13:00", zone="UTC")
    assert day.quiet_at(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert not day.quiet_at(datetime(2026, 3, 1, 13, 0, tzinfo=UTC))


def test_events_become_notices_and_others_do_not() -> None:
    online = Event("device.status", 1, "devices", {"device_id": "p", "status": "online"}, 1)
    assert notice_of(online) is None
    offline = notice_of(
        Event("device.status", 1, "devices", {"device_id": "p", "status": "offline"}, 1)
    )
    assert offline is not None and offline.kind == "device.offline" and offline.severity == "major"
    failed = notice_of(
        Event(
            "command.failed", 1, "telemetry", {"device_id": "p", "name": "speed", "error": "x"}, 1
        )
    )
    assert failed is not None and failed.subject("en") == "Command failed: p · speed"
    bulk = notice_of(Event("bulk.finished", 1, "ids", {"source": "a.csv", "failed": 2}, 1))
    assert bulk is not None and bulk.severity == "minor" and bulk.device_id is None
    counts = {"source": "a.csv", "registered": 3, "unchanged": 1, "failed": 2}
    bulk = notice_of(Event("bulk.finished", 1, "ids", counts, 1))
    assert bulk is not None
    assert (
        bulk.line("zh-CN", "08:00") == "08:00 批量导入完成：a.csv 登记 3 条，未变 1 条，失败 2 条"
    )
    assert bulk.line("en", "08:00") == (
        "08:00 Bulk import finished: a.csv registered 3, unchanged 1, failed 2"
    )


FORM = {"name": "夜班", "kinds": ["alarm.raised"], "devices_mode": "all", "min_severity": "minor"}


def test_rule_form_is_checked_field_by_field() -> None:
    fields = rule_fields(FORM | {"quiet_start": "22:00", "quiet_end": "7:05", "zone": "UTC"})
    assert fields["quiet_end"] == "07:05" and fields["enabled"] is True
    bad = [
        ({"name": ""}, "notify_rule_name"),
        ({"name": "x" * 101}, "notify_rule_name"),
        ({"kinds": []}, "notify_rule_kinds"),
        ({"kinds": ["alarm.raised", "rm -rf"]}, "notify_rule_kinds"),
        ({"devices_mode": "tag"}, "notify_rule_devices"),
        ({"devices_mode": "nope"}, "notify_field_choice"),
        ({"devices_mode": "list", "devices": ",".join(["d"] * 201)}, "notify_rule_devices_long"),
        ({"min_severity": "apocalyptic"}, "notify_field_choice"),
        ({"quiet_start": "25:00", "quiet_end": "01:00"}, "notify_bad_time"),
        ({"quiet_start": "22:00"}, "notify_quiet_both"),
        ({"zone": "Mars/Olympus"}, "notify_bad_zone"),
        ({"zone": "../../etc/passwd"}, "notify_bad_zone"),
    ]
    for change, reason in bad:
        with pytest.raises(InvalidInput) as err:
            rule_fields(FORM | change)
        assert err.value.reason == reason, change
