"""Running the sensor: a source of packets (capture files, a followed file, a live interface)
through a ``Decoder`` into events, handed to a sink (the hub in this process, or a
``Shipper`` to a running Indunet).

Everything between the source and the sink is bounded: the source hands batches of at most
``BATCH`` packets, the decoder keeps a bounded flow table, and the sink is awaited before the
next batch is read, so a slow sink slows the reading (files, a followed file) or fills the
capture's bounded queue, whose overflow is counted (live). Memory stays flat however long
it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indunet.security.events import SecurityEvent
from indunet.security.hub import Hub, HubFull

from .decode import Decoder
from .follow import PcapFollower
from .live import LiveCapture
from .pcapio import ETHERNET, CaptureError, read_packets
from .records import Transaction

log = logging.getLogger(__name__)
BATCH = 1_000
Record = tuple[float, int, bytes]
Sink = Callable[[Sequence[SecurityEvent]], Awaitable[None]]


class FileSource:
    """The packets of capture files, one after the other; a file that cannot be read to its
    end is named (file and packet) in the decoder's ``capture_errors`` and the next one read."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.errors: list[str] = []
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    async def batches(self) -> AsyncIterator[list[Record]]:
        for path in self.paths:
            batch: list[Record] = []
            try:
                for record in read_packets(path):
                    batch.append(record)
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
                        if self._stopped:
                            return
            except CaptureError as exc:
                self.errors.append(str(exc))
            except OSError as exc:
                self.errors.append(f"{path}: {exc.strerror or exc}")
            if batch:
                yield batch
            if self._stopped:
                return


class FollowSource:
    """A capture file as it is written (``follow.PcapFollower``)."""

    def __init__(self, path: str | Path, poll_s: float = 0.2) -> None:
        self.follower = PcapFollower(path, poll_s=poll_s)

    def stop(self) -> None:
        self.follower.stop()

    async def batches(self) -> AsyncIterator[list[Record]]:
        async for batch in self.follower.batches():
            for i in range(0, len(batch), BATCH):
                yield batch[i : i + BATCH]


class LiveSource:
    """Frames of a live interface (``live.LiveCapture``), Ethernet."""

    def __init__(self, iface: str, queue_max: int = 20_000) -> None:
        self.capture = LiveCapture(iface, queue_max=queue_max)

    def open(self) -> None:
        """Open the socket now, so that a refusal is seen before anything else starts."""
        self.capture.open()

    def stop(self) -> None:
        self.capture.request_stop()

    async def batches(self) -> AsyncIterator[list[Record]]:
        await self.capture.start()
        try:
            async for frames in self.capture.batches(BATCH):
                yield [(ts, ETHERNET, frame) for ts, frame in frames]
        finally:
            await self.capture.stop()


Source = FileSource | FollowSource | LiveSource


def hub_sink(hub: Hub, wait: float = 10.0) -> Sink:
    """Events into ``hub``, waiting while its queue is full (back-pressure, no drop)."""

    async def submit(events: Sequence[SecurityEvent]) -> None:
        while True:
            try:
                await hub.submit(events, wait=wait)
                return
            except HubFull:
                log.warning("security hub full: the sensor waits")

    return submit


@dataclass
class RunStats:
    batches: int = 0
    events: int = 0
    sink_errors: int = 0


class SensorRun:
    """source → decoder → events → sink; ``run`` until the source ends or ``stop``;
    ``start``/``stop`` to run it as a service part."""

    def __init__(
        self,
        source: Source,
        sink: Sink,
        *,
        observer: str = "sensor",
        enterprise_id: int | None = None,
        decoder: Decoder | None = None,
        on_transactions: Callable[[list[Transaction]], None] | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.observer = observer
        self.enterprise_id = enterprise_id
        self.decoder = decoder if decoder is not None else Decoder(observer)
        self.on_transactions = on_transactions
        self.stats = RunStats()
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        feed = self.decoder.feed_link
        try:
            async for batch in self.source.batches():
                txs: list[Transaction] = []
                for ts, linktype, data in batch:
                    txs.extend(feed(ts, linktype, data))
                self.stats.batches += 1
                await self._emit(txs)
                await asyncio.sleep(0)  # let the rest of the process run between batches
        finally:
            if isinstance(self.source, FileSource) and self.source.errors:
                # as decode.read_file counts them: named in capture_errors, one truncated each
                self.decoder.stats.capture_errors.extend(self.source.errors)
                self.decoder.stats.truncated += len(self.source.errors)
            await self._emit(self.decoder.flush())

    async def _emit(self, txs: list[Transaction]) -> None:
        if not txs:
            return
        if self.on_transactions is not None:
            self.on_transactions(txs)
        events = [t.to_event(self.observer, self.enterprise_id) for t in txs]
        try:
            await self.sink(events)
            self.stats.events += len(events)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.sink_errors += 1
            log.exception("sensor: handing %d events on failed", len(events))

    async def start(self) -> None:
        if isinstance(self.source, LiveSource):
            self.source.open()
        self._task = asyncio.create_task(self._guarded(), name="security-sensor")

    async def _guarded(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the security sensor stopped")

    async def stop(self) -> None:
        self.source.stop()
        if self._task is not None:
            try:
                async with asyncio.timeout(10):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    def counters(self) -> dict[str, Any]:
        """Every counter: the decoder's, the source's, the run's."""
        out: dict[str, Any] = {"decoder": self.decoder.stats.as_dict()}
        src = self.source
        if isinstance(src, LiveSource):
            out["capture"] = vars(src.capture.stats).copy()
        elif isinstance(src, FollowSource):
            out["follow"] = vars(src.follower.stats).copy()
        elif src.errors:
            out["files"] = {"errors": list(src.errors)}
        out["run"] = vars(self.stats).copy()
        return out


def metric_lines(run: SensorRun) -> list[str]:
    """Prometheus lines of the built-in sensor: packets, transactions, malformed PDUs, and
    what the capture or the follower dropped or skipped."""
    st = run.decoder.stats
    malformed = sum(m.count for m in st.malformed.values())
    lines = [
        "# HELP indunet_security_sensor_packets_total Packets the built-in sensor decoded.",
        "# TYPE indunet_security_sensor_packets_total counter",
        f"indunet_security_sensor_packets_total {st.packets}",
        "# HELP indunet_security_sensor_transactions_total Industrial-protocol transactions.",
        "# TYPE indunet_security_sensor_transactions_total counter",
        f"indunet_security_sensor_transactions_total {st.transactions}",
        "# HELP indunet_security_sensor_malformed_total PDUs that did not decode.",
        "# TYPE indunet_security_sensor_malformed_total counter",
        f"indunet_security_sensor_malformed_total {malformed}",
    ]
    src = run.source
    if isinstance(src, LiveSource):
        c = src.capture.stats
        lines += [
            "# HELP indunet_security_sensor_dropped_total Frames lost before decoding.",
            "# TYPE indunet_security_sensor_dropped_total counter",
            f'indunet_security_sensor_dropped_total{{where="queue"}} {c.dropped}',
            f'indunet_security_sensor_dropped_total{{where="kernel"}} {c.kernel_drops}',
        ]
    elif isinstance(src, FollowSource):
        f = src.follower.stats
        lines += [
            "# HELP indunet_security_sensor_corrupt_total Capture files skipped as corrupt.",
            "# TYPE indunet_security_sensor_corrupt_total counter",
            f"indunet_security_sensor_corrupt_total {f.corrupt}",
        ]
    return lines


def from_settings(settings: Any, hub: Hub) -> SensorRun:
    """The built-in sensor of a running Indunet (``INDUNET_SENSOR_IFACE`` or
    ``INDUNET_SENSOR_FOLLOW``), feeding ``hub``."""
    import socket

    from indunet.core import InvalidInput

    iface, follow = settings.sensor_iface, settings.sensor_follow
    if iface and follow:
        raise InvalidInput("set INDUNET_SENSOR_IFACE or INDUNET_SENSOR_FOLLOW, not both")
    host = socket.gethostname()
    source: Source = LiveSource(iface) if iface else FollowSource(follow)
    observer = f"{host}:{iface}" if iface else f"{host}:{Path(follow).name}"
    return SensorRun(source, hub_sink(hub), observer=observer)
