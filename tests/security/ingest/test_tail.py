"""Following files: rotation, truncation, restart from the saved offset, overlong lines,
a directory glob, and back-pressure from a small hub with a slow subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import until

from indunet.security import Hub, SecurityEvent
from indunet.security.ingest.common import MAX_LINE
from indunet.security.ingest.gate import Gate, SourceStats
from indunet.security.ingest.offsets import OffsetBook
from indunet.security.ingest.tail import DirectoryTail, FileTail

SAMPLES = Path(__file__).parent / "samples"


def line(i: int) -> str:
    return f"<13>1 2024-03-01T10:00:{i % 60:02d}Z host app - - - message {i}\n"


class Collect:
    def __init__(self, delay: float = 0.0) -> None:
        self.events: list[SecurityEvent] = []
        self.delay = delay

    async def __call__(self, batch: Sequence[SecurityEvent]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.events.extend(batch)

    def messages(self) -> list[str]:
        return [e.message for e in self.events]


async def drain(tail: FileTail, hub: Hub) -> None:
    while await tail.poll():
        pass
    await hub.drained()


async def hub_with(collect: Collect, max_queued: int = 50_000) -> Hub:
    hub = Hub(max_queued=max_queued)
    hub.subscribe("test", collect)
    await hub.start()
    return hub


async def test_rotation_truncation_and_restart(tmp_path: Path) -> None:
    log = tmp_path / "syslog.log"
    book_path = tmp_path / "state" / "offsets.json"
    got = Collect()
    hub = await hub_with(got)
    stats = SourceStats("syslog-file", "file", "syslog")
    log.write_text("".join(line(i) for i in range(3)) + "<13>1 2024-03-01T10:00:03Z h a - - - par")
    tail = FileTail(log, "syslog", hub, stats, OffsetBook(book_path))
    await drain(tail, hub)
    assert got.messages() == ["message 0", "message 1", "message 2"]  # the half line waits
    with log.open("a") as f:
        f.write("tial\n")
    await drain(tail, hub)
    assert got.messages()[-1] == "partial"
    # rotation: renamed away, a new file under the name; the old one's late lines come first
    log.rename(tmp_path / "syslog.log.1")
    with (tmp_path / "syslog.log.1").open("a") as f:
        f.write(line(10))
    log.write_text(line(11))
    await drain(tail, hub)
    assert got.messages()[-2:] == ["message 10", "message 11"]
    # truncation in place
    with log.open("r+") as f:
        f.truncate(0)
    await drain(tail, hub)
    log.write_text(line(12))
    await drain(tail, hub)
    assert got.messages()[-1] == "message 12"
    await tail.stop()
    assert oct(book_path.stat().st_mode & 0o777) == "0o600"
    # a restart goes on from the saved offset: nothing twice, nothing lost
    with log.open("a") as f:
        f.write(line(13))
    hub2_got = Collect()
    hub2 = await hub_with(hub2_got)
    tail2 = FileTail(log, "syslog", hub2, SourceStats("s", "file", "syslog"), OffsetBook(book_path))
    await drain(tail2, hub2)
    assert hub2_got.messages() == ["message 13"]
    # rotated while stopped: the old file is finished first, then the new one
    await tail2.stop()
    with log.open("a") as f:
        f.write(line(14))
    log.rename(tmp_path / "syslog.log.2")
    log.write_text(line(15))
    tail3 = FileTail(log, "syslog", hub2, SourceStats("s", "file", "syslog"), OffsetBook(book_path))
    await drain(tail3, hub2)
    assert hub2_got.messages() == ["message 13", "message 14", "message 15"]
    await tail3.stop()
    await hub.stop()
    await hub2.stop()
    assert stats.read == stats.parsed == stats.submitted == 7 and stats.bad == 0


async def test_overlong_and_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(
        line(1) + "<13>1 - - - - - - " + "x" * (MAX_LINE * 3) + "\n" + "junk\n" + line(2)
    )
    got = Collect()
    hub = await hub_with(got)
    stats = SourceStats("x", "file", "syslog")
    tail = FileTail(log, "syslog", hub, stats, OffsetBook(None), chunk=4096)
    await drain(tail, hub)
    assert got.messages() == ["message 1", "message 2"]
    assert (stats.read, stats.parsed, stats.overlong, stats.bad) == (4, 2, 1, 1)
    assert stats.last_error.startswith(f"{log}, line 3:")
    await hub.stop()


async def test_zeek_tsv_resumed_midway_reads_with_its_header(tmp_path: Path) -> None:
    log = tmp_path / "modbus_detailed.log"
    text = (SAMPLES / "modbus_detailed.log").read_text().splitlines(keepends=True)
    log.write_text("".join(text[:9]))  # the header and the first record
    book = tmp_path / "o.json"
    got = Collect()
    hub = await hub_with(got)
    tail = FileTail(log, "zeek", hub, SourceStats("z", "file", "zeek"), OffsetBook(book))
    await drain(tail, hub)
    await tail.stop()
    with log.open("a") as f:
        f.write(text[9])
    tail = FileTail(log, "zeek", hub, SourceStats("z", "file", "zeek"), OffsetBook(book))
    await drain(tail, hub)
    assert [e.action for e in got.events] == ["write_multiple_registers", "read_coils"]
    await tail.stop()
    await hub.stop()


async def test_a_small_hub_and_a_slow_subscriber_slow_the_tail_and_lose_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "eve.json"
    alert = (SAMPLES / "eve.json").read_text().splitlines()[0]
    n = 3000
    log.write_text(
        "".join(
            alert.replace('"flow_id":1186227338219016', f'"flow_id":{i}') + "\n" for i in range(n)
        )
    )
    got = Collect(delay=0.01)
    hub = await hub_with(got, max_queued=100)
    stats = SourceStats("eve", "file", "eve")
    tail = FileTail(log, "eve", hub, stats, OffsetBook(None), chunk=16 * 1024)
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, hub.queued)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    await tail.start()
    await until(lambda: len(got.events) >= n, 60)
    watcher.cancel()
    await tail.stop()
    await hub.stop()
    assert len(got.events) == n and len({e.id for e in got.events}) == n
    assert hub.stats.dropped == 0 and stats.dropped == 0
    assert peak <= 100 + 200  # the queue stayed near its bound: the tail waited


async def test_a_directory_glob_picks_up_new_files(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(line(1))
    got = Collect()
    hub = await hub_with(got)
    stats = SourceStats("dir", "directory", "syslog")
    tail = DirectoryTail(
        str(tmp_path / "*.log"), "syslog", hub, stats, OffsetBook(None), scan_s=0.05, poll_s=0.02
    )
    await tail.start()
    (tmp_path / "b.log").write_text(line(2))
    (tmp_path / "c.txt").write_text(line(3))
    await until(lambda: len(got.events) >= 2)
    await tail.stop()
    await hub.stop()
    assert sorted(got.messages()) == ["message 1", "message 2"]
    assert stats.submitted == 2


async def test_the_same_content_twice_is_a_counted_duplicate(tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    log.write_text(line(1) + line(1) + line(2))
    got = Collect()
    hub = await hub_with(got)
    stats = SourceStats("d", "file", "syslog")
    tail = FileTail(log, "syslog", hub, stats, OffsetBook(None), gate=Gate(stats, window_s=60))
    await drain(tail, hub)
    assert got.messages() == ["message 1", "message 2"]
    assert (stats.parsed, stats.duplicates, stats.submitted) == (3, 1, 2)
    await hub.stop()
