"""What every protocol decoder shares: the flow's two ends, the error a decoder raises on a
PDU it cannot read, and the shape of a protocol (its ports, its framing, its session)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .records import Transaction

U16BE = struct.Struct(">H")
U16LE = struct.Struct("<H")
U32LE = struct.Struct("<I")
U32BE = struct.Struct(">I")

#: Bytes that are read before a value is cut short in ``details`` (names, URIs, tag names).
MAX_TEXT = 256
#: Values kept per transaction (registers, coils, OPC UA values).
MAX_VALUES = 128


#: Named counters a session adds to (``opcua.encrypted_messages``…), shared with the stats.
Counts = dict[str, int]


class Malformed(Exception):
    """A PDU that does not follow its protocol; ``str()`` is the reason, counted by the decoder."""


@dataclass(slots=True)
class Endpoints:
    """The two ends of a flow as the sensor saw them: the client asks, the server answers."""

    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    client_mac: str | None = None
    server_mac: str | None = None

    def tx(
        self,
        ts: float,
        protocol: str,
        function: int,
        name: str,
        write: bool = False,
        unit: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> Transaction:
        """A transaction from the client to the server (built in one call with every field
        in ``Transaction``'s order: a decoder makes one per PDU)."""
        return Transaction(
            ts, protocol, self.client_ip, self.client_port, self.server_ip, self.server_port,
            function, name, write, self.client_mac, self.server_mac, unit, None, None, None,
            "ok", None, {} if details is None else details,
        )  # fmt: skip

    def tx_from_server(
        self, ts: float, protocol: str, function: int, name: str, unit: int | None = None
    ) -> Transaction:
        """A transaction the server started (a DNP3 unsolicited response)."""
        return Transaction(
            ts, protocol, self.server_ip, self.server_port, self.client_ip, self.client_port,
            function, name, False, self.server_mac, self.client_mac, unit, details={},
        )  # fmt: skip


class Session(Protocol):
    """One flow's protocol state (requests waiting for their answer)."""

    def pdu(self, ts: float, to_server: bool, data: bytes) -> list[Transaction]:
        """One whole PDU (TCP) or datagram (UDP); raises ``Malformed``."""

    def flush(self) -> list[Transaction]:
        """Requests still unanswered when the flow ends."""


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """How the sensor finds and frames one protocol.

    ``pdu_length(buf, off)`` gives the whole PDU's length from its header at ``off``: ``0``
    when more bytes are needed to tell, ``-1`` when the header is not this protocol's.
    ``resync(buf, off)`` finds the next offset that looks like a PDU header (``-1``: none yet).
    """

    name: str
    tcp_ports: tuple[int, ...]
    udp_ports: tuple[int, ...]
    pdu_length: Callable[[bytes | bytearray, int], int]
    resync: Callable[[bytes | bytearray, int], int]
    session: Callable[[Endpoints, Counts], Session]
    max_pdu: int = 65_536


class Pending:
    """Requests waiting for their response, by key, oldest first, at most ``limit``: past the
    limit the oldest is given up as unanswered."""

    __slots__ = ("items", "limit")

    def __init__(self, limit: int = 256) -> None:
        self.items: dict[Any, Transaction] = {}
        self.limit = limit

    def put(self, key: Any, tx: Transaction) -> list[Transaction]:
        items = self.items
        if key not in items and len(items) < self.limit:  # the usual: nothing given up
            items[key] = tx
            return []
        out: list[Transaction] = []
        old = self.items.pop(key, None)
        if old is not None:
            old.status = "unanswered"
            out.append(old)
        if len(self.items) >= self.limit:
            first = next(iter(self.items))
            gone = self.items.pop(first)
            gone.status = "unanswered"
            out.append(gone)
        self.items[key] = tx
        return out

    def take(self, key: Any) -> Transaction | None:
        return self.items.pop(key, None)

    def flush(self) -> list[Transaction]:
        out = list(self.items.values())
        for tx in out:
            tx.status = "unanswered"
        self.items.clear()
        return out


def text(raw: bytes | bytearray | memoryview) -> str:
    """Bytes from the wire as printable text, cut at ``MAX_TEXT``."""
    return bytes(raw[:MAX_TEXT]).decode("utf-8", "replace").rstrip("\x00").strip()


def need(data: bytes | bytearray, end: int, what: str) -> None:
    """Raise ``Malformed`` when ``data`` is shorter than ``end`` bytes."""
    if len(data) < end:
        raise Malformed(f"{what}: truncated ({len(data)} of {end} bytes)")
