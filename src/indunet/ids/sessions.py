"""Handle.Net's challenge-response sessions: a nonce to sign, then an identity to act as.

The flow of Handle.Net 9's REST API (``SessionsServlet``, ``StandardHandleAuthenticator``):

1. ``POST /api/sessions`` opens a session: a ``sessionId`` and a server ``nonce`` (16 random
   bytes, base64). A request that answers with the ``Handle`` scheme and no session gets
   a 401 whose ``WWW-Authenticate: Handle sessionId=…, nonce=…`` opens one too.
2. The client signs ``nonce || cnonce`` (its own nonce) with the private key of an HS_PUBKEY
   value of its identity and sends ``Authorization: Handle sessionId=…, id=index:handle,
   cnonce=…, type=HS_PUBKEY, alg=SHA256, signature=…``, to ``PUT /api/sessions/this`` or with
   any request. The node checks the signature against the HS_PUBKEY at ``index`` of the
   identity's record on this node (index 0: each HS_PUBKEY, lowest index first, as Handle.Net)
   and binds the session to the identity.
3. Later requests send ``Authorization: Handle sessionId=…`` and act as that identity, with
   the HS_ADMIN rules of every other credential (``ids.admin.authorize``).

What Indunet adds (docs/decisions.md): a nonce answers once (it is replaced when a signature
checks, so a captured answer cannot open or rebind another session; the very header that
authenticated a session is still taken on it, as Handle.Net takes it); a session is bound to
one identity and one node; sessions expire (``SessionLimits``) and their number is bounded,
unauthenticated ones going first when the table is full. Sessions live in the process's
memory, as Handle.Net keeps them: a restart ends them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from indunet.ids import pubkeys
from indunet.ids.admin import Principal, parse_identity
from indunet.ids.authheader import (
    MAX_CNONCE,
    MAX_SIGNATURE,
    HandleAuth,
    decode_b64,
    malformed,
)
from indunet.ids.errors import AuthenticationFailed, AuthenticationNeeded, InvalidValue
from indunet.ids.values import HandleValue

PUBKEY_TYPE = "HS_PUBKEY"
NONCE_BYTES = 16
#: One answer to a challenge that does not check, whatever the cause (unknown identity, no key
#: at that index, wrong key): telling them apart would list the identities a node holds.
BAD_ANSWER = "the signature does not match an HS_PUBKEY of that identity"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How many sessions a node keeps and for how long (seconds)."""

    max_sessions: int = 10_000
    pending_s: float = 300.0  # an unanswered challenge
    idle_s: float = 1800.0  # an authenticated session not used
    max_age_s: float = 8 * 3600.0  # any session, from when it was opened


@dataclass(slots=True)
class Session:
    """One session: its nonce, and the identity it is bound to once a signature checked."""

    id: str
    node: str
    nonce: bytes
    opened: float
    used: float
    identity: tuple[int, str] | None = None
    actor: str | None = None
    answered: bytes | None = None  # digest of the header that authenticated it

    def nonce_text(self) -> str:
        """The nonce in base64, as the API gives it."""
        return base64.b64encode(self.nonce).decode()

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` challenge that offers this session."""
        return f'Handle sessionId="{self.id}", nonce="{self.nonce_text()}"'


class SessionExpired(AuthenticationNeeded):
    """The session named is unknown here, expired or closed."""

    def __init__(self) -> None:
        super().__init__(
            "the session is unknown, expired or closed; open one with POST /api/sessions",
            reason="handle_session_unknown",
        )


class Challenge(AuthenticationNeeded):
    """A 401 that offers a fresh session to answer (``WWW-Authenticate: Handle …``)."""

    def __init__(self, session: Session, message: str) -> None:
        super().__init__(message, reason="handle_session_needed")
        self.session = session

    def headers(self) -> dict[str, str]:
        """The challenge naming the new session and its nonce."""
        return {"WWW-Authenticate": self.session.challenge()}


def _key_bytes(v: HandleValue) -> bytes | None:
    if not isinstance(v.value, str):
        return None
    try:
        if v.format == "hex":
            return bytes.fromhex(v.value)
        return base64.b64decode(v.value, validate=True)
    except (binascii.Error, ValueError):
        return None


def check_answer(
    values: Iterable[HandleValue] | None, index: int, alg: str, message: bytes, signature: bytes
) -> int | None:
    """The index of the HS_PUBKEY among ``values`` whose key signed ``message`` (at ``index``,
    or any when ``index`` is 0, lowest first), or ``None``."""
    keys = sorted(
        (v for v in values or () if v.type == PUBKEY_TYPE and index in (0, v.index)),
        key=lambda v: v.index,
    )
    for v in keys:
        data = _key_bytes(v)
        if data is None:
            continue
        try:
            key = pubkeys.decode(data)
        except InvalidValue:
            continue
        if key.verify(alg, message, signature):
            return v.index
    return None


class Sessions:
    """The sessions of the nodes of this process (thread-safe: checked off the event loop)."""

    def __init__(
        self, limits: SessionLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or SessionLimits()
        self._clock = clock
        self._lock = threading.Lock()
        # unanswered sessions in the order they were opened, authenticated ones least
        # recently used first: making room and sweeping take from the front, in O(1) each
        self._pending: OrderedDict[str, Session] = OrderedDict()
        self._live: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending) + len(self._live)

    def _expired(self, s: Session, now: float) -> bool:
        idle = self.limits.idle_s if s.identity else self.limits.pending_s
        return now - s.used > idle or now - s.opened > self.limits.max_age_s

    def _make_room(self, now: float) -> None:
        for table in (self._pending, self._live):
            while table and self._expired(next(iter(table.values())), now):
                table.popitem(last=False)
        while len(self) >= self.limits.max_sessions:
            # unauthenticated sessions go first, then the least recently used
            (self._pending or self._live).popitem(last=False)

    def open(self, node: str) -> Session:
        """A new, unauthenticated session of ``node`` with a fresh nonce."""
        now = self._clock()
        s = Session(secrets.token_urlsafe(24), node, secrets.token_bytes(NONCE_BYTES), now, now)
        with self._lock:
            if len(self) >= self.limits.max_sessions:
                self._make_room(now)
            self._pending[s.id] = s
        return s

    def get(self, session_id: str, node: str) -> Session | None:
        """The live session ``session_id`` of ``node``, its use noted; ``None`` otherwise."""
        now = self._clock()
        with self._lock:
            table = self._live if session_id in self._live else self._pending
            s = table.get(session_id)
            if s is None or s.node != node:
                return None
            if self._expired(s, now):
                del table[session_id]
                return None
            s.used = now
            if table is self._live:
                table.move_to_end(session_id)
            return s

    def close(self, session_id: str, node: str) -> bool:
        """End a session; ``False`` if there was none live."""
        if self.get(session_id, node) is None:
            return False
        with self._lock:
            self._pending.pop(session_id, None)
            self._live.pop(session_id, None)
        return True

    def answer(
        self,
        session: Session,
        auth: HandleAuth,
        header_digest: bytes,
        lookup: Callable[[str], tuple[str, list[HandleValue]] | None],
    ) -> Principal:
        """Check a challenge answer on ``session`` and bind it to the identity (once)."""
        if auth.version not in (None, "0"):
            raise malformed(f"version {auth.version[:20]!r} is unknown; use 0")
        missing = auth.missing()
        if missing:
            raise malformed(f"the answer lacks {', '.join(missing)}")
        assert auth.id and auth.cnonce and auth.type and auth.alg and auth.signature
        if session.answered == header_digest and session.identity is not None:
            return self.principal(session)  # the header that authenticated it, sent again
        if auth.type != PUBKEY_TYPE:
            raise AuthenticationFailed(
                f"type={auth.type[:40]} is not offered; answer with type=HS_PUBKEY, or use "
                "Basic for an HS_SECKEY",
                reason="handle_auth_type",
                params={"type": auth.type[:40]},
            )
        cnonce = decode_b64("cnonce", auth.cnonce, MAX_CNONCE)
        signature = decode_b64("signature", auth.signature, MAX_SIGNATURE)
        index, key = parse_identity(auth.id)
        if session.identity is not None and session.identity[1] != key:
            raise AuthenticationFailed(
                f"this session is bound to {session.actor}; open another for {auth.id[:80]}",
                reason="handle_session_bound",
                params={"actor": session.actor or ""},
            )
        with self._lock:
            nonce = session.nonce
        found = lookup(key)
        checked = check_answer(
            found[1] if found else None, index, auth.alg, nonce + cnonce, signature
        )
        if checked is None or found is None:
            raise AuthenticationFailed(BAD_ANSWER, reason="handle_signature_bad")
        with self._lock:
            held = self._live.get(session.id) or self._pending.get(session.id)
            if session.nonce != nonce or held is not session:
                raise AuthenticationFailed(
                    "that nonce was answered already; sign the session's current nonce "
                    "(GET /api/sessions/this)",
                    reason="handle_nonce_used",
                )
            session.nonce = secrets.token_bytes(NONCE_BYTES)  # spent: it answers once
            session.identity = (checked, key)
            session.actor = f"{checked}:{found[0]}"
            session.answered = header_digest
            self._pending.pop(session.id, None)
            self._live[session.id] = session
        return self.principal(session)

    def principal(self, session: Session) -> Principal:
        """Who an authenticated session acts as."""
        if session.identity is None or session.actor is None:
            raise AuthenticationNeeded(
                "the session is not authenticated yet: answer its nonce "
                "(PUT /api/sessions/this with Authorization: Handle … signature=…)",
                reason="handle_session_unanswered",
            )
        return Principal(actor=session.actor, identity=session.identity)


def digest(header: str) -> bytes:
    """What a session remembers of the header that authenticated it."""
    return hashlib.sha256(header.encode("utf-8", "replace")).digest()


__all__ = [
    "BAD_ANSWER",
    "Challenge",
    "Session",
    "SessionExpired",
    "SessionLimits",
    "Sessions",
    "check_answer",
    "digest",
]
