"""Notifications: alarms, command failures, devices offline and finished bulk imports, sent by
email, signed webhooks and group bots (企业微信, 钉钉, 飞书) to whoever subscribed."""

from indunet.notify.channels import KINDS, Channel, DeliveryFailed, Message, SendContext
from indunet.notify.destinations import DestinationLimits, DestinationPolicy, DestinationRefused
from indunet.notify.dispatcher import Dispatcher, send_test
from indunet.notify.notices import KINDS as EVENT_KINDS
from indunet.notify.notices import LANGUAGES, SEVERITIES, Notice, notice_of
from indunet.notify.pacing import Backoff, Groups, Pacing, RateLimit
from indunet.notify.rules import DEVICE_MODES, Rule
from indunet.notify.store import STATUSES, ChannelInfo, Delivery, Notifications

__all__ = [
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
