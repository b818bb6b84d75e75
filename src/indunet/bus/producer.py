"""``BusWriter``: what the ingest pipeline of api and connector processes writes to.

In the scaled mode those processes run the same ``telemetry.Pipeline`` as the embedded one
(samples checked against the device models, dead letters recorded, batches gathered, the
disk buffer, ``Overloaded``), but its batches go to JetStream instead of a store. A batch is
grouped by subject (enterprise and device partition), cut into envelopes of at most 1,000
points and 1 MiB, each published with its ``Nats-Msg-Id``; ``write_batch`` returns once JetStream has
acknowledged every envelope, so the pipeline's answer to a device (MQTT PUBACK, HTTP 2xx)
still means durable, on the stream now rather than in the store.

When NATS cannot take a batch (down, unreachable, the stream full), ``write_batch`` raises
(at once when the connection drops mid-publish, else after ``publish_timeout``) and the
pipeline does what it does for a store that fails: the batch goes to the process's disk buffer, new batches join it behind, the drain task publishes it oldest first with a
capped backoff, and a full buffer answers ``Overloaded`` (HTTP 503, no PUBACK: the devices
slow down). A batch published again after a lost acknowledgement is stored once: JetStream
drops a repeated message id within its window, and the stores' writes are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indunet.telemetry import Sample

from .backbone import Backbone, BusUnavailable
from .envelope import MAX_BYTES, MAX_POINTS, MAX_PRODUCER, MAX_SOURCE, Batch, chunks

log = logging.getLogger(__name__)


@dataclass
class ProducerStats:
    """What a producer published since start."""

    batches: int = 0
    samples: int = 0
    duplicates: int = 0
    failures: int = 0


class BusWriter:
    """Publishes the pipeline's batches to the backbone (``telemetry.BatchWriter``)."""

    def __init__(
        self,
        backbone: Backbone,
        enterprise_of: Callable[[str], int | None],
        *,
        source: str = "bus",
        producer: str | None = None,
        publish_timeout: float = 5.0,
    ) -> None:
        self.backbone = backbone
        self.names = backbone.names
        self.enterprise_of = enterprise_of
        self.source = source
        self.producer = producer or f"{backbone.client_name}-{uuid.uuid4().hex[:12]}"
        self.publish_timeout = publish_timeout
        if len(self.producer) > MAX_PRODUCER or len(source) > MAX_SOURCE:  # else undecodable
            raise ValueError(
                f"a producer name has at most {MAX_PRODUCER} characters and a source "
                f"{MAX_SOURCE}: {self.producer[:40]!r}…, {source[:40]!r}…"
            )
        self.stats = ProducerStats()
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the backbone's connection runs on (``write_batch`` publishes there)."""
        self._loop = loop

    def write_batch(self, samples: Sequence[Sample]) -> None:
        """Publish ``samples``; return once every envelope is acknowledged, else raise.

        Called from the pipeline's writer thread: grouping happens here, publishing on the
        loop. Any failure (not connected, a publish not acknowledged in time, the stream
        full, the loop gone) is ``BusUnavailable``: the pipeline buffers the batch on disk.
        """
        loop = self._loop
        if loop is None or loop.is_closed() or not self.backbone.connected:
            raise BusUnavailable("the NATS backbone is not connected; buffering")
        planned = self.plan(samples)
        try:
            future = asyncio.run_coroutine_threadsafe(self.publish(planned), loop)
        except RuntimeError as exc:  # the loop is closing
            raise BusUnavailable(f"the NATS backbone's loop is gone ({exc}); buffering") from None
        try:
            failed = future.result(timeout=self.publish_timeout * 2 + 1)
        except TimeoutError:
            future.cancel()
            raise BusUnavailable("JetStream did not answer in time; buffering") from None
        if failed:
            raise BusUnavailable(
                f"JetStream did not acknowledge {failed} of {len(planned)} envelopes; buffering"
            )

    def plan(self, samples: Sequence[Sample]) -> list[tuple[str, Batch, bytes]]:
        """The envelopes ``samples`` travel in: subject, envelope and wire form.

        An envelope holds at most ``MAX_POINTS`` samples and ``MAX_BYTES`` bytes (long text
        values: a piece too large is cut in halves), so the server never refuses one for its
        size, which would hold it in the disk buffer for ever.
        """
        by_subject: dict[str, list[Sample]] = {}
        subject_of: dict[str, str] = {}
        for s in samples:
            subject = subject_of.get(s[0])
            if subject is None:
                subject = self.names.telemetry_subject(self.enterprise_of(s[0]), s[0])
                subject_of[s[0]] = subject
            by_subject.setdefault(subject, []).append(s)
        out: list[tuple[str, Batch, bytes]] = []
        for subject, group in by_subject.items():
            for part in chunks(group, MAX_POINTS):
                self._sized(subject, list(part), out)
        return out

    def _sized(self, subject: str, part: list[Sample], out: list[tuple[str, Batch, bytes]]) -> None:
        self._seq += 1
        batch = Batch(self.producer, self._seq, self.source, part)
        body = batch.encode()
        if len(body) <= MAX_BYTES or len(part) == 1:
            out.append((subject, batch, body))
            return
        half = len(part) // 2
        self._sized(subject, part[:half], out)
        self._sized(subject, part[half:], out)

    async def publish(self, planned: list[tuple[str, Batch, bytes]]) -> int:
        """Publish every envelope at once; how many JetStream did not acknowledge."""
        try:
            js = self.backbone.jetstream()
        except BusUnavailable:
            return len(planned)

        async def one(subject: str, batch: Batch, body: bytes) -> bool:
            try:
                ack = await js.publish(
                    subject,
                    body,
                    timeout=self.publish_timeout,
                    headers={"Nats-Msg-Id": batch.msg_id},
                )
            except Exception as exc:  # timeout, no responders, stream full, connection lost
                self.stats.failures += 1
                log.warning("publishing to %s failed: %s", subject, exc)
                return False
            self.stats.batches += 1
            self.stats.samples += len(batch.samples)
            if ack.duplicate:
                self.stats.duplicates += 1
            return True

        acks: asyncio.Future[list[bool]] = asyncio.gather(*(one(*p) for p in planned))
        lost: asyncio.Future[Any] = asyncio.ensure_future(self.backbone.lost.wait())
        try:
            await asyncio.wait((acks, lost), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if not acks.done():  # the connection dropped: no acknowledgement is coming
            acks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acks
            self.stats.failures += 1
            log.warning("the NATS connection dropped while publishing; buffering")
            return len(planned)
        return acks.result().count(False)
