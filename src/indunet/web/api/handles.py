"""The Handle.Net-compatible REST API: ``/api/handles/{handle}`` on the front node and on
``/nodes/{name}/api/handles/{handle}`` for each node this process runs.

These are plain Starlette routes, not FastAPI ones: resolution is the hottest path of the
system, and a cached answer is served as stored bytes with no validation layer in between.
``CachedAnswers`` goes one step further for the front node's cache hits: it answers them as
ASGI middleware, before the framework's exception, body-limit and routing layers (which cost
about a third of the throughput, see docs/benchmarks.md).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from indunet.core import IndunetError
from indunet.ids import (
    HTTP_STATUS,
    RC,
    Answer,
    HandleError,
    InvalidValue,
    Node,
    Principal,
    SitePolicy,
    SiteRefused,
)
from indunet.ids.syntax.handle import upper_ascii
from indunet.ids.transport import handle_path
from indunet.ids.values import MAX_INDEX
from indunet.ids.valuetypes import TypeFilter
from indunet.web.api.handle_list import list_response, paging
from indunet.web.api.handle_put import read_put
from indunet.web.auth import SESSION_COOKIE, client_address, write_principal
from indunet.web.state import AppState

JSON = "application/json"
#: Largest Handle PUT body: a full record (256 values of at most 64 KiB, in JSON) fits.
MAX_PUT_BYTES = 20 * 1024 * 1024


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def error_response(exc: IndunetError, handle: str) -> Response:
    """An error in Handle REST shape; core errors get the nearest response code."""
    if isinstance(exc, HandleError):
        rc = int(exc.rc)
    else:
        rc = {
            401: RC.AUTHENTICATION_FAILED,
            403: RC.NOT_AUTHORIZED,
            404: RC.HANDLE_NOT_FOUND,
            409: RC.HANDLE_ALREADY_EXISTS,
            400: RC.INVALID_VALUE,
        }.get(exc.status, RC.ERROR)
    status = exc.status
    headers = {"WWW-Authenticate": 'Basic realm="handle"'} if status == 401 else exc.headers()
    return _json(status, {"responseCode": rc, "handle": handle, "message": exc.message}, headers)


def _int(name: str, raw: str, *, low: int, high: int) -> int:
    """A whole number in ``low..high`` from a query parameter, or a 400 naming it."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        raise InvalidValue(f"{name}={raw[:40]!r} is not a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise InvalidValue(f"{name}={value} is out of range; it must be {low} to {high}")
    return value


def _ints(request: Request, name: str) -> list[int]:
    return [
        _int(name, part, low=1, high=MAX_INDEX)
        for raw in request.query_params.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]


def _flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    return default if raw is None else raw.lower() in ("true", "1", "yes")


def _redirect_site(answer: Answer, policy: SitePolicy) -> str | None:
    """The first site of a referral that passes the destination policy (never another)."""
    for site in answer.referral.sites if answer.referral else ():
        try:
            policy.check_url(site.url)
        except SiteRefused:
            continue
        return site.url
    return None


def answer_response(answer: Answer, request: Request, policy: SitePolicy, asked: str) -> Response:
    """Shape a node's answer: filter by ``type``/``index``, redirect referrals.

    ``handle`` in the body is ``asked``, the handle as the client wrote it (case and Unicode
    form), as Handle.Net answers; the lookup itself ignores both. A referral is an HTTP
    redirect only to a site that passes the destination policy; a referral with none answers
    502 ``site unavailable``, so a node mount is no open redirect.
    """
    if answer.rc == RC.SUCCESS:
        types = TypeFilter(request.query_params.getlist("type"))
        indices = set(_ints(request, "index"))
        values = answer.public_values()
        if types or indices:
            values = [v for v in values if types.selects(v.type) or v.index in indices]
            if not values:
                return _json(
                    200,
                    {"responseCode": int(RC.VALUES_NOT_FOUND), "handle": asked, "values": []},
                )
        return _json(
            200,
            {"responseCode": 1, "handle": asked, "values": [v.to_json() for v in values]},
        )
    body = answer.to_json()
    body["handle"] = asked
    status = HTTP_STATUS.get(answer.rc, 500)
    if answer.referral is not None and answer.referral.sites:
        site = _redirect_site(answer, policy)
        if site is None:
            return _json(
                502,
                {
                    "responseCode": int(RC.ERROR),
                    "handle": asked,
                    "code": "site_unavailable",
                    "message": f"site unavailable: no usable site for prefix "
                    f"{answer.referral.prefix}",
                },
            )
        location = site + handle_path(asked)
        if request.url.query:
            location += "?" + request.url.query
        return _json(status, body, {"Location": location})
    return _json(status, body)


_API = "/api/handles/"
_JSON_HEADER = (b"content-type", JSON.encode())


class CachedAnswers:
    """ASGI middleware: ``GET /api/handles/<handle>`` without a query, answered from the front
    node's caches when they hold the handle; everything else goes on to ``app``.

    First the node's own answers (the records it holds, ``Node.cached_body``), then what its
    resolver cached from other nodes. It gives the same bytes, status and headers as the
    route does (the ``handle`` echoed as asked), and counts the resolution in the front
    node's statistics.
    """

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.front = state.hierarchy.front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a cache hit directly; pass anything else on."""
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and not scope.get("root_path")
        ):
            t0 = perf_counter()
            path: str = scope["path"]
            if path.startswith(_API) and len(path) > len(_API):
                asked = path[len(_API) :]
                key = upper_ascii(asked)
                front = self.front
                body = front.cached_body(key, asked)
                if body is None and front.resolver is not None:
                    body = front.resolver.cached_body(key, asked)
                if body is not None:
                    front.stats.resolved(perf_counter() - t0)
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [_JSON_HEADER, (b"content-length", b"%d" % len(body))],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


class HandleApi:
    """Route handlers bound to the app state."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.front = state.hierarchy.front
        self.nodes = state.hierarchy.nodes
        self.policy = state.hierarchy.policy

    def _node(self, request: Request) -> tuple[Node, bool]:
        name = request.path_params.get("node")
        if name is None:
            return self.front, True
        node = self.nodes.get(name)
        if node is None:
            raise HandleError(
                f"this process runs no node {name!r}; it runs {', '.join(self.nodes)}",
                rc=RC.SERVER_NOT_RESPONSIBLE,
            )
        return node, False

    async def get(self, request: Request) -> Response:
        """Resolve one handle."""
        text = request.path_params["handle"]
        try:
            node, recurse = self._node(request)
            resolver = node.resolver
            if not request.scope["query_string"]:
                t0 = perf_counter()
                key = upper_ascii(text)
                body = node.cached_body(key, text)
                if body is None and resolver is not None and recurse:
                    body = resolver.cached_body(key, text)
                if body is not None:
                    node.stats.resolved(perf_counter() - t0)
                    return Response(body, media_type=JSON)
            fresh = _flag(request, "auth", False)
            answer = await node.resolve(text, recurse=recurse and resolver is not None, fresh=fresh)
            return answer_response(answer, request, self.policy, text)
        except IndunetError as exc:
            return error_response(exc, text)

    async def _principal(self, request: Request, node: Node) -> Principal:
        """Who is writing: Basic, Bearer or console session (checked off the event loop)."""
        return await run_in_threadpool(
            write_principal,
            self.state.engine,
            node,
            request.headers.get("authorization"),
            request.cookies.get(SESSION_COOKIE),
            logins=self.state.logins,
            source=client_address(request),
        )

    async def put(self, request: Request) -> Response:
        """Create a handle, replace it, or add/replace some of its values."""
        text = request.path_params["handle"]
        try:
            node, _ = self._node(request)
            principal = await self._principal(request, node)
            raw = await request.body()  # bounded by guards.BodyLimit (MAX_PUT_BYTES)
            various = request.query_params.get("index") == "various"
            body = read_put(
                request.headers.get("content-type", ""),
                raw,
                text,
                "various" if various else (_ints(request, "index") or None),
            )
            if _flag(request, "mintNewSuffix", False):
                text = node.mint(text)
            _, created = await run_in_threadpool(
                node.put,
                text,
                body.values,
                principal,
                indices=body.indices,
                overwrite=_flag(request, "overwrite", True),
            )
            # As Handle.Net: the handle as the client wrote it (or the one minted for it).
            return _json(201 if created else 200, {"responseCode": 1, "handle": text})
        except IndunetError as exc:
            return error_response(exc, text)

    async def delete(self, request: Request) -> Response:
        """Delete a handle, or some of its values (``index=``)."""
        text = request.path_params["handle"]
        try:
            node, _ = self._node(request)
            principal = await self._principal(request, node)
            indices = _ints(request, "index") or None
            await run_in_threadpool(node.delete, text, principal, indices=indices)
            return _json(200, {"responseCode": 1, "handle": text})
        except IndunetError as exc:
            return error_response(exc, text)

    async def list(self, request: Request) -> Response:
        """List the handles under ``prefix=``: a page, or the whole list streamed."""
        prefix = request.query_params.get("prefix", "")
        try:
            node, _ = self._node(request)
            if not prefix:
                raise HandleError(
                    "give the prefix to list, e.g. ?prefix=88.100.1", rc=RC.INVALID_HANDLE
                )
            pages = paging(request.query_params)
            principal = await self._principal(request, node)
            return await list_response(node, principal, prefix, pages)
        except IndunetError as exc:
            return error_response(exc, prefix)


def routes(state: AppState) -> list[Route]:
    """The Handle API routes, front node first."""
    api = HandleApi(state)
    out = []
    for base in ("", "/nodes/{node}"):
        out.append(Route(f"{base}/api/handles", api.list, methods=["GET"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.get, methods=["GET"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.put, methods=["PUT"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.delete, methods=["DELETE"]))
    return out


def mount(app: Any, state: AppState) -> None:
    """The Handle API on ``app``: its routes first (the hot path must not walk the FastAPI
    routes) and the cache middleware that answers the front node's hits without the stack."""
    app.router.routes[:0] = routes(state)
    app.add_middleware(CachedAnswers, state=state)
