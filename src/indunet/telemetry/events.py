"""The events telemetry publishes on the bus (``core.Event`` envelopes), declared once."""

from indunet.core import EventType

SOURCE = "telemetry"
ALARM_RAISED = EventType("alarm.raised", 1, SOURCE, "a rule's condition held: alarm active")
ALARM_CLEARED = EventType("alarm.cleared", 1, SOURCE, "a rule's clear condition held")
ALARM_ACKNOWLEDGED = EventType("alarm.acknowledged", 1, SOURCE, "someone acknowledged an alarm")
RULE_CREATED = EventType("rule.created", 1, SOURCE, "a rule was added")
RULE_UPDATED = EventType("rule.updated", 1, SOURCE, "a rule was changed")
RULE_DELETED = EventType("rule.deleted", 1, SOURCE, "a rule was removed")
COMMAND_FAILED = EventType(
    "command.failed", 1, SOURCE, "a command to a device failed or timed out (recorded)"
)
DEVICE_PURGED = EventType(
    "device.purged", 1, SOURCE, "a deleted device's telemetry, rules and alarms are gone"
)

#: Every type above, for the bus's documentation and the envelope tests.
EVENT_TYPES = (
    ALARM_RAISED,
    ALARM_CLEARED,
    ALARM_ACKNOWLEDGED,
    RULE_CREATED,
    RULE_UPDATED,
    RULE_DELETED,
    COMMAND_FAILED,
    DEVICE_PURGED,
)
