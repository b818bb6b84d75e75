"""Following log files as tools write them: one file (``FileTail``) or every file a glob
matches, new ones included (``DirectoryTail``).

- Chunks are read off the event loop; their lines are parsed on it, ``PART`` lines at a
  time, and handed to the hub with ``Hub.submit``: when the hub's queue is full the tail
  waits (back-pressure), it never drops; a source over its rate is slowed down the same way.
- Where a file was read up to (``OffsetBook``) is saved after the hub took the lines, so a
  restart goes on from there: nothing is read twice or lost. A file rotated while Indunet was
  down is finished first if it still lies beside the new one (same inode).
- Rotation (the name now points at another inode) and truncation (the file is shorter than
  where we are) are noticed at the end of the data: the old file is read to its end, then the
  new one from its start.
- A line over ``MAX_LINE`` bytes is counted (``overlong``) and skipped to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import time
from datetime import UTC, tzinfo
from pathlib import Path
from typing import BinaryIO

from ..events import SecurityEvent
from ..hub import Hub, HubFull
from .common import MAX_LINE
from .gate import Gate, SourceStats
from .offsets import Mark, OffsetBook
from .reader import LineBroken, Reader

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
PART = 256
"""Lines parsed and handed on at a time: a part's events reach detection while they are
still in the processor's cache (a tenth faster than parts of 2,000 lines), and the loop
is held for a few milliseconds at most, as long as a thread parsing it would hold the GIL."""
POLL_S = 0.25
SAVE_S = 1.0
SUBMIT_WAIT_S = 5.0
MAX_FILES = 256


class FileTail:
    """One file followed from where it was left."""

    def __init__(
        self,
        path: str | Path,
        fmt: str,
        hub: Hub,
        stats: SourceStats,
        book: OffsetBook,
        *,
        gate: Gate | None = None,
        enterprise_id: int | None = None,
        zone: tzinfo = UTC,
        poll_s: float = POLL_S,
        chunk: int = CHUNK,
    ) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.fmt = fmt
        self.hub = hub
        self.stats = stats
        self.book = book
        self.gate = gate if gate is not None else Gate(stats)
        self.enterprise_id = enterprise_id
        self.zone = zone
        self.poll_s = poll_s
        self.chunk = chunk
        self._fh: BinaryIO | None = None
        self._ident = (0, 0)
        self._pos = 0  # the offset after the last whole line handled
        self._line = 0
        self._buf = b""
        self._skipping = False
        self._reader = self._new_reader()
        self._saved = 0.0
        self._task: asyncio.Task[None] | None = None

    def _new_reader(self) -> Reader:
        return Reader(self.fmt, self.name, enterprise_id=self.enterprise_id, zone=self.zone)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"tail {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._close()
        self.book.save()

    async def _run(self) -> None:
        while True:
            try:
                got = await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a running loop keeps going
                log.exception("tailing %s failed", self.name)
                self.stats.last_error = f"{self.name}: {exc}"[:300]
                got = 0
                await asyncio.sleep(self.poll_s * 4)
            if not got:
                await asyncio.sleep(self.poll_s)

    async def poll(self) -> int:
        """Read and hand on what is new; how many bytes were read (0: nothing new)."""
        if self._fh is None and not self._open():
            return 0
        assert self._fh is not None
        data = await asyncio.to_thread(self._fh.read, self.chunk)
        if data:
            await self._take(data)
            return len(data)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        if (st.st_dev, st.st_ino) != self._ident:  # rotated: the old one is read to its end
            if self._buf:
                await self._take(b"\n")
            self._close()
            self._open(fresh=True)
            return 1
        if st.st_size < self._pos:  # truncated in place
            log.info("%s was truncated; reading it from the start", self.name)
            self._fh.seek(0)
            self._pos, self._line, self._buf, self._skipping = 0, 0, b"", False
            self._reader = self._new_reader()
            self._mark()
            return 1
        if time.monotonic() - self._saved > SAVE_S:
            self.book.save()
            self._saved = time.monotonic()
        return 0

    def _open(self, fresh: bool = False) -> bool:
        """Open the file where it was left (or its predecessor, rotated while we were away)."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open while tailing
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return False
        st = os.fstat(fh.fileno())
        mark = None if fresh else self.book.get(self.name)
        self._reader = self._new_reader()
        self._pos, self._line, self._buf, self._skipping = 0, 0, b"", False
        if mark is not None and (mark.dev, mark.ino) != (st.st_dev, st.st_ino):
            old = _sibling_with(self.path, mark.dev, mark.ino)
            if old is not None:
                fh.close()
                log.info("%s was rotated while stopped; finishing %s first", self.name, old)
                fh = open(old, "rb")  # noqa: SIM115
                st = os.fstat(fh.fileno())
            else:
                mark = None
        if mark is not None and mark.offset <= st.st_size:
            self._pos, self._line = mark.offset, mark.line
            if self.fmt == "zeek" and self._pos:
                self._prime(fh)
            fh.seek(self._pos)
        self._fh, self._ident = fh, (st.st_dev, st.st_ino)
        self._mark()
        return True

    def _prime(self, fh: BinaryIO) -> None:
        """A Zeek TSV file resumed midway: read its header again (the lines before the
        first data line), so the data lines after the offset read as that header says."""
        fh.seek(0)
        for raw in fh:
            if not raw.startswith(b"#") or fh.tell() > self._pos:
                break
            with contextlib.suppress(LineBroken):
                self._reader.line(raw, 0)

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _mark(self) -> None:
        self.book.put(self.name, Mark(self._ident[0], self._ident[1], self._pos, self._line))

    async def _take(self, data: bytes) -> None:
        """Parse the whole lines of ``data`` and hand their events on, ``PART`` lines at a
        time; the offset moves once the hub has each part's events."""
        lines = (self._buf + data).split(b"\n")
        self._buf = lines.pop()
        if self._skipping and lines:  # the end of a line already counted as overlong
            self._skipping = False
            self._pos += len(lines[0]) + 1
            del lines[0]
            self._mark()
        for start in range(0, len(lines), PART):
            part = lines[start : start + PART]
            events = self._parse(part)
            # a file is read once (offsets): a line met again is the same line written twice,
            # and the hub's memory of ids recognises it (the window would cost a tenth here)
            await hand_on(self.hub, self.gate, events, window=False)
            self._pos += sum(map(len, part)) + len(part)
            self._mark()
            await asyncio.sleep(0)  # the hub and the rest of the loop run between parts
        if len(self._buf) > MAX_LINE:  # a line too long, its end not here yet: skip it
            if not self._skipping:
                self._line += 1
                self.stats.read += 1
                self.stats.overlong += 1
                self.stats.last_error = f"{self.name}, line {self._line}: over {MAX_LINE:,} bytes"
            self._pos += len(self._buf)
            self._buf = b""
            self._skipping = True
            self._mark()

    def _parse(self, lines: list[bytes]) -> list[SecurityEvent]:
        """The events of ``lines`` (whole lines, without their ends), counted."""
        stats, first = self.stats, self._line + 1
        self._line += len(lines)
        stats.read += len(lines)
        events, errors = self._reader.lines(lines, first)
        for error in errors:
            if error.overlong:
                stats.overlong += 1
            else:
                stats.bad += 1
        if errors:
            stats.last_error = str(errors[-1])[:300]
        stats.parsed += len(events)
        return events


async def hand_on(
    hub: Hub, gate: Gate, events: list[SecurityEvent], *, window: bool = True
) -> None:
    """Queue ``events`` at the pace of the source's rate, waiting while the hub is full
    (never dropping): the back-pressure every source that can wait gets. ``window``: the
    source's own duplicate window first (a sender that sends again); without it, the hub's
    memory of ids alone recognises a duplicate, counted against the source all the same."""
    fresh = gate.fresh(events) if window else events
    if not fresh:
        return
    await gate.wait(len(fresh))
    while True:
        try:
            receipt = await hub.submit(fresh, wait=SUBMIT_WAIT_S)
        except HubFull:
            continue
        gate.stats.submitted += receipt.accepted
        gate.stats.duplicates += receipt.duplicates
        return


def _sibling_with(path: Path, dev: int, ino: int) -> Path | None:
    """The file beside ``path`` with that device and inode (``conn.log`` renamed
    ``conn.log.1``), if there is one."""
    try:
        entries = list(os.scandir(path.parent))[:10_000]
    except OSError:
        return None
    for entry in entries:
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if entry.is_file(follow_symlinks=False) and (st.st_dev, st.st_ino) == (dev, ino):
                return Path(entry.path)
    return None


def _files(pattern: str) -> list[str]:
    return [p for p in sorted(glob.glob(pattern))[: MAX_FILES * 4] if os.path.isfile(p)]


class DirectoryTail:
    """Every file matching a glob followed, new files picked up as they appear (at most
    ``MAX_FILES``), all counting into the one source's counters."""

    def __init__(
        self,
        pattern: str,
        fmt: str,
        hub: Hub,
        stats: SourceStats,
        book: OffsetBook,
        *,
        gate: Gate | None = None,
        enterprise_id: int | None = None,
        zone: tzinfo = UTC,
        scan_s: float = 2.0,
        poll_s: float = POLL_S,
    ) -> None:
        self.pattern = pattern
        self.fmt = fmt
        self.hub = hub
        self.stats = stats
        self.book = book
        self.gate = gate if gate is not None else Gate(stats)
        self.enterprise_id = enterprise_id
        self.zone = zone
        self.scan_s = scan_s
        self.poll_s = poll_s
        self.tails: dict[str, FileTail] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            await self.scan()
            self._task = asyncio.create_task(self._run(), name=f"tail {self.pattern}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for tail in self.tails.values():
            await tail.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.scan_s)
            try:
                await self.scan()
            except Exception as exc:
                log.exception("scanning %s failed", self.pattern)
                self.stats.last_error = f"{self.pattern}: {exc}"[:300]

    async def scan(self) -> None:
        """Start a tail for each matching file not followed yet."""
        found = await asyncio.to_thread(_files, self.pattern)
        for name in found:
            if name in self.tails:
                continue
            if len(self.tails) >= MAX_FILES:
                self.stats.last_error = f"{self.pattern}: over {MAX_FILES} files; the rest wait"
                break
            tail = FileTail(
                name,
                self.fmt,
                self.hub,
                self.stats,
                self.book,
                gate=self.gate,
                enterprise_id=self.enterprise_id,
                zone=self.zone,
                poll_s=self.poll_s,
            )
            self.tails[name] = tail
            await tail.start()
