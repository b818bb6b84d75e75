"""Request body size limits, enforced before a body is read.

``BodyLimit`` is pure ASGI middleware. It refuses a request whose ``Content-Length`` is over
its route's limit before anything reads it, and counts the bytes of a body that arrives in
chunks (no ``Content-Length``) as the app reads them, stopping at the first chunk over the
limit. Either way the client gets ``413 payload_too_large`` naming the limit. The limit is the route's row of
``ROUTE_LIMITS`` (first match wins), else ``DEFAULT_LIMIT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indunet.core import IndunetError
from indunet.federation.envelope import MAX_BATCH_BYTES as FEDERATION_BATCH
from indunet.regulation.evidence import MAX_BYTES as REGULATION_EVIDENCE
from indunet.security.cases import MAX_EVIDENCE
from indunet.web.api.children import REGISTRY_BODY, REPORT_BODY
from indunet.web.api.devices import MAX_CSV as API_CSV
from indunet.web.api.handles import MAX_POST_BYTES as HANDLE_POST
from indunet.web.api.handles import MAX_PUT_BYTES as HANDLE_PUT
from indunet.web.api.ingest import MAX_BODY as TELEMETRY_BODY
from indunet.web.api.security_assets import MAX_CSV as SECURITY_ASSETS_CSV
from indunet.web.api.security_events import MAX_BODY as SECURITY_EVENTS_BODY
from indunet.web.api.security_ingest import MAX_LOG_BODY as SECURITY_LOGS_BODY
from indunet.web.api.taxii import MAX_BODY as TAXII_BODY
from indunet.web.console.devices import MAX_CSV_BYTES as CONSOLE_CSV
from indunet.web.console.idsbulk import MAX_UPLOAD_BYTES as CONSOLE_BULK
from indunet.web.console.security_assets import MAX_CSV_BYTES as CONSOLE_ASSETS_CSV

MIB = 1024 * 1024
#: Every route not listed below: logins, JSON API calls, console forms.
DEFAULT_LIMIT = 1 * MIB
#: Room for multipart framing and the other form fields around an uploaded file.
_FORM_ROOM = 256 * 1024
#: An enterprise's application (``core.registration``): every field is short.
APPLICATION_BODY = 16 * 1024
#: A review document (``core.documents``): the file and room for the form around it.
DOCUMENT_BODY = 5 * MIB + _FORM_ROOM
#: A complaint (``ids.complaints``): up to 2,000 characters of text and a few short fields,
#: form-encoded (a Chinese character is 9 bytes percent-encoded).
COMPLAINT_BODY = 32 * 1024


class PayloadTooLarge(IndunetError):
    """The request body is over the limit of its route; nothing was read past the limit."""

    code = "payload_too_large"
    status = 413


@dataclass(frozen=True)
class RouteLimit:
    """Bodies of ``method`` requests to paths matching ``path`` (a regex) may be ``limit`` bytes."""

    method: str
    path: str
    limit: int

    def matches(self, method: str, path: str) -> bool:
        """Whether this row covers the request."""
        return method == self.method and re.fullmatch(self.path, path) is not None


ROUTE_LIMITS: tuple[RouteLimit, ...] = (
    # A delivery of signed messages from a federated peer (the sender caps it the same way).
    RouteLimit("POST", r"/api/v1/federation/messages", FEDERATION_BATCH),
    # Telemetry batches: the ingest route's own cap (it also caps the inflated size).
    RouteLimit("POST", r"/api/v1/telemetry", TELEMETRY_BODY),
    # Security event batches (the sensor's, log shippers'): the route's own cap, also inflated.
    RouteLimit("POST", r"/api/v1/security/events", SECURITY_EVENTS_BODY),
    # A case's evidence file (security.cases): the raw body over the API, a form in the console.
    RouteLimit("POST", r"/api/v1/security/cases/[0-9]+/evidence", MAX_EVIDENCE),
    RouteLimit("POST", r"/security/cases/[0-9]+/evidence", MAX_EVIDENCE + _FORM_ROOM),
    # Regulation evidence (PNG, JPEG or PDF): the raw body over the API; in the enterprise's
    # console forms one file with the questionnaire, a completion or a disposal report.
    RouteLimit("POST", r"/api/v1/regulation/evidence", REGULATION_EVIDENCE),
    RouteLimit(
        "POST",
        r"/regulation/mine/([0-9A-Z]{18}/grading|gradings/[0-9a-f]{1,32}"
        r"|obligations/[0-9a-f]{1,32}/complete|[0-9A-Z]{18}/notices/[0-9a-f]{1,32}/report)",
        REGULATION_EVIDENCE + _FORM_ROOM,
    ),
    # TAXII 2.1 envelopes posted to a collection (the API root's max_content_length).
    RouteLimit("POST", r"/taxii2/api1/collections/[^/]+/objects/", TAXII_BODY),
    # Asset inventory CSV imports (security.assets.csvio): the file's own cap, as text/csv.
    RouteLimit("POST", r"/api/v1/security/assets/import", SECURITY_ASSETS_CSV + _FORM_ROOM),
    RouteLimit("POST", r"/security/assets/import", CONSOLE_ASSETS_CSV + _FORM_ROOM),
    # One CSAF advisory upload (security.vulns: 8 MiB per document).
    RouteLimit("POST", r"/api/v1/security/vulns/advisories", 8 * MIB),
    # Raw security log lines (Zeek, Suricata EVE, syslog) from a shipper.
    RouteLimit("POST", r"/api/v1/security/logs", SECURITY_LOGS_BODY),
    # Bulk identifier registration files (CSV or JSON Lines).
    RouteLimit("POST", r"/api/v1/bulk", 64 * MIB),
    RouteLimit("POST", r"/ids/bulk", CONSOLE_BULK + _FORM_ROOM),
    # Device CSV imports: each route's own file cap, with room for the form around it.
    RouteLimit("POST", r"/api/v1/devices/import", API_CSV + _FORM_ROOM),
    RouteLimit("POST", r"/platform/devices/import", CONSOLE_CSV + _FORM_ROOM),
    # Thing Model imports (JSON over the API, a pasted document in the console).
    RouteLimit("POST", r"/api/v1/models", 4 * MIB),
    RouteLimit("POST", r"/platform/models", 4 * MIB),
    # Enterprise self-registration: a dozen short fields, anonymous (core.registration).
    # The console's form carries the business licence (core.documents); the API sends it apart.
    RouteLimit("POST", r"/register", APPLICATION_BODY + DOCUMENT_BODY),
    RouteLimit("POST", r"/api/v1/registrations", APPLICATION_BODY),
    RouteLimit("PUT", r"/api/v1/registrations/licence", DOCUMENT_BODY),
    RouteLimit("POST", r"/register/licence", DOCUMENT_BODY),
    RouteLimit("PUT", r"/api/v1/enterprises/[0-9]+/licence", DOCUMENT_BODY),
    RouteLimit("POST", r"/ids/enterprises/[0-9]+/licence", DOCUMENT_BODY),
    # Complaints and their status lookups: anonymous, short (ids.complaints).
    RouteLimit("POST", r"/complain(/status)?", COMPLAINT_BODY),
    RouteLimit("POST", r"/api/v1/complaints(/status)?", COMPLAINT_BODY),
    # A secondary's daily report and its registry snapshot (ids.children).
    RouteLimit("PUT", r"/api/v1/children/reports", REPORT_BODY),
    RouteLimit("PUT", r"/api/v1/children/registry", REGISTRY_BODY),
    # A Handle record (up to MAX_VALUES values of MAX_VALUE_BYTES each, plus JSON): the Handle
    # API's own cap, which it also checks while reading.
    RouteLimit("PUT", r"(/nodes/[^/]+)?/api/handles/.+", HANDLE_PUT),
    RouteLimit("POST", r"(/nodes/[^/]+)?/api/handles/.+", HANDLE_POST),
)


def limit_for(method: str, path: str) -> int:
    """The body limit of a request, in bytes."""
    for row in ROUTE_LIMITS:
        if row.matches(method, path):
            return row.limit
    return DEFAULT_LIMIT


def too_large(limit: int) -> PayloadTooLarge:
    """The error for a body over ``limit`` bytes."""
    return PayloadTooLarge(
        f"the request body is over the {limit:,}-byte limit of this route; send less"
    )


class BodyLimit:
    """ASGI middleware: refuse bodies over their route's limit with 413, before reading them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length`` first, then count streamed bytes as the app reads them."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["method"], scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await answer(send, too_large(limit))
                    return
                break
        received = 0
        started = answered = False

        async def counted() -> Message:
            # Over the limit: answer 413 at once, then tell the app the client has gone (it
            # would otherwise wrap any error in its own 400), and drop what it sends after.
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await answer(send, too_large(limit))
                    answered = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, watched)


async def answer(send: Send, exc: IndunetError) -> None:
    """Send ``exc`` as the JSON error response every API error has."""
    body = orjson.dumps(exc.to_dict())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
