"""The Handle protocol's UDP and TCP endpoints (RFC 3652) in front of a node.

Resolution (``OC_RESOLUTION``) is answered from the node: its own records authoritatively,
referrals as ``RC_SERVICE_REFERRAL`` with HS_SITE values, and, when the request sets the
recursion flag (a recursive node always recurses), through the node's resolver. Answers the
resolver holds are sent from the wire cache without leaving the datagram callback.
``OC_GET_SITE_INFO`` answers this endpoint's own HS_SITE. Administration is offered over
TCP with HS_PUBKEY challenge-response (``ids/wire/admin.py``); over UDP it is refused.

Bounds: UDP requests are one packet (at most 512 bytes), TCP requests at most
``Limits.tcp_message``; an answer over UDP longer than ``UDP_ANSWER_MAX`` is replaced by an
error asking for TCP (a small query must not turn into a large flood towards a spoofed
address); TCP answers are capped at ``TCP_ANSWER_MAX``, connections at ``MAX_CONNECTIONS``,
and queries waiting on the node or the resolver at ``MAX_PENDING`` (then
``RC_SERVER_TOO_BUSY``).

Every resolution answered is noted for the security platform (``WireService.resolutions``,
``ids.events.RESOLUTIONS``): the peer's address, the handle's bytes and the response code,
one tuple appended to a list.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import struct
from time import perf_counter
from typing import Any

from indunet.core.signals import Signal
from indunet.ids.answers import Answer
from indunet.ids.errors import RC, HandleError
from indunet.ids.events import MAX_HANDLE
from indunet.ids.node import Node, NodeRole
from indunet.ids.syntax.handle import upper_ascii
from indunet.ids.wire import codec
from indunet.ids.wire.admin import ADMIN_OPS, UDP_REFUSAL, WireAdmin
from indunet.ids.wire.answers import WireCache, referral_values, select, wire_values
from indunet.ids.wire.ratelimit import ResponseRateLimit, Verdict

log = logging.getLogger(__name__)

UDP_ANSWER_MAX = 8 * codec.UDP_PACKET_SIZE  # 4,096 bytes: records larger than this go by TCP
TCP_ANSWER_MAX = 8 * 1024 * 1024
MAX_CONNECTIONS = 256
MAX_PENDING = 1024
#: Requests remembered for ``WireService.repeat`` (forgotten all at once when full).
REPEATS_MAX = 10_000
#: Free UDP ports tried when the same number is taken for TCP (``port`` 0).
_FREE_PORT_TRIES = 20
#: Seconds a TCP connection may sit between requests, and to send the rest of a request.
IDLE_TIMEOUT = 30.0
READ_TIMEOUT = 10.0

_HEAD = struct.Struct(">BBBBiiiIiiIHBBiI")  # envelope and header, unchecked
KEPT = MAX_HANDLE * 4
"""Bytes of a handle a resolution record holds until it is published (the record keeps
``MAX_HANDLE`` characters; a 64 KiB handle is not held a second for that)."""
_RC = struct.Struct(">i")  # a message's response code, after its envelope and op code
_BODY = codec.ENVELOPE_SIZE + codec.HEADER_SIZE  # where a request's handle (length first) is
#: The short error sent instead of an answer over the rate limit (``ratelimit.Verdict.SLIP``).
SLIP_MESSAGE = "rate limited: too many answers about this handle to your network; ask over TCP"


def _blob(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def response_code(message: bytes) -> int:
    """The response code of an encoded answer (its header's second field)."""
    return int(_RC.unpack_from(message, codec.ENVELOPE_SIZE + 4)[0])


class WireService:
    """Turns requests into answers for ``node`` (no sockets here; see ``WireServer``)."""

    def __init__(
        self,
        node: Node,
        *,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        site_url: str = "",
        handle_port: int = 0,
        rate_limit: ResponseRateLimit | None = None,
        resolutions: Signal | None = None,
    ) -> None:
        self.node = node
        self.rate_limit = rate_limit if rate_limit is not None else ResponseRateLimit()
        #: every resolution answered, as ``ids.events.RESOLUTIONS`` records (None: not kept)
        self.resolutions = resolutions
        self.limits = limits
        self.cache = WireCache()
        self.admin = WireAdmin(node)
        self.site_url = site_url
        self.handle_port = handle_port
        self.pending = 0
        self.refused = 0  # malformed requests
        self.repeated = 0  # answered by ``repeat``
        #: request bytes without the session and request ids -> (the resolver's answer, its
        #: key, the first four and the last bytes of the answer around those ids)
        self._repeats: dict[bytes, tuple[Answer, str, bytes, bytes]] = {}

    def recurses(self, req: codec.Request) -> bool:
        """Whether this request is resolved through the node's resolver."""
        if self.node.resolver is None:
            return False
        return self.node.role is NodeRole.RECURSIVE or bool(req.header.op_flags & codec.FLAG_REC)

    def repeat(self, data: bytes) -> bytes | None:
        """The answer to a request whose bytes, ids aside, were decoded and answered from the
        resolver's cache before, while that cached answer lives (the hottest path: no
        decoding, the answer's bytes reused with this request's session and request ids)."""
        t0 = perf_counter()
        hit = self._repeats.get(data[:4] + data[12:])
        if hit is None:
            return None
        answer, key, head, tail = hit
        resolver = self.node.resolver
        live = resolver.answers.get(key) if resolver is not None else None
        if live is None or live[0] is not answer:
            return None
        out = head + data[4:12] + tail
        self.repeated += 1
        self.node.stats.resolved(perf_counter() - t0)
        return out

    def cached(self, req: codec.Request, data: bytes = b"") -> bytes | None:
        """The answer from the resolver's cache, encoded, or ``None`` (the hot path). With
        ``data`` (the request's bytes) the answer is kept for ``repeat``."""
        resolver = self.node.resolver
        if (
            resolver is None
            or req.header.op_code != codec.OC_RESOLUTION
            or req.header.op_flags & codec.FLAG_AT
            or not self.recurses(req)
        ):
            return None
        t0 = perf_counter()
        try:
            key = upper_ascii(req.handle.decode())
        except UnicodeDecodeError:
            return None
        hit = resolver.answers.get(key)
        if hit is None or hit[0].rc != RC.SUCCESS:
            return None
        ckey = (key, req.indexes, req.types)
        body = self.cache.get(ckey, hit[0])
        if body is None:
            body = self._values(hit[0].values or (), req)
            if body is None:
                return None
            self.cache.put(ckey, hit[0], body)
        out = codec.encode_response(req, codec.RC_SUCCESS, [_blob(req.handle), body])
        if data:
            if len(self._repeats) >= REPEATS_MAX:
                self._repeats.clear()
            self._repeats[data[:4] + data[12:]] = (hit[0], key, out[:4], out[12:])
        self.node.stats.resolved(perf_counter() - t0)
        return out

    @staticmethod
    def _values(values: Any, req: codec.Request) -> bytes | None:
        try:
            types = tuple(t.decode() for t in req.types)
        except UnicodeDecodeError:
            types = ()
        chosen = wire_values(select(values, req.indexes, types))
        if not chosen:
            return None
        return codec.encode_value_list(chosen)

    async def answer(self, req: codec.Request) -> bytes:
        """The whole response message to ``req``."""
        op = req.header.op_code
        if op == codec.OC_RESOLUTION:
            return await self._resolve(req)
        if op == codec.OC_GET_SITE_INFO and self.site_url:
            data = codec.site_data(self.site_url, primary=True, handle_port=self.handle_port)
            return codec.encode_response(req, codec.RC_SUCCESS, data, authoritative=True)
        if op in ADMIN_OPS or op == codec.OC_CHALLENGE_RESPONSE:
            return codec.encode_error(req, codec.RC_ERROR, UDP_REFUSAL)  # TCP: _converse
        return codec.encode_error(
            req,
            codec.RC_OPERATION_NOT_SUPPORTED,
            f"operation {op} is not offered over the Handle protocol here; use the REST API",
        )

    async def _resolve(self, req: codec.Request) -> bytes:
        try:
            text = req.handle.decode()
        except UnicodeDecodeError:
            return codec.encode_error(req, codec.RC_INVALID_HANDLE, "the handle is not UTF-8")
        recurse = self.recurses(req)
        fresh = bool(req.header.op_flags & codec.FLAG_AT)
        try:
            answer = await self.node.resolve(text, recurse=recurse, fresh=fresh)
        except HandleError as exc:
            return codec.encode_error(req, int(exc.rc), exc.message)
        if answer.rc == RC.SUCCESS:
            body = self._values(answer.values or (), req)
            if body is None:
                return codec.encode_error(
                    req, codec.RC_VALUES_NOT_FOUND, "no value matches the asked types/indexes"
                )
            return codec.encode_response(
                req, codec.RC_SUCCESS, [_blob(req.handle), body], authoritative=not answer.path
            )
        if answer.rc in (RC.SERVICE_REFERRAL, RC.PREFIX_REFERRAL) and answer.referral:
            if req.header.op_flags & codec.FLAG_DNRF:
                return codec.encode_error(
                    req,
                    codec.RC_SERVER_NOT_RESPONSIBLE,
                    f"prefix {answer.referral.prefix} is "
                    "served elsewhere (and the request asked for no referral)",
                )
            sites = codec.encode_value_list(referral_values(answer.referral))
            return codec.encode_response(
                req, codec.RC_SERVICE_REFERRAL, [_blob(b""), sites], authoritative=True
            )
        return codec.encode_error(req, int(answer.rc), answer.message or RC(answer.rc).name)


def error_reply(data: bytes, reason: str) -> bytes | None:
    """A protocol error answering a request that could not be decoded, addressed with
    whatever envelope and header it has; ``None`` when not even those can be read."""
    if len(data) < codec.ENVELOPE_SIZE + codec.HEADER_SIZE or data[0] != codec.MAJOR_VERSION:
        return None
    f = _HEAD.unpack_from(data, 0)
    env = codec.Envelope(f[0], f[1], 0, f[2] & 0x03, f[3], f[4], f[5], 0, 0)
    flags = f[10] & codec.ECHOED_FLAGS & ~codec.FLAG_RD  # nothing sound to take a digest of
    header = codec.Header(f[8], codec.RC_RESERVED, flags, f[11], f[12], 0, 0)
    req = codec.Request(env, header)
    return codec.encode_error(req, codec.RC_PROTOCOL_ERROR, f"malformed request: {reason}")


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, service: WireService) -> None:
        self.service = service
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        service = self.service
        out = service.repeat(data) if len(data) <= codec.UDP_PACKET_SIZE else None
        if out is not None:
            if len(out) <= codec.UDP_PACKET_SIZE and self.transport is not None:
                size = int.from_bytes(data[_BODY : _BODY + 4])  # decoded before: well formed
                handle = data[_BODY + 4 : _BODY + 4 + size]
                if service.resolutions is not None:
                    service.resolutions.add((addr[0], handle[:KEPT], 1, "udp"))
                verdict = service.rate_limit.verdict(addr[0], handle)
                if verdict is Verdict.SEND:
                    self.transport.sendto(out, addr)
                elif verdict is Verdict.SLIP:
                    req = codec.decode_request(data, udp=True, limits=service.limits)
                    slip = codec.encode_error(req, codec.RC_SERVER_TOO_BUSY, SLIP_MESSAGE)
                    self.transport.sendto(slip, addr)
                return
            out = None
        try:
            req = codec.decode_request(data, udp=True, limits=service.limits)
        except codec.WireError as exc:
            service.refused += 1
            reply = error_reply(data[: codec.ENVELOPE_SIZE + codec.HEADER_SIZE], exc.reason)
            allowed = service.rate_limit.verdict(addr[0], b"") is not Verdict.DROP
            if reply is not None and self.transport is not None and allowed:
                self.transport.sendto(reply, addr)
            return
        out = service.cached(req, data)
        if out is not None:
            if service.resolutions is not None:
                service.resolutions.add((addr[0], req.handle[:KEPT], 1, "udp"))
            self._send(out, req, addr)
            return
        if service.pending >= MAX_PENDING:
            self._noted(codec.encode_error(req, codec.RC_SERVER_TOO_BUSY, "busy"), req, addr)
            return
        task = asyncio.get_running_loop().create_task(self._slow(req, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _slow(self, req: codec.Request, addr: tuple[str | Any, int]) -> None:
        self.service.pending += 1
        try:
            out = await self.service.answer(req)
        except Exception:
            log.exception("answering a Handle protocol request over UDP failed")
            out = codec.encode_error(req, codec.RC_ERROR, "internal error")
        finally:
            self.service.pending -= 1
        self._noted(out, req, addr)

    def _noted(self, message: bytes, req: codec.Request, addr: tuple[str | Any, int]) -> None:
        """Send an answer that was not a cache hit, noting it when it answers a resolution."""
        resolutions = self.service.resolutions
        if resolutions is not None and req.header.op_code == codec.OC_RESOLUTION:
            resolutions.add((addr[0], req.handle[:KEPT], response_code(message), "udp"))
        self._send(message, req, addr)

    def _send(self, message: bytes, req: codec.Request, addr: tuple[str | Any, int]) -> None:
        if self.transport is None:
            return
        verdict = self.service.rate_limit.verdict(addr[0], req.handle)
        if verdict is Verdict.DROP:
            return
        if verdict is Verdict.SLIP:
            message = codec.encode_error(req, codec.RC_SERVER_TOO_BUSY, SLIP_MESSAGE)
        if len(message) > UDP_ANSWER_MAX:
            message = codec.encode_error(
                req,
                codec.RC_ERROR,
                f"the answer is larger than {UDP_ANSWER_MAX} bytes; ask over TCP",
            )
        if len(message) <= codec.UDP_PACKET_SIZE:
            self.transport.sendto(message, addr)
            return
        for packet in codec.split_udp(message):
            self.transport.sendto(packet, addr)


class WireServer:
    """UDP and TCP endpoints on one port, answering with a ``WireService``."""

    def __init__(self, service: WireService, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_protocol: _Udp | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Bind UDP and TCP (port 0 takes a free port, the same for both: a UDP port whose
        number is taken for TCP is given back and another tried, a few times)."""
        loop = asyncio.get_running_loop()
        wanted = self.port
        for attempt in range(1 if wanted else _FREE_PORT_TRIES):
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self.service), local_addr=(self.host, wanted)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError as exc:
                transport.close()
                if wanted or exc.errno != errno.EADDRINUSE or attempt == _FREE_PORT_TRIES - 1:
                    raise
                continue
            self._udp, self._udp_protocol, self.port = transport, protocol, port
            return

    async def stop(self) -> None:
        """Close both endpoints and the open connections."""
        if self._udp is not None:
            self._udp.close()
        if self._udp_protocol is not None:
            for t in list(self._udp_protocol.tasks):
                t.cancel()
        if self._tcp is not None:
            self._tcp.close()
            for t in list(self._connections):
                t.cancel()
            await self._tcp.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._connections) >= MAX_CONNECTIONS or task is None:
            writer.close()
            return
        self._connections.add(task)
        try:
            await self._converse(reader, writer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _answer_tcp(self, req: codec.Request, data: bytes, peer: str) -> bytes:
        service, op = self.service, req.header.op_code
        if op in ADMIN_OPS:  # challenged; the answer may come on this or a new connection
            return service.admin.challenge(req, peer)
        if op == codec.OC_CHALLENGE_RESPONSE:
            return await service.admin.answer(req, peer)
        return service.repeat(data) or service.cached(req, data) or await service.answer(req)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        service, limits = self.service, self.service.limits
        peer = str((writer.get_extra_info("peername") or ("",))[0])
        while True:
            async with asyncio.timeout(IDLE_TIMEOUT):
                head = await reader.readexactly(codec.ENVELOPE_SIZE)
            try:
                env = codec.decode_envelope(head, limits.tcp_message)
            except codec.WireError:
                return  # no length to trust: the stream cannot be resynchronised
            async with asyncio.timeout(READ_TIMEOUT):
                rest = await reader.readexactly(env.length)
            data = head + rest
            try:
                req = codec.decode_request(data, limits=limits)
            except codec.WireError as exc:
                service.refused += 1
                reply = error_reply(data[: codec.ENVELOPE_SIZE + codec.HEADER_SIZE], exc.reason)
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
                return
            challenged = req.header.op_code in ADMIN_OPS
            try:
                out = await self._answer_tcp(req, data, peer)
            except Exception:  # as over UDP (``_Udp._slow``): logged, answered, no traceback
                log.exception("answering a Handle protocol request over TCP failed")
                out = codec.encode_error(req, codec.RC_ERROR, "internal error")
            if len(out) > TCP_ANSWER_MAX:
                out = codec.encode_error(
                    req, codec.RC_ERROR, f"the answer is larger than {TCP_ANSWER_MAX} bytes"
                )
            if service.resolutions is not None and req.header.op_code == codec.OC_RESOLUTION:
                service.resolutions.add(
                    (peer or None, req.handle[:KEPT], response_code(out), "tcp")
                )
            writer.write(out)
            await writer.drain()
            if not req.header.op_flags & codec.FLAG_KC and not challenged:
                return
