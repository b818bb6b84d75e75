"""Live capture from a network interface (a SPAN/mirror port, a TAP, or a host's own link).

An ``AF_PACKET`` raw socket bound to the interface receives every frame, both directions,
with the kernel's receive timestamp (``SO_TIMESTAMP``, read with the frame in one call). A
reader thread puts ``(ts, frame)`` pairs in a bounded queue; the async side takes them in
batches (``batches``). A full queue drops the new frame and counts it (``stats.dropped``),
never silently; the kernel's own drops (its socket buffer overflowed) are read with
``PACKET_STATISTICS`` into ``stats.kernel_drops``.

Needs root or ``CAP_NET_RAW``: without, and for an interface that does not exist, ``open``
raises an ``IndunetError`` with a message a person can act on (no traceback).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from indunet.core import IndunetError, NotFound
from indunet.core.errors import PermissionDenied

log = logging.getLogger(__name__)
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_TIMESTAMP = 29
MSG_TRUNC = 0x20
SNAPLEN = 65_535 + 18  # the largest frame kept whole (GRO can pass bigger ones: cut, counted)
QUEUE_MAX = 20_000
RCVBUF = 8 * 1024 * 1024
_TIMEVAL = struct.Struct("@ll")
_STATS = struct.Struct("@II")


@dataclass
class LiveStats:
    """What the capture saw: frames taken, dropped because the queue was full, cut to the
    snap length, dropped by the kernel before we could read them."""

    packets: int = 0
    bytes: int = 0
    dropped: int = 0
    truncated: int = 0
    kernel_drops: int = 0
    errors: int = 0


class LiveCapture:
    """Frames of one interface, read by a thread, taken by the async side in batches."""

    def __init__(self, iface: str, queue_max: int = QUEUE_MAX) -> None:
        self.iface = iface
        self.queue_max = queue_max
        self.stats = LiveStats()
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._waiting = False

    def open(self) -> None:
        """Open and bind the socket (``IndunetError`` when that is not allowed or possible)."""
        iface = self.iface
        if not iface or len(iface) > 15 or "/" in iface or "\0" in iface:
            raise NotFound(f"no network interface named {iface!r}")
        try:
            socket.if_nametoindex(iface)
        except OSError:
            raise NotFound(
                f"no network interface named {iface!r} (see `ip link` for the names)"
            ) from None
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise PermissionDenied(
                f"capturing on {iface} needs root or the CAP_NET_RAW capability "
                "(e.g. `setcap cap_net_raw+ep` on the Python interpreter, or run as root)"
            ) from None
        except OSError as exc:
            raise CaptureFailed(f"cannot open a packet socket: {exc.strerror or exc}") from None
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            sock.bind((iface, ETH_P_ALL))
            sock.settimeout(0.2)
        except OSError as exc:
            sock.close()
            raise CaptureFailed(f"cannot capture on {iface}: {exc.strerror or exc}") from None
        self._sock = sock
        self._read_kernel_stats()  # zero them: what came before bind is not ours

    async def start(self) -> None:
        if self._sock is None:
            self.open()
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._read, name=f"capture-{self.iface}")
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        """Stop reading (within a fraction of a second) and close the socket."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None
        if self._sock is not None:
            self._read_kernel_stats()
            self._sock.close()
            self._sock = None
        self._ready.set()

    def request_stop(self) -> None:
        """Ask the reader to stop (from any thread or a signal handler); ``stop`` waits."""
        self._stopping.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping.is_set()

    def take(self, limit: int = 1_000) -> list[tuple[float, bytes]]:
        """Up to ``limit`` frames waiting, oldest first (never waits)."""
        q = self._queue
        n = min(limit, len(q))
        return [q.popleft() for _ in range(n)]

    async def batches(self, limit: int = 1_000) -> AsyncIterator[list[tuple[float, bytes]]]:
        """Batches of frames as they come, until ``stop``."""
        while True:
            got = self.take(limit)
            if got:
                yield got
                continue
            if self._stopping.is_set() or self._thread is None:
                return
            self._ready.clear()
            self._waiting = True
            if self._queue:  # came between the take and the flag
                self._waiting = False
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await self._ready.wait()
            self._waiting = False
            self._read_kernel_stats()

    def _read_kernel_stats(self) -> None:
        if self._sock is None:
            return
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
            _, drops = _STATS.unpack(raw)
            self.stats.kernel_drops += drops
        except OSError:
            pass

    def _read(self) -> None:
        sock = self._sock
        assert sock is not None
        buf = bytearray(SNAPLEN)
        view = memoryview(buf)
        anc = socket.CMSG_SPACE(_TIMEVAL.size)
        q = self._queue
        st = self.stats
        while not self._stopping.is_set():
            try:
                n, ancdata, flags, addr = sock.recvmsg_into([view], anc)
            except TimeoutError:
                continue
            except InterruptedError:
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    break
                st.errors += 1
                log.warning("capture on %s: %s", self.iface, exc)
                time.sleep(0.1)
                continue
            if addr and addr[0] != self.iface:
                continue  # only what the bound interface saw
            ts = 0.0
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(data) >= 16:
                    sec, usec = _TIMEVAL.unpack_from(data)
                    ts = sec + usec / 1e6
            if not ts:
                ts = time.time()
            st.packets += 1
            st.bytes += n
            if flags & MSG_TRUNC:
                st.truncated += 1
            if len(q) >= self.queue_max:
                st.dropped += 1
                continue
            q.append((ts, bytes(view[:n])))
            if self._waiting and self._loop is not None:
                self._waiting = False
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self._loop.call_soon_threadsafe(self._ready.set)


class CaptureFailed(IndunetError):
    """The interface could not be captured on (down, gone, refused by the kernel)."""

    code = "capture_failed"
    status = 400
