"""Exports of raw samples as CSV or Parquet, streamed in chunks of bounded size.

``csv_chunks``/``parquet_chunks`` yield bytes for a streaming HTTP response;
``write_csv``/``write_parquet`` write the same bytes to a binary file. ``store_samples`` pages
through a store so that a long window is never held in memory at once.

A CSV export also marks the device's outages, so that a hole is not read as a quiet machine:
after the samples comes one row per gap, ``device,,<start ISO>,<start ms>,<end ms>,gap``: the
point is empty, the value column holds the end of the gap in ms (empty while the device is
still offline) and the quality column says ``gap``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, BinaryIO

from indunet.telemetry.samples import Sample
from indunet.telemetry.store import TimeSeriesStore

CSV_HEADER = ("device", "point", "ts_iso", "ts_ms", "value", "quality")
GAP = "gap"
"""The quality column of a gap row in a CSV export."""

GapRow = tuple[str, int, int | None]
"""A gap of a device in an export: (device, start ms, end ms or None while offline)."""
CHUNK_ROWS = 50_000
"""Rows per chunk: one CSV flush, one Parquet row group, one store page."""


def iso_ms(ts: int) -> str:
    """``ts`` (ms since 1970, UTC) as ISO 8601 with milliseconds: ``2024-05-01T08:00:00.000Z``."""
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ts % 1000:03d}Z"
    )


def store_samples(
    store: TimeSeriesStore,
    device: str,
    points: Sequence[str],
    start: int,
    end: int,
    *,
    page: int = CHUNK_ROWS,
) -> Iterator[Sample]:
    """Every sample of ``points`` of ``device`` in ``[start, end)``, point by point, by pages."""
    for point in points:
        cursor = start
        while cursor < end:
            rows = store.query(device, point, cursor, end, limit=page)
            yield from rows
            if len(rows) < page:
                break
            cursor = rows[-1].ts + 1


def _csv_value(v: Any) -> Any:
    if v is True:
        return "true"
    if v is False:
        return "false"
    return v


def csv_chunks(
    samples: Iterable[Sample], *, chunk_rows: int = CHUNK_ROWS, gaps: Iterable[GapRow] = ()
) -> Iterator[bytes]:
    """UTF-8 CSV with the header ``device,point,ts_iso,ts_ms,value,quality``, chunk by chunk;
    then one row per gap (see the module's docstring)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    it = iter(samples)
    while True:
        chunk = list(islice(it, chunk_rows))
        writer.writerows(
            (s.device, s.point, iso_ms(s.ts), s.ts, _csv_value(s.value), s.quality) for s in chunk
        )
        if len(chunk) < chunk_rows:
            break
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
    writer.writerows(
        (device, "", iso_ms(start), start, "" if end is None else end, GAP)
        for device, start, end in gaps
    )
    if buf.tell():
        yield buf.getvalue().encode()


def write_csv(samples: Iterable[Sample], out: BinaryIO) -> None:
    """Write ``samples`` to ``out`` as CSV (see ``csv_chunks``)."""
    for chunk in csv_chunks(samples):
        out.write(chunk)


def parquet_schema() -> Any:
    """Columns of a Parquet export: one typed value column per kind, the others null."""
    import pyarrow as pa

    return pa.schema(
        [
            ("device", pa.string()),
            ("point", pa.string()),
            ("ts", pa.timestamp("ms", tz="UTC")),
            ("value", pa.float64()),
            ("value_bool", pa.bool_()),
            ("value_text", pa.string()),
            ("quality", pa.int8()),
        ]
    )


class _Drain(io.RawIOBase):
    """A write-only file that hands over what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.pos

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def parquet_chunks(samples: Iterable[Sample], *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """A Parquet file, one row group per ``chunk_rows`` samples, yielded as it is written.

    ``ts`` is ``timestamp[ms, UTC]``; numbers go to ``value`` (float64), booleans to
    ``value_bool`` and strings to ``value_text``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    drain = _Drain()
    writer = pq.ParquetWriter(drain, schema, compression="zstd")
    it = iter(samples)
    try:
        while True:
            chunk = list(islice(it, chunk_rows))
            if chunk:
                writer.write_table(pa.Table.from_pydict(_columns(chunk), schema=schema))
                yield drain.take()
            if len(chunk) < chunk_rows:
                break
    finally:
        writer.close()
    yield drain.take()


def _columns(chunk: list[Sample]) -> dict[str, list[Any]]:
    nums: list[float | None] = []
    bools: list[bool | None] = []
    texts: list[str | None] = []
    for s in chunk:
        v = s.value
        if isinstance(v, bool):
            nums.append(None)
            bools.append(v)
            texts.append(None)
        elif isinstance(v, str):
            nums.append(None)
            bools.append(None)
            texts.append(v)
        else:
            nums.append(float(v))
            bools.append(None)
            texts.append(None)
    return {
        "device": [s.device for s in chunk],
        "point": [s.point for s in chunk],
        "ts": [s.ts for s in chunk],
        "value": nums,
        "value_bool": bools,
        "value_text": texts,
        "quality": [s.quality for s in chunk],
    }


def write_parquet(samples: Iterable[Sample], out: BinaryIO) -> None:
    """Write ``samples`` to ``out`` as Parquet (see ``parquet_chunks``)."""
    for chunk in parquet_chunks(samples):
        out.write(chunk)
