"""A Handle protocol client written from RFC 3652 alone, for the tests.

It shares nothing with ``indunet.ids.wire``: its own byte layouts, its own reading of
answers (UDP packets reassembled by sequence number), its own HS_SITE and HS_ADMIN parsing.
If the server and this client disagree about a field, the tests see it.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from dataclasses import dataclass, field

OP_RESOLUTION = 1
OP_GET_SITE_INFO = 2
OP_CREATE_HANDLE = 100
OP_DELETE_HANDLE = 101
OP_ADD_VALUE = 102
OP_REMOVE_VALUE = 103
OP_MODIFY_VALUE = 104
OP_CHALLENGE_RESPONSE = 200
ADMIN_OPS = (OP_CREATE_HANDLE, OP_DELETE_HANDLE, OP_ADD_VALUE, OP_REMOVE_VALUE, OP_MODIFY_VALUE)

AUTHORITATIVE = 1 << 31
RECURSIVE = 1 << 28
KEEP_CONNECTION = 1 << 25
PUBLIC_ONLY = 1 << 24
REQUEST_DIGEST = 1 << 23


def _string(b: bytes) -> bytes:
    return struct.pack("!I", len(b)) + b


def resolution_request(
    handle: str,
    *,
    indexes: tuple[int, ...] = (),
    types: tuple[str, ...] = (),
    flags: int = 0,
    request_id: int = 7,
    version: tuple[int, int] = (2, 10),
    op: int = OP_RESOLUTION,
    credential: bytes | None = b"",
) -> bytes:
    """Envelope, header, body and an (empty) credential section, per RFC 3652 §2."""
    body = _string(handle.encode("utf-8")) if op != OP_GET_SITE_INFO else b""
    if op == OP_RESOLUTION:
        body += struct.pack("!I", len(indexes)) + b"".join(struct.pack("!i", i) for i in indexes)
        body += struct.pack("!I", len(types)) + b"".join(_string(t.encode()) for t in types)
    if op == OP_ADD_VALUE:
        body += struct.pack("!I", 0)
    header = struct.pack("!IIIHBBII", op, 0, flags, 0, 0, 0, 0, len(body))
    cred = b"" if credential is None else _string(credential)
    message = header + body + cred
    # major, minor, flag (2 bytes), session id, request id, sequence number, length
    envelope = struct.pack("!BBHIIII", version[0], version[1], 0, 0, request_id, 0, len(message))
    return envelope + message


@dataclass
class Value:
    index: int
    timestamp: int
    ttl_type: int
    ttl: int
    permissions: int
    type: str
    data: bytes
    references: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Reply:
    version: tuple[int, int]
    request_id: int
    sequence: int
    op: int
    rc: int
    flags: int
    session: int = 0
    nonce: bytes = b""
    handle: str = ""
    values: list[Value] = field(default_factory=list)
    message: str = ""
    digest: bytes = b""
    credential: bytes = b""
    site: bytes = b""


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        assert self.at + n <= len(self.data), "answer ends early"
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u32(self) -> int:
        return int(struct.unpack("!I", self.take(4))[0])

    def i32(self) -> int:
        return int(struct.unpack("!i", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.u32())


def parse_reply(whole: bytes) -> Reply:
    """A complete answer (one envelope followed by the whole message)."""
    major, minor, _flag, session, request_id, seq, length = struct.unpack("!BBHIIII", whole[:20])
    message = whole[20:]
    assert len(message) == length, (len(message), length)
    op, rc, flags, _serial, _rec, _res, _exp, body_len = struct.unpack("!IIIHBBII", message[:24])
    body = _Cursor(message[24 : 24 + body_len])
    cred = _Cursor(message[24 + body_len :])
    reply = Reply((major, minor), request_id, seq, op, rc, flags, session)
    if flags & REQUEST_DIGEST:
        algorithm = body.take(1)[0]
        reply.digest = bytes([algorithm]) + body.take({1: 16, 2: 20, 3: 32}[algorithm])
    if rc == 1 and op == OP_RESOLUTION:
        reply.handle = body.string().decode()
        reply.values = [_value(body) for _ in range(body.u32())]
    elif rc == 1 and op == OP_GET_SITE_INFO:
        reply.site = body.take(body_len - body.at)
    elif rc == 1 and op in ADMIN_OPS:
        pass  # nothing but the digest
    elif rc == 402:
        reply.nonce = body.string()
    elif rc in (302, 303):
        reply.handle = body.string().decode()
        reply.values = [_value(body) for _ in range(body.u32())]
    else:
        reply.message = body.string().decode()
    assert body.at == body_len, "bytes left in the body"
    reply.credential = cred.string()
    assert cred.at == len(cred.data)
    return reply


def _value(c: _Cursor) -> Value:
    index = c.i32()
    timestamp = c.u32()
    ttl_type = c.take(1)[0]
    ttl = c.i32()
    permissions = c.take(1)[0]
    vtype = c.string().decode()
    data = c.string()
    refs = []
    for _ in range(c.u32()):
        refs.append((c.string().decode(), c.i32()))
    return Value(index, timestamp, ttl_type, ttl, permissions, vtype, data, refs)


def parse_site(data: bytes) -> dict[str, object]:
    """HS_SITE data, RFC 3651 §3.2.2."""
    c = _Cursor(data)
    out: dict[str, object] = {"version": struct.unpack("!H", c.take(2))[0]}
    out["protocol"] = tuple(c.take(2))
    out["serial"] = struct.unpack("!H", c.take(2))[0]
    out["primary"] = bool(c.take(1)[0] & 0x80)
    out["hash"] = c.take(1)[0]
    out["filter"] = c.string()
    out["attributes"] = {c.string().decode(): c.string().decode() for _ in range(c.u32())}
    servers = []
    for _ in range(c.u32()):
        sid = c.u32()
        address = c.take(16)
        key = c.string()
        ifaces = [(c.take(1)[0], c.take(1)[0], c.u32()) for _ in range(c.u32())]
        servers.append({"id": sid, "address": address, "key": key, "interfaces": ifaces})
    out["servers"] = servers
    assert c.at == len(data), "bytes left in the site"
    return out


def parse_admin(data: bytes) -> tuple[int, str, int]:
    """HS_ADMIN data: permission bits, admin handle, admin index."""
    c = _Cursor(data)
    bits = struct.unpack("!H", c.take(2))[0]
    return bits, c.string().decode(), c.i32()


def digest_ok(request: bytes, reply: Reply) -> bool:
    """The reply's request digest is that of ``request``'s header and body."""
    header_and_body = request[20 : 20 + 24 + struct.unpack("!I", request[40:44])[0]]
    algorithm, digest = reply.digest[0], reply.digest[1:]
    fn = {1: hashlib.md5, 2: hashlib.sha1, 3: hashlib.sha256}[algorithm]
    return fn(header_and_body).digest() == digest


def ask_udp(host: str, port: int, request: bytes, timeout: float = 2.0) -> Reply:
    """Send over UDP and reassemble the packets of the answer by sequence number."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(request, (host, port))
        packets: list[bytes] = []
        while not complete(packets):
            packet, _ = s.recvfrom(65_535)
            assert len(packet) <= 512, "a UDP packet longer than 512 bytes"
            packets.append(packet)
        return reassemble(packets)


def complete(packets: list[bytes]) -> bool:
    """Whether ``packets`` (of one answer) hold the whole message their envelopes announce."""
    if not packets:
        return False
    total = struct.unpack("!I", packets[0][16:20])[0]
    return sum(len(p) - 20 for p in packets) >= total


def reassemble(packets: list[bytes]) -> Reply:
    """The answer carried by ``packets``, put in order by their sequence numbers."""
    parts = {struct.unpack("!I", p[12:16])[0]: p[20:] for p in packets}
    whole = b"".join(parts[i] for i in sorted(parts))
    envelope = packets[0][:20]
    head = envelope[:12] + struct.pack("!I", 0) + envelope[16:20]
    return parse_reply(head + whole)


def ask_tcp(host: str, port: int, *requests: bytes, timeout: float = 2.0) -> list[Reply]:
    """Send each request over one TCP connection, reading each answer in turn."""
    out = []
    with socket.create_connection((host, port), timeout=timeout) as s:
        for request in requests:
            s.sendall(request)
            envelope = _recv_exactly(s, 20)
            length = struct.unpack("!I", envelope[16:20])[0]
            out.append(parse_reply(envelope + _recv_exactly(s, length)))
    return out


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "connection closed early"
        buf += chunk
    return buf


# -- administration (RFC 3652 §3.5 and Handle.Net's byte layouts) ------------------------------
def encode_value(v: Value) -> bytes:
    """One value, RFC 3651 §3.1."""
    out = struct.pack("!iIBiB", v.index, v.timestamp, v.ttl_type, v.ttl, v.permissions)
    out += _string(v.type.encode()) + _string(v.data) + struct.pack("!I", len(v.references))
    return out + b"".join(_string(h.encode()) + struct.pack("!i", i) for h, i in v.references)


def admin_data(bits: int, handle: str, index: int) -> bytes:
    """HS_ADMIN data: permission bits, admin handle, admin index."""
    return struct.pack("!H", bits) + _string(handle.encode()) + struct.pack("!i", index)


def rsa_pubkey(numbers_e: int, numbers_n: int) -> bytes:
    """HS_PUBKEY bytes of an RSA key as Handle.Net's ``Util.getBytesFromPublicKey`` lays them
    out: key type, two flag bytes, exponent and modulus as Java's signed big-endian bytes."""

    def number(x: int) -> bytes:
        return _string(x.to_bytes(x.bit_length() // 8 + 1, "big"))

    return _string(b"RSA_PUB_KEY") + b"\0\0" + number(numbers_e) + number(numbers_n)


def _message(op: int, body: bytes, flags: int, request_id: int, session: int) -> bytes:
    header = struct.pack("!IIIHBBII", op, 0, flags, 0, 0, 0, 0, len(body))
    message = header + body + _string(b"")
    return struct.pack("!BBHIIII", 2, 11, 0, session, request_id, 0, len(message)) + message


def admin_request(
    op: int,
    handle: str,
    *,
    values: tuple[Value, ...] = (),
    indexes: tuple[int, ...] = (),
    flags: int = 0,
    request_id: int = 11,
) -> bytes:
    """Create/delete handle, add/remove/modify values (RFC 3652 §3.4)."""
    body = _string(handle.encode())
    if op in (OP_CREATE_HANDLE, OP_ADD_VALUE, OP_MODIFY_VALUE):
        body += struct.pack("!I", len(values)) + b"".join(encode_value(v) for v in values)
    elif op == OP_REMOVE_VALUE:
        body += struct.pack("!I", len(indexes)) + b"".join(struct.pack("!i", i) for i in indexes)
    return _message(op, body, flags, request_id, 0)


def challenge_answer(
    challenge: Reply,
    key_handle: str,
    key_index: int,
    response: bytes,
    *,
    auth_type: bytes = b"HS_PUBKEY",
    request_id: int = 12,
) -> bytes:
    """OC_CHALLENGE_RESPONSE in the challenge's session: authType, keyHandle, keyIndex and
    the response, each length first (the index as int4)."""
    body = _string(auth_type) + _string(key_handle.encode()) + struct.pack("!i", key_index)
    body += _string(response)
    return _message(OP_CHALLENGE_RESPONSE, body, 0, request_id, challenge.session)


def signed_response(sign: object, challenge: Reply) -> bytes:
    """What Handle.Net's ``PublicKeyAuthenticationInfo`` answers: the hash algorithm's name and
    the signature over the nonce followed by the bare request digest."""
    digest = challenge.digest[1:]  # the algorithm byte in front dropped
    signature = sign(challenge.nonce + digest)  # type: ignore[operator]
    return _string(b"SHA-256") + _string(signature)


class Connection:
    """One TCP connection, requests and answers in turn."""

    def __init__(self, host: str, port: int, timeout: float = 5.0, source: str = "") -> None:
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None
        )

    def ask(self, request: bytes) -> Reply:
        self.sock.sendall(request)
        envelope = _recv_exactly(self.sock, 20)
        length = struct.unpack("!I", envelope[16:20])[0]
        return parse_reply(envelope + _recv_exactly(self.sock, length))

    def close(self) -> None:
        self.sock.close()
