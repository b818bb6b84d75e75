"""``GET /api/handles?prefix=…``: one page of a prefix's handles, or the whole list streamed.

As in Handle.Net, paging applies when ``page`` or ``pageSize`` is given (``page`` counts from
0; ``pageSize=0`` answers the count alone). Without either, the whole list is streamed in
batches (``ids.listing``): a list above ``MAX_WHOLE_LIST`` is refused with 400 before anything
is sent, and a walk that fails part-way ends the connection without closing the JSON, so a
client can never take a cut list for a whole one. The streamed answer puts ``totalCount``
after ``handles``: it is the number of handles sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from indunet.ids import InvalidValue, Node, Principal
from indunet.ids.listing import Listing
from indunet.ids.values import MAX_INDEX

JSON = "application/json"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000


def _whole(name: str, raw: str, high: int) -> int:
    """A whole number in ``0..high`` from a query parameter, or a 400 naming it."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        raise InvalidValue(
            f"{name}={raw[:40]!r} is not a whole number from 0 to {high}",
            reason="list_param",
            params={"name": name, "max": high},
        )
    value = int(text)
    if value > high:
        raise InvalidValue(
            f"{name}={value} is out of range; it must be 0 to {high}",
            reason="list_param",
            params={"name": name, "max": high},
        )
    return value


def paging(query: Mapping[str, str]) -> tuple[int, int] | None:
    """``(page, pageSize)`` when either is given (the other defaults to 0 or 100), or
    ``None`` for the whole list. Negative, empty or non-numeric values are refused."""
    page, size = query.get("page"), query.get("pageSize")
    if page is None and size is None:
        return None
    return (
        _whole("page", page, MAX_INDEX) if page is not None else 0,
        _whole("pageSize", size, MAX_PAGE_SIZE) if size is not None else DEFAULT_PAGE_SIZE,
    )


async def list_response(
    node: Node, principal: Principal, prefix: str, pages: tuple[int, int] | None
) -> Response:
    """The listing answer: a page as one JSON body, the whole list as a stream."""
    if pages is not None:
        page, size = pages
        total, handles = await run_in_threadpool(
            node.list_handles, prefix, principal, page=page, page_size=size
        )
        body: dict[str, Any] = {
            "responseCode": 1,
            "prefix": prefix,
            "totalCount": str(total),
            "page": page,
            "pageSize": size,
            "handles": handles,
        }
        return Response(orjson.dumps(body), media_type=JSON)
    listing = await run_in_threadpool(node.listing, prefix, principal)
    return StreamingResponse(_stream(listing, prefix), media_type=JSON)


async def _stream(listing: Listing, prefix: str) -> AsyncIterator[bytes]:
    """The whole list as JSON, one batch per chunk, each batch read off the event loop."""
    yield b'{"responseCode":1,"prefix":' + orjson.dumps(prefix) + b',"handles":['
    batches = listing.batches()
    sent = 0
    while (batch := await run_in_threadpool(next, batches, None)) is not None:
        yield (b"," if sent else b"") + orjson.dumps(batch)[1:-1]
        sent += len(batch)
    yield b'],"totalCount":"%d"}' % sent
