"""Following a capture file as it is written, rotated and truncated; the built-in sensor of a
running Indunet (``INDUNET_SENSOR_FOLLOW``) feeding the hub."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.conftest import until

from indunet.core import Settings
from indunet.security import Security, SecurityEvent
from indunet.security.sensor.follow import PcapFollower
from indunet.security.sensor.run import FollowSource, SensorRun
from indunet.security.service import metric_lines
from indunet.web import build_state, open_database

from .modbus_pcap import PCAP_HEADER, append_frames, write_coil_frames


def addresses(events: list[SecurityEvent]) -> list[int]:
    return [e.fields["address"] for e in events]


async def test_a_growing_file_is_read_as_it_grows_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "span.pcap"
    got: list[SecurityEvent] = []

    async def sink(events: Sequence[SecurityEvent]) -> None:
        got.extend(events)

    source = FollowSource(path, poll_s=0.05)
    run = SensorRun(source, sink, observer="span")
    await run.start()
    try:
        await asyncio.sleep(0.2)  # the file does not exist yet: waited for
        with path.open("wb") as f:
            f.write(PCAP_HEADER)
            append_frames(f, write_coil_frames(3))
            await until(lambda: len(got) == 3, 10, "the first 3")
            # a record written in two pieces waits for its end
            frames = list(write_coil_frames(2, sport=40600, first=200))
            for ts, frame in frames[:-1]:
                append_frames(f, iter([(ts, frame)]))
            ts, last = frames[-1]
            f.write(b"\x00" * 8)  # half a record header...
            f.flush()
            await asyncio.sleep(0.3)
            assert addresses(got) == [100, 101, 102, 200]
            f.seek(-8, os.SEEK_CUR)
            append_frames(f, iter([(ts, last)]))  # ...then the whole record
            await until(lambda: len(got) == 5, 10, "the record completed")
        assert addresses(got)[-1] == 201

        # rotation: the name now points at a new file
        os.rename(path, tmp_path / "span.pcap.1")
        with path.open("wb") as f:
            f.write(PCAP_HEADER)
            append_frames(f, write_coil_frames(2, t0=1_765_000_100.0, sport=40700, first=300))
        await until(lambda: len(got) == 7, 10, "the rotated file's")
        assert addresses(got)[-2:] == [300, 301]

        # truncation in place (tcpdump restarted with the same name)
        with path.open("r+b") as f:
            f.truncate(0)
            f.write(PCAP_HEADER)
            append_frames(f, write_coil_frames(1, t0=1_765_000_200.0, sport=40800, first=400))
        await until(lambda: len(got) == 8, 10, "the truncated file's")
        stats = source.follower.stats
        assert stats.rotations == 2 and stats.corrupt == 0
    finally:
        await run.stop()
    assert addresses(got)[-1] == 400
    assert all(e.observer == "span" and e.action == "write_single_coil" for e in got)


async def test_a_corrupt_record_is_counted_and_the_next_file_read(tmp_path: Path) -> None:
    path = tmp_path / "span.pcap"
    with path.open("wb") as f:
        f.write(PCAP_HEADER)
        append_frames(f, write_coil_frames(1))
        f.write(b"\x00" * 8 + b"\xff\xff\xff\x00" + b"\x00" * 4)  # a record of 16 MiB
    follower = PcapFollower(path, poll_s=0.05, max_read=64)  # small reads: bounded slices
    seen: list[int] = []

    async def consume() -> None:
        async for batch in follower.batches():
            seen.extend(len(r[2]) for r in batch)

    task = asyncio.create_task(consume())
    try:
        await until(lambda: follower.stats.corrupt == 1, 10, "the corrupt record")
        assert len(seen) == 5
        assert "packet 6: record length 16777215 exceeds 65535" in follower.stats.errors[0]
        path.unlink()
        with path.open("wb") as f:
            f.write(PCAP_HEADER)
            append_frames(f, write_coil_frames(1))
        await until(lambda: len(seen) == 10, 10, "the new file")
    finally:
        follower.stop()
        async with asyncio.timeout(5):
            await task


async def test_indunet_runs_the_sensor_itself(tmp_path: Path) -> None:
    path = tmp_path / "mirror.pcap"
    settings = Settings(data_dir=tmp_path / "data", port=8000, sensor_follow=path)
    engine = open_database(settings)
    try:
        state = build_state(settings, engine=engine)
        svc = state.services["security"]
        assert isinstance(svc, Security)
        assert svc.part("sensor") is not None
        await svc.start()
        try:
            with path.open("wb") as f:
                f.write(PCAP_HEADER)
                append_frames(f, write_coil_frames(4))
            await until(lambda: svc.hub.stats.accepted == 4, 10, "4 events in the hub")
            lines = metric_lines(state)
            assert "indunet_security_sensor_packets_total 11" in lines
            assert "indunet_security_sensor_transactions_total 4" in lines
            assert "indunet_security_sensor_corrupt_total 0" in lines
        finally:
            await svc.stop()
        assert svc.hub.stats.by_source == {"sensor": 4}
    finally:
        engine.dispose()


def test_both_sensor_settings_is_refused(tmp_path: Path) -> None:
    from indunet.core import InvalidInput
    from indunet.security.hub import Hub
    from indunet.security.sensor.run import from_settings

    s = Settings(data_dir=tmp_path, sensor_iface="eth1", sensor_follow=tmp_path / "x.pcap")
    with pytest.raises(InvalidInput, match="not both"):
        from_settings(s, Hub())


async def test_pcapng_arriving_in_odd_pieces(tmp_path: Path) -> None:
    import io

    import dpkt

    buf = io.BytesIO()
    writer = dpkt.pcapng.Writer(buf)
    for ts, frame in write_coil_frames(3):
        writer.writepkt(frame, ts=ts)
    data = buf.getvalue()
    path = tmp_path / "ring.pcapng"
    follower = PcapFollower(path, poll_s=0.02)
    got: list[tuple[float, int, bytes]] = []

    async def consume() -> None:
        async for batch in follower.batches():
            got.extend(batch)

    task = asyncio.create_task(consume())
    try:
        with path.open("wb") as f:
            for i in range(0, len(data), 37):  # cut across block boundaries
                f.write(data[i : i + 37])
                f.flush()
                await asyncio.sleep(0.005)
        await until(lambda: len(got) == 9, 10, "9 packets")
    finally:
        follower.stop()
        async with asyncio.timeout(5):
            await task
    expected = list(write_coil_frames(3))
    assert [r[2] for r in got] == [f for _, f in expected]
    assert got[3][0] == pytest.approx(expected[3][0], abs=1e-6) and got[3][1] == 1
    assert follower.stats.corrupt == 0
