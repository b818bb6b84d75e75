"""CSV and Parquet exports: columns, types, and chunked streaming of long windows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from indunet.telemetry import (
    UNCERTAIN,
    MemoryStore,
    Sample,
    csv_chunks,
    parquet_chunks,
    store_samples,
    write_csv,
    write_parquet,
)

T0 = 1_714_550_400_000
MIXED = [
    Sample("d1", "temp", T0, 21.5),
    Sample("d1", "count", T0 + 1, 7),
    Sample("d1", "on", T0 + 2, False, UNCERTAIN),
    Sample("d1", "mode", T0 + 3, 'auto, "fast"'),
]


def test_csv_has_the_header_and_one_row_per_sample() -> None:
    out = io.BytesIO()
    write_csv(MIXED, out)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert rows == [
        ["device", "point", "ts_iso", "ts_ms", "value", "quality"],
        ["d1", "temp", "2024-05-01T08:00:00.000Z", str(T0), "21.5", "0"],
        ["d1", "count", "2024-05-01T08:00:00.001Z", str(T0 + 1), "7", "0"],
        ["d1", "on", "2024-05-01T08:00:00.002Z", str(T0 + 2), "false", "1"],
        ["d1", "mode", "2024-05-01T08:00:00.003Z", str(T0 + 3), 'auto, "fast"', "0"],
    ]


def test_parquet_has_typed_columns() -> None:
    out = io.BytesIO()
    write_parquet(MIXED, out)
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("quality").type == pa.int8()
    assert table.column("value").to_pylist() == [21.5, 7.0, None, None]
    assert table.column("value_bool").to_pylist() == [None, None, False, None]
    assert table.column("value_text").to_pylist() == [None, None, None, 'auto, "fast"']
    assert table.column("ts").to_pylist()[0].timestamp() * 1000 == T0


def many(n: int, taken: list[int]) -> Iterator[Sample]:
    for i in range(n):
        taken.append(i)
        yield Sample("d1", "p", T0 + i, float(i))


def test_exports_stream_chunk_by_chunk() -> None:
    taken: list[int] = []
    chunks = csv_chunks(many(25, taken), chunk_rows=10)
    first = next(chunks)
    assert len(taken) == 10 and first.count(b"\n") == 11  # header + 10 rows, no more read
    assert sum(c.count(b"\n") for c in chunks) == 15
    taken.clear()
    parts = parquet_chunks(many(25, taken), chunk_rows=10)
    next(parts)
    assert len(taken) == 10
    data = b"".join([b"", *parts])
    assert len(taken) == 25 and data.endswith(b"PAR1")


def test_store_samples_pages_through_every_point() -> None:
    store = MemoryStore()
    store.write_batch([Sample("d1", p, T0 + i, float(i)) for p in ("a", "b") for i in range(7)])
    got = list(store_samples(store, "d1", ["b", "a", "zz"], T0 + 1, T0 + 6, page=2))
    assert [(s.point, s.ts - T0) for s in got] == [("b", i) for i in range(1, 6)] + [
        ("a", i) for i in range(1, 6)
    ]
