"""The PostgreSQL store's connections: connecting with capped backoff, and the reader pool.

A server that goes away (a restart, a failover) breaks the store's connections. The call
that was using one fails and its caller retries later (the embedded pipeline buffers on
disk, a worker's envelope is redelivered by JetStream); the next call connects afresh, so
the store is never left broken. While the server does not answer, attempts are spaced by a
capped doubling delay with jitter (``uniform(c/2, c)``, ``c = min(cap, base * 2**n)`` after
the n-th failure) and calls in between fail at once with ``StoreUnavailable`` instead of each
waiting out a connect timeout. A read whose pooled connection turns out cut is made once
more on a new connection (reads are safe to repeat), and the other idle connections, from
before the outage too, are dropped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from indunet.core import IndunetError
from indunet.telemetry.sqlite_store import StoreClosed

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_S = 5  # libpq's connect_timeout: a server that does not answer fails fast
RETRY_BASE_S = 0.2
RETRY_CAP_S = 10.0
log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreUnavailable(IndunetError):
    """The time-series store's PostgreSQL does not answer now; retry later."""

    code = "store_unavailable"
    status = 503

    def headers(self) -> dict[str, str]:
        """Retry after two seconds."""
        return {"Retry-After": "2"}


class Link:
    """Opens connections to one server, spacing attempts while it does not answer."""

    def __init__(
        self,
        url: str,
        *,
        application_name: str = "indunet-telemetry",
        base: float = RETRY_BASE_S,
        cap: float = RETRY_CAP_S,
    ) -> None:
        import psycopg

        self.url = url
        self.base = base
        self.cap = cap
        self.failures = 0
        self._psycopg = psycopg
        self.operational = psycopg.OperationalError
        self._kwargs: dict[str, Any] = {}
        given = psycopg.conninfo.conninfo_to_dict(url)
        if "connect_timeout" not in given:
            self._kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in given:
            self._kwargs["application_name"] = application_name
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A new connection; ``StoreUnavailable`` when the server does not answer (or did not
        answer a moment ago: the next attempt waits for its turn)."""
        with self._lock:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise StoreUnavailable(
                    f"the telemetry store's database does not answer ({self.failures} attempts);"
                    f" next attempt in {wait:.1f} s"
                )
        try:
            conn = self._psycopg.connect(self.url, autocommit=autocommit, **self._kwargs)
        except self._psycopg.OperationalError as exc:
            with self._lock:
                self.failures += 1
                ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
                delay = random.uniform(ceiling / 2, ceiling)
                self._retry_at = time.monotonic() + delay
            # The server's address and error go to the log, not into answers to clients.
            log.warning(
                "telemetry store: PostgreSQL does not answer (%s); next attempt in %.1f s",
                str(exc).strip().replace("\n", " ")[:300],
                delay,
            )
            raise StoreUnavailable(
                "the telemetry store's database does not answer; retry in a moment"
            ) from exc
        with self._lock:
            self.failures, self._retry_at = 0, 0.0
        return conn


class Readers:
    """A small pool of autocommit connections for queries."""

    def __init__(self, link: Link, size: int) -> None:
        self.link = link
        self.idle: list[psycopg.Connection[Any]] = []
        self.slots = threading.BoundedSemaphore(size)
        self.lock = threading.Lock()
        self.closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one query or a few; back to the pool afterwards unless broken."""
        if not self.slots.acquire(timeout=60):
            raise StoreClosed("no PostgreSQL connection became free within 60 s")
        conn: psycopg.Connection[Any] | None = None
        try:
            with self.lock:
                if self.closed:
                    raise StoreClosed("the telemetry store is closed")
                conn = self.idle.pop() if self.idle else None
            if conn is None:
                conn = self.link.connect(autocommit=True)
            yield conn
        finally:
            if conn is not None:
                if conn.broken:
                    self._drop_idle()  # they are from before the outage too
                if conn.broken or conn.closed or self.closed:
                    conn.close()
                else:
                    with self.lock:
                        self.idle.append(conn)
            self.slots.release()

    def run(self, query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``query(conn)`` on a pooled connection; once more on a new one when the pooled
        one was cut; ``StoreUnavailable`` when the server is gone."""
        operational = self.link.operational
        for attempt in (1, 2):
            with self.connection() as conn:
                try:
                    return query(conn)
                except operational as exc:
                    if not conn.broken:
                        raise  # a statement timeout, say: the connection is fine
                    if attempt == 2:
                        raise StoreUnavailable(
                            f"the telemetry store's PostgreSQL went away during a query ({exc})"
                        ) from exc
        raise AssertionError("unreachable")

    def _drop_idle(self) -> None:
        with self.lock:
            stale, self.idle = self.idle, []
        for conn in stale:
            conn.close()

    def close(self) -> None:
        """Close the idle connections; refuse new ones."""
        with self.lock:
            self.closed = True
        self._drop_idle()
