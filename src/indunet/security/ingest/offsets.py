"""Where each tailed file was read up to, kept across restarts in a private JSON file.

An entry is the file's device and inode, the byte offset after the last line handed to the
hub, and that line's number. Saved by writing a new file and renaming it over the old one, so
a crash leaves either the old or the new book, never half of one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from indunet.core.files import private_dir

log = logging.getLogger(__name__)
MAX_ENTRIES = 10_000


@dataclass
class Mark:
    dev: int
    ino: int
    offset: int
    line: int


class OffsetBook:
    """The marks of every tailed file; ``path`` None keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.marks: dict[str, Mark] = {}
        self.dirty = False
        if path is not None and path.exists():
            try:
                data = orjson.loads(path.read_bytes())
                for name, m in list(data.items())[:MAX_ENTRIES]:
                    self.marks[name] = Mark(int(m[0]), int(m[1]), int(m[2]), int(m[3]))
            except (OSError, ValueError, TypeError, IndexError, AttributeError):
                log.warning("tail offsets in %s do not read; files are read from the start", path)

    def get(self, name: str) -> Mark | None:
        return self.marks.get(name)

    def put(self, name: str, mark: Mark) -> None:
        self.marks[name] = mark
        self.dirty = True

    def save(self) -> None:
        """Write the book if it changed (atomically, 0600)."""
        if self.path is None or not self.dirty:
            return
        private_dir(self.path.parent)
        data = {k: [m.dev, m.ino, m.offset, m.line] for k, m in self.marks.items()}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, orjson.dumps(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self.dirty = False
