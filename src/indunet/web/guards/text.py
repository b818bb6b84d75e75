"""Refusing JSON bodies whose strings are not Unicode text: lone UTF-16 surrogates.

JSON may spell a surrogate half alone (``"\\ud800"``); Python's parser accepts it and hands
on a ``str`` that cannot be encoded, so it used to fail deep inside (storing it, or even
writing the 422 answer) as a 500. ``SurrogateGuard`` reads JSON bodies that contain such an
escape and refuses them with ``400 invalid_input`` before the route sees them. Bodies without a
``\\uD8..``-``\\uDF..`` escape pass with one byte scan. Routes that parse with orjson (which
refuses surrogates itself) are skipped so that large batches are not read twice.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indunet.core import InvalidInput
from indunet.web.guards.limits import answer

#: A ``\uD800``-``\uDFFF`` escape (surrogate halves), preceded by an even number of backslashes.
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: Routes whose bodies are parsed with orjson, which refuses lone surrogates on its own.
SKIPPED = frozenset({"/api/v1/telemetry"})


def lone_surrogate(data: Any) -> str | None:
    """The first string in ``data`` (keys included) that holds a lone surrogate, else ``None``."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class SurrogateGuard:
    """ASGI middleware: refuse a JSON body that holds a lone surrogate with 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a JSON body, refuse it if it is not Unicode text, else replay it to the app."""
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD")
            or scope["path"] in SKIPPED
        ):
            await self.app(scope, receive, send)
            return
        kind = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                kind = value.split(b";")[0].strip().lower()
                break
        # FastAPI reads a body without a Content-Type as JSON too.
        if not (kind in (b"", b"application/json") or kind.endswith(b"+json")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        last: Message = {"type": "http.request", "body": b"", "more_body": False}
        while more:
            last = await receive()
            if last["type"] != "http.request":
                break
            chunks.append(last.get("body", b""))
            more = last.get("more_body", False)
        body = b"".join(chunks)
        if _SURROGATE_ESCAPE.search(body):
            bad = _bad_string(body)
            if bad is not None:
                shown = bad.encode("utf-8", "backslashreplace").decode("ascii", "replace")[:80]
                await answer(
                    send,
                    InvalidInput(
                        f'the JSON body holds a lone UTF-16 surrogate in "{shown}"; '
                        "strings must be Unicode text (send surrogate pairs, or UTF-8)"
                    ),
                )
                return
        replayed = False
        disconnect = last if last["type"] != "http.request" else None

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return disconnect or await receive()

        await self.app(scope, replay, send)


def _bad_string(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None  # not JSON: the route says so
    return lone_surrogate(data)
