"""Administration over the Handle protocol (RFC 3652 §3.5), over TCP, with HS_PUBKEY
challenge-response.

An admin request (create or delete a handle, add, remove or modify values) is answered
``RC_AUTHENTICATION_NEEDED`` with the request's digest and a fresh nonce; the client answers
(``OC_CHALLENGE_RESPONSE``) with its identity (key handle and index) and a signature over
nonce and digest, laid out as Handle.Net's ``PublicKeyAuthenticationInfo`` writes it. The
signature is checked against the identity's HS_PUBKEY values in the node's store
(``sessions.check_answer``) and the request is then performed as that identity through the
node's own write methods, so HS_ADMIN rights, lapsed prefixes, read-only copies, the change
log and history all apply.

Pending challenges are kept by the session id the challenge names, as Handle.Net's server
does (its client sends the answer on a new TCP connection): at most ``MAX_CHALLENGES`` (the
oldest dropped first; ``MAX_PER_PEER`` per address), each answerable once, only from the address it was sent to, and only
for ``CHALLENGE_SECONDS``. Over UDP (forgeable sources, no
place for the challenge's state) admin requests are refused with a request to use TCP.
HS_SECKEY answers are refused: Indunet keeps secret keys hashed, so it cannot compute the
digest Handle.Net's secret-key answer needs.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from indunet.core.errors import IndunetError
from indunet.ids.admin import Principal
from indunet.ids.errors import RC, HandleError, InvalidValue, ValueExists, ValuesNotFound
from indunet.ids.node import Node
from indunet.ids.sessions import BAD_ANSWER, check_answer
from indunet.ids.store import StoredRecord
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import ADMIN_TYPE, PUBKEY_TYPE, SITE_TYPE, VLIST_TYPE, is_vlist
from indunet.ids.wire import codec

ADMIN_OPS = frozenset(
    {
        codec.OC_CREATE_HANDLE,
        codec.OC_DELETE_HANDLE,
        codec.OC_ADD_VALUE,
        codec.OC_REMOVE_VALUE,
        codec.OC_MODIFY_VALUE,
    }
)
#: Seconds a challenge may wait for its answer, and how many may wait at once.
CHALLENGE_SECONDS = 60.0
MAX_CHALLENGES = 1024
#: Challenges one address may have waiting (its oldest is dropped for a new one), so that
#: one client cannot push everyone else's challenges out.
MAX_PER_PEER = 16
NONCE_BYTES = 16  # Handle.Net's CHALLENGE_NONCE_SIZE
#: Hash algorithm ids of a signature (Handle.Net writes the name, or one hash-code byte).
_SHA256_IDS = {b"SHA-256": "SHA256", b"SHA256": "SHA256", b"\x03": "SHA256"}
UDP_REFUSAL = "administration is offered over TCP only: send this request over TCP"
SECKEY_REFUSAL = (
    "HS_SECKEY answers are not accepted: this server keeps secret keys hashed and cannot "
    "check them; authenticate with an HS_PUBKEY"
)


@dataclasses.dataclass
class Pending:
    """The challenge a connection waits to have answered."""

    request: codec.Request
    peer: str
    session_id: int
    nonce: bytes
    digest: bytes
    deadline: float


def _bad_value(index: int, message: str) -> InvalidValue:
    return InvalidValue(f"value {index}: {message}")


def _raw_value(v: codec.WireValue) -> dict[str, Any]:
    """A wire value as the REST API's JSON value (then checked by ``values.parse_value``)."""
    try:
        vtype = v.type.decode()
    except UnicodeDecodeError:
        raise _bad_value(v.index, "the type is not UTF-8") from None
    data: Any
    if vtype == ADMIN_TYPE:
        if len(v.data) < 10:
            raise _bad_value(v.index, "HS_ADMIN data is shorter than 10 bytes")
        (bits,) = struct.unpack_from(">H", v.data, 0)
        (n,) = struct.unpack_from(">I", v.data, 2)
        if len(v.data) != 10 + n:
            raise _bad_value(v.index, "HS_ADMIN data has the wrong length")
        try:
            handle = v.data[6 : 6 + n].decode()
        except UnicodeDecodeError:
            raise _bad_value(v.index, "the HS_ADMIN handle is not UTF-8") from None
        (index,) = struct.unpack_from(">i", v.data, 6 + n)
        data = {"handle": handle, "index": index, "permissions": format(bits & 0xFFF, "012b")}
    elif vtype == VLIST_TYPE:
        data = {"format": "vlist", "value": _vlist(v)}
    elif vtype == SITE_TYPE or is_vlist(vtype):
        raise _bad_value(v.index, f"{vtype} values cannot be written over the wire here")
    elif vtype == PUBKEY_TYPE:
        data = {"format": "base64", "value": base64.b64encode(v.data).decode()}
    else:
        try:
            data = {"format": "string", "value": v.data.decode()}
        except UnicodeDecodeError:
            data = {"format": "base64", "value": base64.b64encode(v.data).decode()}
    ttl: int | str = v.ttl
    if v.ttl_type == 1:
        ttl = datetime.fromtimestamp(max(0, v.ttl), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif v.ttl_type != 0:
        raise _bad_value(v.index, f"TTL type {v.ttl_type} is neither 0 nor 1")
    refs = []
    for h, i in v.references:
        try:
            refs.append({"handle": h.decode(), "index": i})
        except UnicodeDecodeError:
            raise _bad_value(v.index, "a reference handle is not UTF-8") from None
    return {
        "index": v.index,
        "type": vtype,
        "data": data,
        "ttl": ttl,
        "permissions": format(v.permissions & 0x0F, "04b"),
        "references": refs,
    }


def _vlist(v: codec.WireValue) -> list[dict[str, Any]]:
    out = []
    try:
        (count,) = struct.unpack_from(">i", v.data, 0)
        at = 4
        for _ in range(max(0, min(count, 4096))):
            (n,) = struct.unpack_from(">I", v.data, at)
            handle = v.data[at + 4 : at + 4 + n].decode()
            (index,) = struct.unpack_from(">i", v.data, at + 4 + n)
            at += 8 + n
            out.append({"handle": handle, "index": index})
    except (struct.error, UnicodeDecodeError):
        raise _bad_value(v.index, "HS_VLIST data is malformed") from None
    if at != len(v.data) or len(out) != count:
        raise _bad_value(v.index, "HS_VLIST data has the wrong length")
    return out


def _indexes_guard(
    indexes: set[int], *, present: bool
) -> Callable[[Any, StoredRecord | None], None]:
    """A write guard: the record's values at ``indexes`` must all be present (modify) or all
    absent (add), checked inside the write's transaction."""

    def guard(_conn: Any, existing: StoredRecord | None) -> None:
        have = {v.index for v in existing.values} if existing is not None else set()
        if present and indexes - have:
            raise ValuesNotFound(f"no value at index {sorted(indexes - have)[0]} to modify")
        if not present and indexes & have:
            raise ValueExists(f"a value at index {sorted(indexes & have)[0]} exists already")

    return guard


class WireAdmin:
    """Challenges and performs admin requests for one node."""

    def __init__(self, node: Node, clock: Callable[[], float] = time.monotonic) -> None:
        self.node = node
        self.clock = clock
        self._pending: OrderedDict[int, Pending] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def challenge(self, req: codec.Request, peer: str) -> bytes:
        """The challenge to admin request ``req`` from ``peer`` (kept until answered)."""
        version = req.envelope.reply_version()
        if version < (2, 1):
            return codec.encode_error(
                req, codec.RC_PROTOCOL_ERROR, "administration needs protocol 2.1 or later"
            )
        session_id = secrets.randbelow(2**31 - 1) + 1
        nonce = secrets.token_bytes(NONCE_BYTES)
        digest = codec.digest_of(req, version)[1:]
        now = self.clock()
        pending = Pending(req, peer, session_id, nonce, digest, now + CHALLENGE_SECONDS)
        with self._lock:
            while self._pending and (
                len(self._pending) >= MAX_CHALLENGES
                or next(iter(self._pending.values())).deadline < now
            ):
                self._pending.popitem(last=False)
            mine = [sid for sid, p in self._pending.items() if p.peer == peer]
            if len(mine) >= MAX_PER_PEER:
                del self._pending[mine[0]]
            self._pending[session_id] = pending
        env = dataclasses.replace(req.envelope, session_id=session_id)
        out = codec.encode_response(
            dataclasses.replace(req, envelope=env),
            int(RC.AUTHENTICATION_NEEDED),
            len(nonce).to_bytes(4, "big") + nonce,
            digest=True,
        )
        return out

    def _take(self, session_id: int, peer: str) -> Pending | None:
        with self._lock:
            pending = self._pending.get(session_id)
            if pending is None or pending.peer != peer:
                return None
            del self._pending[session_id]  # answered once, right or wrong
            return pending

    async def answer(self, req: codec.Request, peer: str) -> bytes:
        """The answer to ``req``, an answer to a challenge sent to ``peer``."""
        try:
            ans = codec.decode_challenge_answer(req)
        except codec.WireError as exc:
            return codec.encode_error(
                req, codec.RC_PROTOCOL_ERROR, f"malformed challenge answer: {exc.reason}"
            )
        pending = self._take(req.envelope.session_id, peer)
        if pending is None:
            return codec.encode_error(
                req,
                int(RC.AUTHENTICATION_TIMEOUT),
                "no challenge of this session id is pending for this address "
                "(each is answered once): send the request again",
            )
        # the answer to the original request, sent with the answer's request id
        orig = dataclasses.replace(pending.request, envelope=req.envelope)
        if self.clock() > pending.deadline:
            return codec.encode_error(
                orig, int(RC.AUTHENTICATION_TIMEOUT), "the challenge lapsed; send the request again"
            )
        if ans.auth_type == b"HS_SECKEY":
            return codec.encode_error(orig, int(RC.AUTHENTICATION_FAILED), SECKEY_REFUSAL)
        if ans.auth_type != PUBKEY_TYPE.encode():
            return codec.encode_error(
                orig,
                int(RC.AUTHENTICATION_FAILED),
                f"authentication type {ans.auth_type[:40]!r} is unknown; use HS_PUBKEY",
            )
        try:
            alg_id, signature = codec.decode_signature(ans.response)
            identity = ans.key_handle.decode()
        except (codec.WireError, UnicodeDecodeError):
            return codec.encode_error(
                orig, codec.RC_PROTOCOL_ERROR, "malformed HS_PUBKEY challenge response"
            )
        alg = _SHA256_IDS.get(alg_id)
        if alg is None:
            return codec.encode_error(
                orig,
                int(RC.AUTHENTICATION_FAILED),
                f"hash algorithm {alg_id[:20]!r} is not accepted; sign with SHA-256",
            )
        try:
            return await asyncio.to_thread(
                self._verified, orig, identity, ans.key_index, alg, pending, signature
            )
        except HandleError as exc:
            return codec.encode_error(orig, int(exc.rc), exc.message)
        except IndunetError as exc:  # not a Handle error (none expected): no traceback sent
            return codec.encode_error(orig, codec.RC_ERROR, str(exc)[:300])

    def _verified(
        self,
        req: codec.Request,
        identity: str,
        index: int,
        alg: str,
        pending: Pending,
        signature: bytes,
    ) -> bytes:
        try:
            key = hdl.parse(identity).key
        except HandleError:
            return codec.encode_error(req, int(RC.AUTHENTICATION_FAILED), BAD_ANSWER)
        rec = self.node.store.get(key)
        found = check_answer(
            rec.values if rec is not None else None,
            index,
            alg,
            pending.nonce + pending.digest,
            signature,
        )
        if rec is None or found is None:
            return codec.encode_error(req, int(RC.AUTHENTICATION_FAILED), BAD_ANSWER)
        principal = Principal(actor=f"{found}:{rec.handle}", identity=(found, key))
        return self.perform(req, principal)

    def perform(self, req: codec.Request, principal: Principal) -> bytes:
        """Do admin request ``req`` as ``principal``; the whole answer message."""
        try:
            handle = req.handle.decode()
        except UnicodeDecodeError:
            return codec.encode_error(req, codec.RC_INVALID_HANDLE, "the handle is not UTF-8")
        op, node = req.header.op_code, self.node
        if op == codec.OC_REMOVE_VALUE and not req.indexes:
            raise InvalidValue("the request names no index to remove")
        if op == codec.OC_DELETE_HANDLE:
            node.delete(handle, principal)
        elif op == codec.OC_REMOVE_VALUE:
            node.delete(handle, principal, indices=list(req.indexes))
        else:
            raw = [_raw_value(v) for v in req.values]
            idx = {v.index for v in req.values}
            if not raw and op != codec.OC_CREATE_HANDLE:
                raise InvalidValue("the request carries no values")
            if op == codec.OC_CREATE_HANDLE:
                overwrite = bool(req.header.op_flags & codec.FLAG_OW)
                node.put(handle, raw, principal, overwrite=overwrite)
            else:
                guard = _indexes_guard(idx, present=op == codec.OC_MODIFY_VALUE)
                node.put(handle, raw, principal, indices=sorted(idx), guard=guard)
        return codec.encode_response(req, codec.RC_SUCCESS, b"")
