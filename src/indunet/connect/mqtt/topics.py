"""Indunet's MQTT topic tree (``indunet/v1/<device id>/...``) and topic-filter matching."""

from __future__ import annotations

PREFIX = "indunet/v1/"
"""Every Indunet topic starts here; the next level is the device id."""
TELEMETRY = "telemetry"
COMMANDS = "commands"
RESULT = "commands/result"
STATUS = "status"


def device_topic(device_id: str, kind: str) -> str:
    """``indunet/v1/<device_id>/<kind>``."""
    return f"{PREFIX}{device_id}/{kind}"


def telemetry_topic(device_id: str) -> str:
    """Where a device publishes its telemetry."""
    return device_topic(device_id, TELEMETRY)


def commands_topic(device_id: str) -> str:
    """Where Indunet publishes commands for a device (the device subscribes)."""
    return device_topic(device_id, COMMANDS)


def result_topic(device_id: str) -> str:
    """Where a device answers commands."""
    return device_topic(device_id, RESULT)


def status_topic(device_id: str) -> str:
    """Where a device publishes ``online``/``offline`` (retained; offline as its will)."""
    return device_topic(device_id, STATUS)


def split(topic: str) -> tuple[str, str] | None:
    """``(device_id, rest)`` for ``indunet/v1/<device_id>/<rest>``, else ``None``."""
    if not topic.startswith(PREFIX):
        return None
    device, sep, rest = topic[len(PREFIX) :].partition("/")
    if not device or not sep or not rest:
        return None
    return device, rest


def matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` with MQTT ``+`` and ``#`` wildcards."""
    if topic_filter == topic:
        return True
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    if topic.startswith("$") and f_levels[0] in ("+", "#"):
        return False  # wildcards never match $SYS-style topics at the first level
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)
