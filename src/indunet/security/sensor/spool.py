"""The shipper's on-disk buffer: batches of events waiting to be accepted by a running Indunet.

One SQLite file (0600, in a 0700 directory) with two tables: ``batches``, sent in the order
they were written and deleted only once the server answered 200, and ``rejected``, batches the
server refused for their content (400), kept with its reason for a person to look at instead of
being sent again forever. The file is bounded in bytes: a ``put`` that does not fit returns
False (the shipper waits, pushing back on its source); the rejected table has a bound of its
own, beyond which its oldest batches are deleted and counted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from indunet.core.files import private_dir, private_file

FILE_NAME = "sensor-spool.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    events INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    events INTEGER NOT NULL,
    created REAL NOT NULL,
    rejected_at REAL NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch as written: its row id, the request body, how many events it holds."""

    id: int
    body: bytes
    events: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A batch the server refused, with its answer."""

    id: int
    events: int
    status: int
    reason: str
    rejected_at: float
    body: bytes


class Spool:
    """The buffer file of one shipper (thread-safe: every call holds one lock)."""

    def __init__(
        self, directory: Path, max_bytes: int = 256 * 1024 * 1024, max_rejected_bytes: int = 0
    ) -> None:
        private_dir(directory)
        self.path = private_file(directory / FILE_NAME)
        self.max_bytes = max_bytes
        self.max_rejected_bytes = max_rejected_bytes or max(max_bytes // 8, 1024 * 1024)
        self.rejected_discarded = 0
        """Events of rejected batches deleted to keep the rejected table in its bound."""
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(body)), 0), COUNT(*), COALESCE(SUM(events), 0) FROM batches"
        ).fetchone()
        self._bytes, self._batches, self._events = int(row[0]), int(row[1]), int(row[2])
        (rej,) = self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM rejected").fetchone()
        self._rejected_bytes = int(rej)

    @property
    def size(self) -> int:
        """Bytes of the batches waiting."""
        return self._bytes

    @property
    def batches(self) -> int:
        """Batches waiting to be sent."""
        return self._batches

    @property
    def events(self) -> int:
        """Events in the batches waiting."""
        return self._events

    def fits(self, size: int) -> bool:
        """Whether a batch of ``size`` bytes would fit now (an empty spool takes any one)."""
        return self._batches == 0 or self._bytes + size <= self.max_bytes

    def put(self, body: bytes, events: int) -> bool:
        """Write a batch at the end; False (nothing written) when it does not fit."""
        with self._lock:
            if not self.fits(len(body)):
                return False
            self._db.execute(
                "INSERT INTO batches (body, events, created) VALUES (?, ?, ?)",
                (body, events, time.time()),
            )
            self._bytes += len(body)
            self._batches += 1
            self._events += events
            return True

    def oldest(self) -> Batch | None:
        """The batch to send next, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, body, events FROM batches ORDER BY id LIMIT 1"
            ).fetchone()
        return None if row is None else Batch(int(row[0]), bytes(row[1]), int(row[2]))

    def done(self, batch: Batch) -> None:
        """Delete a batch the server accepted."""
        with self._lock:
            self._forget(batch)

    def reject(self, batch: Batch, status: int, reason: str) -> None:
        """Move a batch the server refused to the rejected table, with its answer."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO rejected (body, events, created, rejected_at, status, reason)"
                    " SELECT body, events, created, ?, ?, ? FROM batches WHERE id = ?",
                    (time.time(), status, reason[:2000], batch.id),
                )
                self._db.execute("DELETE FROM batches WHERE id = ?", (batch.id,))
                self._rejected_bytes += len(batch.body)
                while self._rejected_bytes > self.max_rejected_bytes:
                    row = self._db.execute(
                        "SELECT id, LENGTH(body), events FROM rejected ORDER BY id LIMIT 1"
                    ).fetchone()
                    if row is None or row[0] is None:
                        break
                    self._db.execute("DELETE FROM rejected WHERE id = ?", (row[0],))
                    self._rejected_bytes -= int(row[1])
                    self.rejected_discarded += int(row[2])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._bytes -= len(batch.body)
            self._batches -= 1
            self._events -= batch.events

    def rejected(self, limit: int = 100) -> list[Rejected]:
        """The rejected batches, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, events, status, reason, rejected_at, body FROM rejected"
                " ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [Rejected(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], bytes(r[5])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _forget(self, batch: Batch) -> None:
        cur = self._db.execute("DELETE FROM batches WHERE id = ?", (batch.id,))
        if cur.rowcount:
            self._bytes -= len(batch.body)
            self._batches -= 1
            self._events -= batch.events
