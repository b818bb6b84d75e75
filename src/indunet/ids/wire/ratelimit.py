"""Response rate limiting for the Handle protocol over UDP (reflection and amplification).

A UDP request's source address can be forged: whoever sends a 60-byte query for a large
record with a victim's address makes this server send the victim up to ``UDP_ANSWER_MAX``
bytes. The defence is the one DNS servers use (response rate limiting, as in BIND's RRL):
count answers per *source network and handle* (IPv4 /24, IPv6 /56, the handle folded to
upper case), each key a token bucket of ``rate`` answers per second with a burst of
``burst``. Over the limit, every ``slip``-th answer is replaced by a short
``RC_SERVER_TOO_BUSY`` error (a real client learns to retry, or falls back to TCP, which
cannot be spoofed), the others are dropped. A legitimate resolver caches what it asks, so it
rarely asks one handle twenty times a second; a reflection attack does exactly that.

Loopback sources are never limited (the kernel does not accept forged loopback sources from
outside). The table of keys is bounded (``max_keys``; the oldest key is forgotten first), so
a flood of distinct sources costs memory only up to that bound.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from enum import IntEnum


class Verdict(IntEnum):
    """What to do with one UDP answer."""

    SEND = 0
    SLIP = 1  # send a short error instead
    DROP = 2


def network_of(host: str) -> str | None:
    """The rate-limited network of ``host`` (IPv4 /24 as ``"a.b.c"``, IPv6 /56 as hex),
    ``None`` for loopback (or a string that is not an IP literal, which a UDP socket never
    reports). IPv4 is cut as text: this runs for every answer."""
    if ":" not in host:
        if host.startswith("127."):
            return None
        net, dot, _ = host.rpartition(".")
        return net if dot and net.count(".") == 2 else None
    try:
        ip = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return None
    if ip.ipv4_mapped is not None:
        return network_of(str(ip.ipv4_mapped))
    return None if ip.is_loopback else ip.packed[:7].hex()


class ResponseRateLimit:
    """Token buckets of answers per (source network, handle); see the module's text."""

    def __init__(
        self,
        rate: float = 20.0,
        *,
        burst: float | None = None,
        slip: int = 2,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else 2 * rate)
        self.slip = max(0, slip)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, bytes], list[float]] = OrderedDict()
        self._over = 0
        self.slipped = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def verdict(self, host: str, handle: bytes) -> Verdict:
        """Whether the answer about ``handle`` to ``host`` may be sent (and take a token)."""
        if self.rate <= 0:
            return Verdict.SEND
        net = network_of(host)
        if net is None:
            return Verdict.SEND
        key = (net, handle.upper())
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            self._buckets[key] = [self.burst - 1.0, now]
            return Verdict.SEND
        self._buckets.move_to_end(key)
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return Verdict.SEND
        bucket[0] = tokens
        self._over += 1
        if self.slip and self._over % self.slip == 0:
            self.slipped += 1
            return Verdict.SLIP
        self.dropped += 1
        return Verdict.DROP
