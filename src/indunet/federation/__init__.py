"""The federation of Indunet instances (国家—省—企业三级联动): enrolment, identity through the
identifier system's keys, signed messages through an outbox and an idempotent inbox
(docs/federation/)."""

from .envelope import MAX_BATCH, MAX_BODY_BYTES, Envelope, Refused, parse, seal, verified
from .identity import LEVELS, RANK, Identity, handle_of
from .inbox import BodyRefused, Gap, Handler, Inbox, Receipt
from .indicators import Indicator
from .outbox import OutboxRefused, Sender, backlog, put
from .service import STATUS_KIND, Federation

__all__ = [
    "LEVELS",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "RANK",
    "STATUS_KIND",
    "BodyRefused",
    "Envelope",
    "Federation",
    "Gap",
    "Handler",
    "Identity",
    "Inbox",
    "Indicator",
    "OutboxRefused",
    "Receipt",
    "Refused",
    "Sender",
    "backlog",
    "handle_of",
    "parse",
    "put",
    "seal",
    "verified",
]
