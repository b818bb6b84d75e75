"""Listing the handles under a prefix: one page, or the whole list walked in batches.

Handle.Net's ``GET /api/handles?prefix=…`` answers the whole list unless both ``page`` and
``pageSize`` are given. A whole list here is never built in memory: ``Listing`` counts first
(and refuses a list longer than ``MAX_WHOLE_LIST`` before anything is sent), then walks the
prefix's keys in order, ``BATCH`` handles per query, so a caller can stream them. A handle
registered or deleted during the walk may or may not appear, as with any keyset walk; the
answer's count is the number of handles actually sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from indunet.ids.errors import RC, HandleError
from indunet.ids.store import HandleStore
from indunet.ids.syntax import handle as hdl

#: Most handles one unpaged listing answers; more must be asked for page by page.
MAX_WHOLE_LIST = 1_000_000
#: Handles read per query while walking a whole list.
BATCH = 5_000


class ListTooLarge(HandleError):
    """More handles than one unpaged listing answers: ask page by page."""

    rc = RC.ERROR

    def __init__(self, prefix: str, total: int) -> None:
        super().__init__(
            f"{total} handles are registered under {prefix}; a listing without paging answers "
            f"at most {MAX_WHOLE_LIST}: ask page by page with page= and pageSize=",
            reason="list_too_large",
            params={"prefix": prefix, "total": total, "max": MAX_WHOLE_LIST},
        )
        self.status = 400


def list_prefix(text: str) -> str:
    """The normalised prefix to list: ``88.100`` or its prefix handle ``0.NA/88.100``."""
    head, sep, rest = text.partition("/")
    if sep and hdl.normalise_prefix(head) == hdl.PREFIX_HANDLE_PREFIX:
        text = rest
    return hdl.normalise_prefix(hdl.validate_prefix(text))


@dataclass(frozen=True, slots=True)
class Listing:
    """The handles under ``prefix``, counted (``total``) and ready to walk in key order."""

    store: HandleStore
    prefix: str
    total: int

    @classmethod
    def start(cls, store: HandleStore, prefix: str) -> Listing:
        """Count the handles under ``prefix``; refuse with ``ListTooLarge`` above the cap."""
        total = store.count_under(prefix)
        if total > MAX_WHOLE_LIST:
            raise ListTooLarge(prefix, total)
        return cls(store, prefix, total)

    def batches(self, batch: int | None = None) -> Iterator[list[str]]:
        """The handles, ``batch`` (default ``BATCH``) per list; each step runs one query
        (call it off the event loop).

        Stops with ``ListTooLarge`` if handles registered during the walk push the list past
        the cap, so a list is never cut short silently.
        """
        size = batch or BATCH
        after, sent = "", 0
        while True:
            rows = self.store.handles_after(self.prefix, after, size)
            if not rows:
                return
            sent += len(rows)
            if sent > MAX_WHOLE_LIST:
                raise ListTooLarge(self.prefix, sent)
            after = rows[-1][0]
            yield [handle for _, handle in rows]
            if len(rows) < size:
                return
