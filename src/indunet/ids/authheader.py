"""The ``Authorization: Handle …`` header of Handle.Net's REST API, read strictly.

Handle.Net 9 (``HandleAuthorizationHeader``) takes ``Handle`` then comma-separated
``name=value`` parameters, a value being an HTTP token or a quoted string with backslash
escapes; ``id`` is percent-decoded. The parameters that matter here:

- ``sessionId``: the session (``POST /api/sessions``) whose nonce was signed, or that is
  already authenticated;
- ``id`` (``index:handle``), ``cnonce`` (the client's nonce, base64), ``type`` (``HS_PUBKEY``),
  ``alg`` (``SHA256``) and ``signature`` (base64): a challenge answer;
- ``version``: absent or ``0``.

Other names are ignored, as Handle.Net ignores them. A header longer than ``MAX_HEADER`` or
with more than ``MAX_PARAMS`` parameters is refused before it is read further.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote

from indunet.ids.errors import AuthenticationFailed

MAX_HEADER = 8 * 1024
MAX_PARAMS = 24
#: Largest decoded client nonce and signature (a 16,384-bit RSA signature is 2 KiB).
MAX_CNONCE = 1024
MAX_SIGNATURE = 4096
_SCHEME = re.compile(r"\s*handle(?:\s+(.*))?", re.IGNORECASE | re.DOTALL)
_WORD = r"[-A-Za-z0-9!#$%&'*+.`^_|~]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"\s*({_WORD})\s*=\s*({_WORD}|{_QUOTED})\s*(,\s*|$)", re.DOTALL)
_FIELDS = {
    "version": "version",
    "sessionid": "session_id",
    "id": "id",
    "cnonce": "cnonce",
    "type": "type",
    "alg": "alg",
    "signature": "signature",
}


def malformed(why: str) -> AuthenticationFailed:
    """The refusal of a header that cannot be read (401, rc 403, as Handle.Net answers)."""
    return AuthenticationFailed(
        f"the Authorization: Handle header is malformed: {why}",
        reason="handle_auth_malformed",
        params={"why": why},
    )


@dataclass(frozen=True, slots=True)
class HandleAuth:
    """The parameters of one ``Authorization: Handle`` header (``None`` when absent)."""

    session_id: str | None = None
    id: str | None = None
    cnonce: str | None = None
    type: str | None = None
    alg: str | None = None
    signature: str | None = None
    version: str | None = None

    @property
    def answering(self) -> bool:
        """Whether it carries (part of) a challenge answer, not only a session."""
        return any(x is not None for x in (self.id, self.type, self.alg, self.signature))

    def missing(self) -> list[str]:
        """The names of a challenge answer's parameters it lacks."""
        names = ("id", "cnonce", "type", "alg", "signature")
        return [n for n in names if getattr(self, n) is None]

    def merged(self, extra: dict[str, str]) -> HandleAuth:
        """This header completed by parameters given elsewhere (a JSON body), the header's
        winning, as Handle.Net's ``fromHeaderAndParameters`` does."""
        given = {f: getattr(self, f) for f in _FIELDS.values()}
        for name, value in extra.items():
            field = _FIELDS.get(name.lower())
            if field is not None and given[field] is None:
                given[field] = value
        return HandleAuth(**given)


def is_handle_scheme(header: str) -> bool:
    """Whether ``header`` uses the ``Handle`` scheme."""
    parts = header.split(None, 1)
    return bool(parts) and parts[0].lower() == "handle"


def parse(header: str) -> HandleAuth:
    """Read an ``Authorization: Handle …`` header; ``AuthenticationFailed`` naming the fault."""
    if len(header) > MAX_HEADER:
        raise malformed(f"it is longer than {MAX_HEADER} characters")
    m = _SCHEME.fullmatch(header)
    if m is None or not (m.group(1) or "").strip():
        raise malformed("it has no parameters after 'Handle'")
    rest, at = m.group(1), 0
    found: dict[str, str] = {}
    while at < len(rest):
        p = _PARAM.match(rest, at)
        if p is None or p.end() == at:
            raise malformed(f"cannot read a name=value parameter at character {at}")
        if len(found) >= MAX_PARAMS:
            raise malformed(f"it has more than {MAX_PARAMS} parameters")
        name, value = p.group(1).lower(), p.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1], flags=re.DOTALL)
        if name == "id":
            value = unquote(value)
        field = _FIELDS.get(name)
        if field is not None:
            found[field] = value
        at = p.end()
        if not p.group(3) and at < len(rest):
            raise malformed("parameters must be separated by commas")
    return HandleAuth(**found)


def decode_b64(name: str, text: str, limit: int) -> bytes:
    """A base64 parameter's bytes (at most ``limit``), or the refusal naming it."""
    if len(text) > limit * 4 // 3 + 4:
        raise malformed(f"{name} is longer than {limit} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise malformed(f"{name} is not valid base64") from None
    if not raw:
        raise malformed(f"{name} is empty")
    return raw


__all__ = [
    "MAX_CNONCE",
    "MAX_HEADER",
    "MAX_SIGNATURE",
    "HandleAuth",
    "decode_b64",
    "is_handle_scheme",
    "malformed",
    "parse",
]
