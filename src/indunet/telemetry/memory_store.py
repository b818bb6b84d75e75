"""An in-memory time-series store: the reference semantics, for tests and small tools."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

from indunet.telemetry.rollup import (
    check_buckets,
    check_cut,
    check_limit,
    check_window,
    sample_partials,
    strings_refused,
    to_buckets,
)
from indunet.telemetry.samples import Bucket, Sample
from indunet.telemetry.validity import check_samples


class _Series:
    """The samples of one point: sorted timestamps and the sample of each."""

    __slots__ = ("by_ts", "strings", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.by_ts: dict[int, Sample] = {}
        self.strings = False

    def window(self, start: int, end: int) -> list[int]:
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_left(self.times, end)
        return self.times[lo:hi]


class MemoryStore:
    """A ``TimeSeriesStore`` held in process memory, with the same semantics as the others.

    Like ``httpx.MockTransport``, it is shipped for tests and for tools that need a store
    without a file. Nothing survives the process. Thread-safe through one lock.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Series] = {}
        self._lock = threading.Lock()

    def write_batch(self, samples: Sequence[Sample]) -> None:
        """Store ``samples`` atomically; a (device, point, ts) already stored is ignored."""
        check_samples(samples)
        with self._lock:
            for s in samples:
                series = self._series.get((s.device, s.point))
                if series is None:
                    series = self._series[s.device, s.point] = _Series()
                if s.ts in series.by_ts:
                    continue
                series.by_ts[s.ts] = Sample(*s)
                if not series.times or s.ts > series.times[-1]:
                    series.times.append(s.ts)
                else:
                    bisect.insort(series.times, s.ts)
                if isinstance(s.value, str):
                    series.strings = True

    def latest(self, device: str, points: Sequence[str] | None = None) -> dict[str, Sample]:
        """The newest sample of each point of ``device`` (only ``points`` when given)."""
        wanted = None if points is None else set(points)
        with self._lock:
            return {
                point: series.by_ts[series.times[-1]]
                for (dev, point), series in self._series.items()
                if dev == device and series.times and (wanted is None or point in wanted)
            }

    def query(
        self, device: str, point: str, start: int, end: int, *, limit: int = 100_000
    ) -> list[Sample]:
        """Raw samples with ``start <= ts < end``, oldest first, at most ``limit``."""
        check_window(start, end)
        check_limit(limit)
        with self._lock:
            series = self._series.get((device, point))
            if series is None:
                return []
            return [series.by_ts[t] for t in series.window(start, end)[:limit]]

    def downsample(
        self, device: str, point: str, start: int, end: int, bucket_ms: int
    ) -> list[Bucket]:
        """Numeric aggregates per bucket of ``bucket_ms`` in ``[start, end)``, oldest first."""
        check_buckets(start, end, bucket_ms)
        with self._lock:
            series = self._series.get((device, point))
            if series is None:
                return []
            if series.strings:
                raise strings_refused(device, point)
            samples = [series.by_ts[t] for t in series.window(start, end)]
        return to_buckets(sample_partials(samples, start, bucket_ms), start, bucket_ms)

    def delete_before(self, devices: Sequence[str], before: int) -> int:
        """Delete samples of ``devices`` older than ``before`` (ms); return how many."""
        check_cut(devices, before)
        wanted = set(devices)
        removed = 0
        with self._lock:
            for (device, _point), series in self._series.items():
                if device not in wanted:
                    continue
                cut = bisect.bisect_left(series.times, before)
                for t in series.times[:cut]:
                    del series.by_ts[t]
                del series.times[:cut]
                removed += cut
        return removed

    def delete_device(self, device: str) -> int:
        """Delete every sample of ``device`` and forget its points; return how many."""
        with self._lock:
            gone = [key for key in self._series if key[0] == device]
            return sum(len(self._series.pop(key).times) for key in gone)

    def close(self) -> None:
        """Nothing to release."""
