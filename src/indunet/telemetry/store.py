"""The time-series store protocol: what every telemetry backend provides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from indunet.telemetry.samples import Bucket, Sample


class BatchWriter(Protocol):
    """What the ingest pipeline writes to: a store, or the bus in front of one
    (``bus.BusWriter``). Same contract as ``TimeSeriesStore.write_batch``."""

    def write_batch(self, samples: Sequence[Sample]) -> None:
        """Make every sample durable, or raise having made none so (called from one thread)."""


class TimeSeriesStore(Protocol):
    """Durable storage of samples. Methods are synchronous and thread-safe.

    Backends do blocking I/O (SQLite, psycopg), so the ingest pipeline calls ``write_batch``
    from one writer thread and web handlers call the queries from the thread pool.
    ``write_batch`` is all-or-nothing: when it returns, every sample is durable; when it
    raises, none was written. A sample whose (device, point, ts) already exists is ignored:
    the first value is kept and counted once, so a replayed batch stores nothing twice.

    ``downsample`` buckets are aligned to ``start`` (bucket *k* covers
    ``[start + k * bucket_ms, start + (k + 1) * bucket_ms)``, cut at ``end``) and only non-empty
    buckets are returned. Booleans aggregate as 0/1, samples of quality ``BAD`` are left out,
    and a point that holds strings cannot be downsampled (``InvalidInput``).
    """

    def write_batch(self, samples: Sequence[Sample]) -> None:
        """Store ``samples`` atomically."""

    def latest(self, device: str, points: Sequence[str] | None = None) -> dict[str, Sample]:
        """The newest sample of each point of ``device`` (only ``points`` when given)."""

    def query(
        self, device: str, point: str, start: int, end: int, *, limit: int = 100_000
    ) -> list[Sample]:
        """Raw samples with ``start <= ts < end``, oldest first, at most ``limit``."""

    def downsample(
        self, device: str, point: str, start: int, end: int, bucket_ms: int
    ) -> list[Bucket]:
        """Numeric aggregates per bucket of ``bucket_ms`` in ``[start, end)``, oldest first."""

    def delete_before(self, devices: Sequence[str], before: int) -> int:
        """Delete samples of ``devices`` older than ``before`` (ms); return how many."""

    def delete_device(self, device: str) -> int:
        """Delete every sample and rollup of ``device`` and forget its points; return how many
        samples went. Used when a device is deleted, so a later device of the same id starts
        empty (a point that held strings may then hold numbers)."""

    def close(self) -> None:
        """Release connections."""
