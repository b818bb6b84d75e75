"""The notify subsystem's public API is what its ``__init__`` exports; this list pins it."""

from __future__ import annotations

import inspect

from indunet import notify

NOTIFY = [
    "DEVICE_MODES",
    "EVENT_KINDS",
    "KINDS",
    "LANGUAGES",
    "SEVERITIES",
    "STATUSES",
    "Backoff",
    "Channel",
    "ChannelInfo",
    "Delivery",
    "DeliveryFailed",
    "DestinationLimits",
    "DestinationPolicy",
    "DestinationRefused",
    "Dispatcher",
    "Groups",
    "Message",
    "Notice",
    "Notifications",
    "Pacing",
    "RateLimit",
    "Rule",
    "SendContext",
    "notice_of",
    "send_test",
]


def test_public_names_are_pinned_and_documented() -> None:
    assert notify.__all__ == NOTIFY
    for name in notify.__all__:
        obj = getattr(notify, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"notify.{name} has no docstring"
