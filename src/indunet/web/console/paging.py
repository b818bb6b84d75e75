"""Search, sort and paging of every console list, done on the server.

A list page reads ``Paging`` from the query string (``q``, ``page``, ``size``, ``sort``,
``desc``), asks its service for one page (``offset``/``limit`` plus the total), and renders
``PageOf`` with the ``pager`` and ``search`` macros of ``_paging.html``. Hostile values never
fail: text is cut to ``MAX_QUERY`` characters, numbers are clamped, an unknown sort key falls
back to the list's default, so a list answers 200 with what it could read. A page past the
last one raises ``PastLastPage`` when its ``PageOf`` is made, and the console answers it with
a redirect to the last page (``last_page_redirect``), so every list shows its last page with a
true label instead of "page 100000 of 152" over an empty table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

T = TypeVar("T")

SIZES = (20, 50, 100)
MAX_QUERY = 100
MAX_PAGE = 100_000
#: Query parameters the paging owns; every other one (the list's filters) is kept in links.
OWN = ("q", "page", "size", "sort", "desc")


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return max(low, min(high, value))


@dataclass(frozen=True, slots=True)
class Paging:
    """What one list request asks for: search text, page (from 1), page size, sort order."""

    q: str = ""
    page: int = 1
    size: int = SIZES[0]
    sort: str = ""
    desc: bool = False

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.size

    @property
    def limit(self) -> int:
        """Rows to read."""
        return self.size

    @property
    def like(self) -> str:
        """The search text as an SQL ``LIKE`` pattern (``%`` and ``_`` escaped with ``\\``)."""
        text = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{text}%"

    def matches(self, *texts: str | None) -> bool:
        """Whether any of ``texts`` contains the search text, case-insensitively (for lists
        that live in memory); an empty search matches everything."""
        if not self.q:
            return True
        needle = self.q.casefold()
        return any(needle in t.casefold() for t in texts if t)

    def at(self, page: int) -> Paging:
        """The same request on another page."""
        return replace(self, page=max(1, page))


def paging_of(
    request: Request,
    *,
    sorts: Sequence[str] = (),
    default_sort: str = "",
    default_desc: bool = False,
    sizes: Sequence[int] = SIZES,
) -> Paging:
    """The paging of ``request``; ``sorts`` are the sort keys this list allows."""
    params = request.query_params
    size = _int(params.get("size"), sizes[0], sizes[0], sizes[-1])
    if size not in sizes:
        size = min(sizes, key=lambda s: abs(s - size))
    sort = params.get("sort", "")
    if sort not in sorts:
        sort = default_sort
    desc_text = params.get("desc")
    desc = default_desc if desc_text is None or sort != params.get("sort") else desc_text == "1"
    return Paging(
        q=(params.get("q") or "").strip()[:MAX_QUERY],
        page=_int(params.get("page"), 1, 1, MAX_PAGE),
        size=size,
        sort=sort,
        desc=desc,
    )


class PastLastPage(Exception):
    """A list was asked for a page after its last one; ``last`` is that last page."""

    def __init__(self, last: int) -> None:
        super().__init__(f"the list ends at page {last}")
        self.last = last


def last_page_redirect(request: Request, exc: Exception) -> Response:
    """The answer to ``PastLastPage``: the same list (filters kept) on its last page."""
    assert isinstance(exc, PastLastPage)
    return RedirectResponse(link(request, page=exc.last), status_code=303)


@dataclass(frozen=True, slots=True)
class PageOf(Generic[T]):
    """One page of a list: its rows, how many rows match in all, and the request.

    Made for a page after the last one, it raises ``PastLastPage``."""

    items: list[T]
    total: int
    paging: Paging

    def __post_init__(self) -> None:
        if self.paging.page > self.pages:
            raise PastLastPage(self.pages)

    @property
    def pages(self) -> int:
        """How many pages the matching rows fill (at least 1)."""
        return max(1, -(-self.total // self.paging.size))

    @property
    def first(self) -> int:
        """The number of this page's first row (0 when the page is empty)."""
        return self.paging.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        """The number of this page's last row (0 when the page is empty)."""
        return self.paging.offset + len(self.items) if self.items else 0

    @property
    def has_prev(self) -> bool:
        """Whether there is a page before."""
        return self.paging.page > 1

    @property
    def has_next(self) -> bool:
        """Whether there is a page after."""
        return self.paging.page < self.pages


def page_of(items: Sequence[T], paging: Paging) -> PageOf[T]:
    """Cut an in-memory list (already searched and sorted) to ``paging``'s page."""
    return PageOf(list(items[paging.offset : paging.offset + paging.limit]), len(items), paging)


def link(request: Request, **changes: object) -> str:
    """The current path and query with ``changes`` applied (``None`` drops a parameter);
    the list's own filters stay. Changing anything but ``page`` goes back to page 1."""
    params = {k: v for k, v in request.query_params.items()}
    if "page" not in changes:
        params.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    path = getattr(request.state, "list_path", None) or request.url.path  # pages.list_path
    return path + (f"?{query}" if query else "")


def sort_link(request: Request, paging: Paging, key: str) -> str:
    """The link a column header sorts by: ``key`` ascending, or reversed if already sorted by it."""
    desc = "0" if paging.sort == key and paging.desc else "1" if paging.sort == key else "0"
    return link(request, sort=key, desc=desc)


__all__ = [
    "OWN",
    "SIZES",
    "PageOf",
    "Paging",
    "PastLastPage",
    "last_page_redirect",
    "link",
    "page_of",
    "paging_of",
    "sort_link",
]
