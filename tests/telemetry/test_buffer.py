"""The on-disk ingest buffer: FIFO rows, the byte bound, survival across reopen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from indunet.telemetry import DiskBuffer, Overloaded, Sample
from indunet.telemetry.buffer import decode, encode

T0 = 1_700_000_000_000


def batch(n: int, start: int = 0, device: str = "d1") -> list[Sample]:
    return [Sample(device, "p", T0 + start + i, float(i)) for i in range(n)]


def test_encoding_keeps_every_value_type() -> None:
    samples = [
        Sample("d", "n", T0, 1.5),
        Sample("d", "i", T0, 2**62, 1),
        Sample("d", "b", T0, True, 2),
        Sample("d", "s", T0, "héllo"),
    ]
    back = decode(encode(samples))
    assert back == samples
    assert [type(s.value) for s in back] == [float, int, bool, str]
    assert all(type(s) is Sample for s in back)


async def test_rows_come_back_oldest_first_and_go_once_removed(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "buffer.db", 1 << 20)
    await buf.open()
    for k in range(5):
        await buf.append(batch(10, start=k * 10))
    assert (buf.rows, buf.samples) == (5, 50)
    rows = await buf.oldest(25)
    assert [len(s) for _, s in rows] == [10, 10]  # whole rows, not more than asked
    assert rows[0][1][0].ts == T0
    await buf.remove([row_id for row_id, _ in rows])
    assert (buf.rows, buf.samples) == (3, 30)
    rest = await buf.oldest(1)  # at least one row even when it is bigger than asked
    assert len(rest) == 1 and rest[0][1][0].ts == T0 + 20
    await buf.close()


async def test_the_bound_refuses_what_does_not_fit(tmp_path: Path) -> None:
    one = len(encode(batch(100)))
    buf = DiskBuffer(tmp_path / "buffer.db", one * 3 + 10)
    await buf.open()
    for k in range(3):
        await buf.append(batch(100, start=k * 100))
    assert not buf.full
    with pytest.raises(Overloaded, match="buffer is full"):
        await buf.append(batch(100, start=300))
    assert buf.rows == 3
    rows = await buf.oldest(100)
    await buf.remove([rows[0][0]])
    await buf.append(batch(100, start=400))  # room again
    assert buf.rows == 3
    await buf.close()


async def test_concurrent_appends_share_transactions_and_keep_their_order(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "buffer.db", 1 << 24)
    await buf.open()
    await asyncio.wait_for(
        asyncio.gather(*(buf.append(batch(5, start=k * 5)) for k in range(200))), 20
    )
    rows = await buf.oldest(10_000)
    starts = [s[0].ts for _, s in rows]
    assert starts == sorted(starts) and len(starts) == 200
    await buf.close()


async def test_content_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    buf = DiskBuffer(path, 1 << 20)
    await buf.open()
    await buf.append(batch(7))
    await buf.append(batch(3, start=7, device="d2"))
    size = buf.bytes
    await buf.close()

    again = DiskBuffer(path, 1 << 20)
    await again.open()
    assert (again.rows, again.samples, again.bytes) == (2, 10, size)
    rows = await again.oldest(100)
    assert [s for _, r in rows for s in r] == batch(7) + batch(3, start=7, device="d2")
    await again.remove([i for i, _ in rows])
    assert (again.rows, again.samples, again.bytes) == (0, 0, 0)
    await again.close()
