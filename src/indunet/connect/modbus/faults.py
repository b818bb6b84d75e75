"""Modbus faults: exception codes in words, and why a request got no answer."""

from __future__ import annotations

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
GATEWAY_CODES = frozenset({10, 11})  # the device behind the gateway did not answer
SPLIT_CODES = frozenset({2, 3})  # a coalesced read crossed an unmapped address


def exception_text(code: int) -> str:
    """``modbus exception 2 (illegal data address)``."""
    return f"modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"


def short_answer(table: str, count: int, bits: int, registers: int) -> str | None:
    """Why an answer of ``bits`` bits or ``registers`` registers cannot fill the read; or None.

    A well-framed answer may still hold fewer registers (or bits) than asked, a byte count
    of 0 even: that is the unit's fault, reported like an exception answer, never decoded.
    """
    if table in ("coil", "discrete"):
        return None if bits >= count else f"short answer ({bits} of {count} bits)"
    if registers == count:
        return None
    if registers < count:
        return f"short answer ({registers} of {count} registers)"
    return f"malformed answer ({registers} registers for {count} asked)"


class Unreachable(Exception):
    """The request got no answer: the connection is down, or the device timed out."""


class Disconnected(Unreachable):
    """The TCP connection is down (or went down during the request)."""
