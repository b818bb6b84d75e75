"""The Handle System's binary protocol (RFC 3652) and value encoding (RFC 3651).

A message on the wire is a 20-byte envelope, a 24-byte header, a body and a credential
section (``int4`` length, then that many bytes; empty here):

* envelope: major/minor version (1+1 bytes), message flag (2: compressed, encrypted,
  truncated in the high bits of the first byte, the suggested major version in its low two
  bits, the suggested minor version in the second), session id, request id, sequence number
  and message length (4 bytes each, big-endian);
* header: opCode, responseCode, opFlag (4 bytes each), siteInfoSerial (2),
  recursionCount (1), one reserved byte, expirationTime and bodyLength (4 each).

Strings are UTF-8 with an ``int4`` byte count in front. Decoding is strictly bounded: every
length and count is checked against the bytes that remain *before* anything is sliced or
allocated, counts are capped (``Limits``), and every problem raises ``WireError`` with a
stable reason. Nothing else escapes the decoder.
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

# -- constants (RFC 3652 §2.2) ---------------------------------------------------------------
MAJOR_VERSION = 2
MINOR_VERSION = 11  # what Handle.Net 9 speaks; older clients get their own version back
ENVELOPE_SIZE = 20
HEADER_SIZE = 24
UDP_PACKET_SIZE = 512
UDP_DATA_SIZE = UDP_PACKET_SIZE - ENVELOPE_SIZE

ENV_COMPRESSED = 0x80
ENV_ENCRYPTED = 0x40
ENV_TRUNCATED = 0x20

OC_RESOLUTION = 1
OC_GET_SITE_INFO = 2
OC_CREATE_HANDLE = 100
OC_DELETE_HANDLE = 101
OC_ADD_VALUE = 102
OC_REMOVE_VALUE = 103
OC_MODIFY_VALUE = 104
OC_LIST_HANDLES = 105
OC_CHALLENGE_RESPONSE = 200

RC_RESERVED = 0  # requests
RC_SUCCESS = 1
RC_ERROR = 2
RC_SERVER_TOO_BUSY = 3
RC_PROTOCOL_ERROR = 4
RC_OPERATION_NOT_SUPPORTED = 5
RC_RECURSION_COUNT_TOO_HIGH = 6
RC_HANDLE_NOT_FOUND = 100
RC_INVALID_HANDLE = 102
RC_VALUES_NOT_FOUND = 200
RC_SERVER_NOT_RESPONSIBLE = 301
RC_SERVICE_REFERRAL = 302
RC_PREFIX_REFERRAL = 303
RC_AUTHENTICATION_NEEDED = 402

# opFlag bits, most significant first
FLAG_AT = 0x8000_0000  # authoritative
FLAG_CT = 0x4000_0000  # certified
FLAG_ENC = 0x2000_0000  # encrypted
FLAG_REC = 0x1000_0000  # recursive
FLAG_CA = 0x0800_0000  # cache authentication
FLAG_CN = 0x0400_0000  # continuous
FLAG_KC = 0x0200_0000  # keep connection
FLAG_PO = 0x0100_0000  # public only
FLAG_RD = 0x0080_0000  # request digest
FLAG_OW = 0x0040_0000  # overwrite
FLAG_MINT = 0x0020_0000  # mint a suffix
FLAG_DNRF = 0x0010_0000  # do not refer

# request digest algorithms (the byte in front of the digest)
DIGEST_MD5_OLD = 0  # 2.0: an int4-length-prefixed MD5 digest
DIGEST_SHA1 = 2
DIGEST_SHA256 = 3

# HS_SITE service interfaces
ST_ADMIN_AND_QUERY = 3
ST_QUERY = 2
SP_UDP = 0
SP_TCP = 1
SP_HTTP = 2
SP_HTTPS = 3

_ENV = struct.Struct(">BBBBiiiI")
_HEADER = struct.Struct(">iiIHBBiI")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_VALUE_HEAD = struct.Struct(">iIBiB")  # index, timestamp, ttlType, ttl, permissions
_ZERO4 = b"\x00\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps of the decoder; a message beyond any of them is refused."""

    #: Largest message (header + body + credential) over TCP: Handle.Net's own cap.
    tcp_message: int = 262_144
    #: Largest request over UDP: one packet (multi-packet requests are refused).
    udp_message: int = UDP_DATA_SIZE
    handle_bytes: int = 2048
    indexes: int = 256
    types: int = 256
    type_bytes: int = 255
    values: int = 2048
    value_bytes: int = 65_535
    references: int = 64
    credential_bytes: int = 16_384


DEFAULT_LIMITS = Limits()


class WireError(Exception):
    """A message that cannot be decoded; ``reason`` is stable, the text says where."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text}")
        self.reason = reason
        self.text = text


@dataclass(frozen=True, slots=True)
class Envelope:
    """The 20 bytes in front of every message (or UDP packet)."""

    major: int
    minor: int
    flags: int  # high bits of byte 2 (ENV_*)
    suggest_major: int
    suggest_minor: int
    session_id: int
    request_id: int
    sequence: int
    length: int

    def reply_version(self) -> tuple[int, int]:
        """The version to answer in: what the client suggests, at most ours."""
        if self.suggest_major:
            major, minor = self.suggest_major, self.suggest_minor
        else:
            major, minor = self.major, self.minor
        if (major, minor) > (MAJOR_VERSION, MINOR_VERSION):
            return MAJOR_VERSION, MINOR_VERSION
        return major, minor


@dataclass(frozen=True, slots=True)
class Header:
    """The message header."""

    op_code: int
    response_code: int
    op_flags: int
    site_serial: int
    recursion: int
    expiration: int
    body_length: int


@dataclass(frozen=True, slots=True)
class WireValue:
    """A handle value as RFC 3651 §3.1 lays it out."""

    index: int
    type: bytes
    data: bytes
    timestamp: int = 0
    ttl_type: int = 0  # 0 relative, 1 absolute
    ttl: int = 86_400
    permissions: int = 0x0E  # admin read, admin write, public read
    references: tuple[tuple[bytes, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded request: header, the body fields of its opCode, credential."""

    envelope: Envelope
    header: Header
    handle: bytes = b""
    indexes: tuple[int, ...] = ()
    types: tuple[bytes, ...] = ()
    values: tuple[WireValue, ...] = ()
    credential: bytes = b""
    #: header + body, what a request digest is taken of
    signed: bytes = field(default=b"", repr=False)


# -- decoding ----------------------------------------------------------------------------------
class _Reader:
    """Bounded reads from ``buf[pos:end]``; every read checks what remains first."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int, end: int) -> None:
        self.buf, self.pos, self.end = buf, pos, end

    def need(self, n: int, what: str) -> None:
        if n < 0 or n > self.end - self.pos:
            raise WireError("truncated", f"{what} needs {n} bytes, {self.end - self.pos} remain")

    def u8(self, what: str) -> int:
        self.need(1, what)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def i32(self, what: str) -> int:
        self.need(4, what)
        (v,) = _I32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def u32(self, what: str) -> int:
        self.need(4, what)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def blob(self, cap: int, what: str) -> bytes:
        n = self.u32(what)
        if n > cap:
            raise WireError("too_long", f"{what} is {n} bytes; the limit is {cap}")
        self.need(n, what)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def count(self, cap: int, item_min: int, what: str) -> int:
        n = self.u32(what)
        if n > cap:
            raise WireError("too_many", f"{n} {what}; the limit is {cap}")
        self.need(n * item_min, what)  # each item takes at least item_min bytes
        return n


def decode_envelope(buf: bytes, limit: int) -> Envelope:
    """The envelope at the start of ``buf``; its message length must be within ``limit``."""
    if len(buf) < ENVELOPE_SIZE:
        raise WireError("truncated", f"an envelope is {ENVELOPE_SIZE} bytes, got {len(buf)}")
    major, minor, f0, f1, session, request, seq, length = _ENV.unpack_from(buf, 0)
    if major != MAJOR_VERSION:
        raise WireError("bad_version", f"protocol version {major}.{minor} is not 2.x")
    if length < HEADER_SIZE or length > limit:
        raise WireError("bad_length", f"message length {length} is outside {HEADER_SIZE}-{limit}")
    return Envelope(major, minor, f0 & 0xE0, f0 & 0x03, f1, session, request, seq, length)


def decode_header(buf: bytes, pos: int, end: int) -> Header:
    """The header at ``buf[pos:]``; its body must fit before ``end``."""
    if end - pos < HEADER_SIZE:
        raise WireError("truncated", f"a header is {HEADER_SIZE} bytes, {end - pos} remain")
    op, rc, flags, serial, recursion, _reserved, expiration, length = _HEADER.unpack_from(buf, pos)
    h = Header(op, rc, flags, serial, recursion, expiration, length)
    if h.body_length > end - pos - HEADER_SIZE:
        raise WireError("bad_length", f"body length {h.body_length} exceeds the message")
    return h


def _value(r: _Reader, lim: Limits) -> WireValue:
    r.need(_VALUE_HEAD.size, "value")
    index, ts, ttl_type, ttl, perms = _VALUE_HEAD.unpack_from(r.buf, r.pos)
    r.pos += _VALUE_HEAD.size
    vtype = r.blob(lim.type_bytes, "value type")
    data = r.blob(lim.value_bytes, "value data")
    refs = []
    for _ in range(r.count(lim.references, 8, "references")):
        refs.append((r.blob(lim.handle_bytes, "reference handle"), r.i32("reference index")))
    return WireValue(index, vtype, data, ts, ttl_type, ttl, perms, tuple(refs))


def decode_values(r: _Reader, lim: Limits) -> tuple[WireValue, ...]:
    """A value list: ``int4`` count, then the values (each at least 26 bytes)."""
    return tuple(_value(r, lim) for _ in range(r.count(lim.values, 26, "values")))


def decode_request(buf: bytes, *, udp: bool = False, limits: Limits = DEFAULT_LIMITS) -> Request:
    """One whole request message (envelope included) as it came off the socket."""
    if udp and len(buf) > UDP_PACKET_SIZE:
        raise WireError("bad_length", f"a UDP packet is at most {UDP_PACKET_SIZE} bytes")
    env = decode_envelope(buf, limits.udp_message if udp else limits.tcp_message)
    if env.flags & (ENV_COMPRESSED | ENV_ENCRYPTED):
        raise WireError("unsupported", "compressed or encrypted messages are not supported")
    if env.flags & ENV_TRUNCATED or env.sequence != 0:
        raise WireError("unsupported", "multi-packet requests are not supported; use TCP")
    end = ENVELOPE_SIZE + env.length
    if len(buf) != end:
        raise WireError("bad_length", f"message length {env.length} but {len(buf) - 20} bytes")
    header = decode_header(buf, ENVELOPE_SIZE, end)
    if header.response_code != RC_RESERVED:
        raise WireError("not_request", f"response code {header.response_code} in a request")
    body_end = ENVELOPE_SIZE + HEADER_SIZE + header.body_length
    r = _Reader(buf, ENVELOPE_SIZE + HEADER_SIZE, body_end)
    handle = b""
    indexes: tuple[int, ...] = ()
    types: tuple[bytes, ...] = ()
    values: tuple[WireValue, ...] = ()
    op = header.op_code
    if op == OC_RESOLUTION:
        handle = r.blob(limits.handle_bytes, "handle")
        indexes = tuple(r.i32("index") for _ in range(r.count(limits.indexes, 4, "indexes")))
        types = tuple(
            r.blob(limits.type_bytes, "type") for _ in range(r.count(limits.types, 4, "types"))
        )
    elif op in (OC_CREATE_HANDLE, OC_ADD_VALUE, OC_MODIFY_VALUE):
        handle = r.blob(limits.handle_bytes, "handle")
        values = decode_values(r, limits)
    elif op == OC_REMOVE_VALUE:
        handle = r.blob(limits.handle_bytes, "handle")
        indexes = tuple(r.i32("index") for _ in range(r.count(limits.indexes, 4, "indexes")))
    elif op == OC_DELETE_HANDLE:
        handle = r.blob(limits.handle_bytes, "handle")
    else:  # other operations: the body is skipped (they are answered "not supported")
        r.pos = body_end
    if r.pos != body_end:
        raise WireError("bad_length", f"{body_end - r.pos} bytes left over in the body")
    credential = b""
    if body_end < end:  # the credential section (Handle.Net always sends at least its length)
        c = _Reader(buf, body_end, end)
        credential = c.blob(limits.credential_bytes, "credential")
        if c.pos != end:
            raise WireError("bad_length", f"{end - c.pos} bytes after the credential")
    return Request(
        env,
        header,
        handle,
        indexes,
        types,
        values,
        credential,
        buf[ENVELOPE_SIZE:body_end],
    )


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """The body of ``OC_CHALLENGE_RESPONSE`` (RFC 3652 §3.5.2): who answers and how."""

    auth_type: bytes
    key_handle: bytes
    key_index: int
    response: bytes  # for HS_PUBKEY: hash algorithm id and signature, each length first


def decode_challenge_answer(req: Request, limits: Limits = DEFAULT_LIMITS) -> ChallengeAnswer:
    """The challenge answer in ``req``'s body (``decode_request`` keeps it in ``signed``)."""
    r = _Reader(req.signed, HEADER_SIZE, len(req.signed))
    auth_type = r.blob(limits.type_bytes, "authentication type")
    key_handle = r.blob(limits.handle_bytes, "key handle")
    key_index = r.i32("key index")
    response = r.blob(limits.credential_bytes, "challenge response")
    if r.pos != r.end:
        raise WireError("bad_length", f"{r.end - r.pos} bytes left over in the answer")
    return ChallengeAnswer(auth_type, key_handle, key_index, response)


def decode_signature(data: bytes) -> tuple[bytes, bytes]:
    """An HS_PUBKEY challenge response: (hash algorithm id, signature)."""
    r = _Reader(data, 0, len(data))
    alg = r.blob(64, "hash algorithm")
    signature = r.blob(len(data), "signature")
    if r.pos != r.end:
        raise WireError("bad_length", f"{r.end - r.pos} bytes after the signature")
    return alg, signature


# -- encoding ----------------------------------------------------------------------------------
def _blob(b: bytes) -> bytes:
    return _U32.pack(len(b)) + b


def encode_value(v: WireValue) -> bytes:
    """RFC 3651 §3.1 layout of one value."""
    parts = [
        _VALUE_HEAD.pack(v.index, v.timestamp, v.ttl_type, v.ttl, v.permissions),
        _blob(v.type),
        _blob(v.data),
        _U32.pack(len(v.references)),
    ]
    for h, i in v.references:
        parts += (_blob(h), _I32.pack(i))
    return b"".join(parts)


def encode_value_list(values: list[WireValue] | tuple[WireValue, ...]) -> bytes:
    """``int4`` count, then the values."""
    return _U32.pack(len(values)) + b"".join(encode_value(v) for v in values)


def digest_of(req: Request, version: tuple[int, int]) -> bytes:
    """The request digest section of an answer (RD flag): algorithm byte and digest."""
    if version >= (2, 7):
        return bytes((DIGEST_SHA256,)) + hashlib.sha256(req.signed).digest()
    if version >= (2, 1):
        return bytes((DIGEST_SHA1,)) + hashlib.sha1(req.signed).digest()  # noqa: S324 - protocol
    return _blob(hashlib.md5(req.signed).digest())  # noqa: S324 - protocol, 2.0 format


#: opFlags a response carries over from its request.
ECHOED_FLAGS = FLAG_CT | FLAG_REC | FLAG_CA | FLAG_KC | FLAG_PO | FLAG_RD | FLAG_DNRF


def encode_response(
    req: Request,
    response_code: int,
    body: bytes | list[bytes],
    *,
    authoritative: bool = False,
    digest: bool = False,
) -> bytes:
    """A whole response message (envelope included) to ``req``; ``body`` is what follows the
    request digest (which is added when the request asked for it, or ``digest`` is set)."""
    version = req.envelope.reply_version()
    flags = req.header.op_flags & ECHOED_FLAGS
    if digest:
        flags |= FLAG_RD
    if authoritative:
        flags |= FLAG_AT
    parts = body if isinstance(body, list) else [body]
    if flags & FLAG_RD:
        parts = [digest_of(req, version), *parts]
    body_len = sum(len(p) for p in parts)
    length = HEADER_SIZE + body_len + 4
    env = _ENV.pack(
        version[0],
        version[1],
        MAJOR_VERSION,
        MINOR_VERSION,
        req.envelope.session_id,
        req.envelope.request_id,
        0,
        length,
    )
    head = _HEADER.pack(
        req.header.op_code,
        response_code,
        flags,
        req.header.site_serial,
        req.header.recursion,
        0,
        0,
        body_len,
    )
    return b"".join((env, head, *parts, _ZERO4))


def error_body(message: str) -> bytes:
    """The body of an error response: the message as a UTF-8 string."""
    return _blob(message.encode()[:1024])


def encode_error(req: Request, response_code: int, message: str) -> bytes:
    """An error response."""
    return encode_response(req, response_code, error_body(message))


def split_udp(message: bytes) -> list[bytes]:
    """A whole message (envelope first) as UDP packets of at most 512 bytes: each packet its
    own envelope (sequence number 0, 1, …; the whole message length in each), as
    Handle.Net's servers send long answers."""
    if len(message) <= UDP_PACKET_SIZE:
        return [message]
    env, payload = bytearray(message[:ENVELOPE_SIZE]), memoryview(message)[ENVELOPE_SIZE:]
    packets = []
    for seq, start in enumerate(range(0, len(payload), UDP_DATA_SIZE)):
        struct.pack_into(">i", env, 12, seq)
        packets.append(bytes(env) + payload[start : start + UDP_DATA_SIZE])
    return packets


# -- Indunet values as wire values -------------------------------------------------------------
def seconds_of(timestamp: str) -> int:
    """Seconds since 1970 of a REST timestamp (0 if there is none)."""
    if not timestamp:
        return 0
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, min(int(when.timestamp()), 2**32 - 1))


def admin_data(handle: str, index: int, permissions: str) -> bytes:
    """HS_ADMIN data: permission bits (``int2``; the 12-character string is written highest
    bit first, so it reads as a binary number), admin handle, admin index."""
    bits = int(permissions, 2) if len(permissions) == 12 and set(permissions) <= {"0", "1"} else 0
    return _U16.pack(bits) + _blob(handle.encode()) + _I32.pack(index)


def vlist_data(members: list[tuple[str, int]]) -> bytes:
    """HS_VLIST data (RFC 3651 §3.2.5): the number of references, then each one's handle and
    index."""
    return _I32.pack(len(members)) + b"".join(_blob(h.encode()) + _I32.pack(i) for h, i in members)


def _address(host: str) -> bytes:
    """16-byte server address: IPv6 as is, IPv4 in the last four bytes (as Handle.Net writes
    it); a host name gives zeros (the ``domain`` attribute names it)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return bytes(16)
    packed = ip.packed
    return bytes(16 - len(packed)) + packed


def site_data(
    url: str,
    *,
    primary: bool,
    name: str = "",
    serial: int = 1,
    handle_port: int = 0,
    handle_host: str = "",
) -> bytes:
    """HS_SITE data (RFC 3651 §3.2.2) for an Indunet site published as an HTTP(S) URL: one
    server whose interface is that URL's port over HTTP(S), with the URL's host and path as
    the ``domain`` and ``path`` attributes; with ``handle_port`` also UDP and TCP there."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    host = handle_host or parts.hostname or ""
    attrs = [(b"domain", (parts.hostname or "").encode()), (b"path", parts.path.encode())]
    if name:
        attrs.append((b"desc", name.encode()))
    interfaces = [(ST_QUERY, SP_HTTPS if https else SP_HTTP, port)]
    if handle_port:
        interfaces += [(ST_QUERY, SP_UDP, handle_port), (ST_QUERY, SP_TCP, handle_port)]
    out = [
        _U16.pack(1),  # data format version
        bytes((MAJOR_VERSION, MINOR_VERSION)),
        _U16.pack(serial & 0xFFFF),
        bytes((0x80 if primary else 0, 0)),  # primary mask, hash option (by prefix)
        _blob(b""),  # hash filter
        _U32.pack(len(attrs)),
        *(_blob(k) + _blob(v) for k, v in attrs),
        _U32.pack(1),  # one server
        _I32.pack(1),  # server id
        _address(host),
        _blob(b""),  # no public key
        _U32.pack(len(interfaces)),
        *(bytes((t, p)) + _I32.pack(n) for t, p, n in interfaces),
    ]
    return b"".join(out)
