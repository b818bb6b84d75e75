"""The Handle.Net-compatible REST API: ``/api/handles/{handle}`` on the front node and on
``/nodes/{name}/api/handles/{handle}`` for each node this process runs.

These are plain Starlette routes, not FastAPI ones: resolution is the hottest path of the
system, and a cached answer is served as stored bytes with no validation layer in between.
``CachedAnswers`` goes one step further for the front node's cache hits: it answers them as
ASGI middleware, before the framework's exception, body-limit and routing layers (which cost
about a third of the throughput, see docs/benchmarks.md).

Every resolution answered (GET or POST, cached or not, found or not) is noted for the
security platform as an ``ids.events.RESOLUTIONS`` record: the peer's address, the handle as
asked, the response code and ``http`` — one tuple appended to a list (``core.signals``).
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from indunet.core import IndunetError
from indunet.core.signals import Signal
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
from indunet.ids.events import MAX_HANDLE, RESOLUTIONS
from indunet.ids.reading import holds, read_values
from indunet.ids.syntax.handle import upper_ascii
from indunet.ids.transport import handle_path
from indunet.ids.values import MAX_INDEX
from indunet.ids.valuetypes import TypeFilter
from indunet.web.api.handle_http import flag, shaped
from indunet.web.api.handle_list import list_response, paging
from indunet.web.api.handle_put import ProtocolError, read_put
from indunet.web.auth import SESSION_COOKIE, client_address, peer_address, write_principal
from indunet.web.state import AppState

JSON = "application/json"
#: Largest Handle PUT body: a full record (256 values of at most 64 KiB, in JSON) fits.
MAX_PUT_BYTES = 20 * 1024 * 1024
#: Largest body of a resolution by POST (its parameters) and how many values it may give.
MAX_POST_BYTES = 64 * 1024
MAX_POST_PARAMS = 1000


class Params:
    """A request's parameters: the query's, then those a POST gives in its body (JSON object
    or form), as Handle.Net's servlet reads them (the query wins for one value, lists join)."""

    def __init__(self, query: QueryParams, extra: Mapping[str, list[str]] | None = None) -> None:
        self.query = query
        self.extra = extra or {}

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or ``None``."""
        found = self.query.get(name)
        if found is not None:
            return found
        more = self.extra.get(name)
        return more[0] if more else None

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name``."""
        return [*self.query.getlist(name), *self.extra.get(name, ())]

    def __bool__(self) -> bool:
        return bool(self.query) or bool(self.extra)


def body_params(content_type: str, raw: bytes) -> dict[str, list[str]]:
    """The parameters a resolution by POST gives in its body: a JSON object whose members are
    strings, numbers, booleans or arrays of them, or a form; any other body is ignored, as
    Handle.Net ignores it. A body that says it is JSON and is not an object is refused."""
    kind = content_type.split(";")[0].strip().lower()
    if not raw.strip():
        return {}
    if kind == "application/x-www-form-urlencoded":
        out: dict[str, list[str]] = {}
        try:
            pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=MAX_POST_PARAMS)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(
                f"the form body cannot be read: {exc}", reason="post_unreadable"
            ) from None
        for name, value in pairs:
            out.setdefault(name, []).append(value)
        return out
    if kind != JSON:
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the body is not JSON: {exc}", reason="post_unreadable") from None
    if not isinstance(doc, dict):
        raise ProtocolError(
            "the body must be a JSON object of parameters", reason="post_not_object"
        )
    out = {}
    count = 0
    for name, value in doc.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, bool):
                text = "true" if item else "false"
            elif isinstance(item, str | int | float):
                text = str(item)
            else:
                raise ProtocolError(
                    f"parameter {name[:40]!r} must be a string, a number, a boolean or a list "
                    "of them",
                    reason="post_param_kind",
                    params={"name": name[:40]},
                )
            count += 1
            if count > MAX_POST_PARAMS:
                raise ProtocolError(
                    f"the body gives more than {MAX_POST_PARAMS} parameter values",
                    reason="post_too_many",
                    params={"max": MAX_POST_PARAMS},
                )
            out.setdefault(name, []).append(text)
    return out


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def rc_of(exc: IndunetError) -> int:
    """The Handle response code of an error; core errors get the nearest one."""
    if isinstance(exc, HandleError):
        return int(exc.rc)
    return {
        401: RC.AUTHENTICATION_FAILED,
        403: RC.NOT_AUTHORIZED,
        404: RC.HANDLE_NOT_FOUND,
        409: RC.HANDLE_ALREADY_EXISTS,
        400: RC.INVALID_VALUE,
    }.get(exc.status, RC.ERROR)


def error_response(exc: IndunetError, handle: str) -> Response:
    """An error in Handle REST shape; core errors get the nearest response code."""
    rc = rc_of(exc)
    status = exc.status
    response = _json(status, {"responseCode": rc, "handle": handle, "message": exc.message})
    if status == 401:  # both schemes offered, as Handle.Net offers them
        response.headers.append("WWW-Authenticate", 'Basic realm="handle"')
        if "WWW-Authenticate" in exc.headers():
            response.headers.append("WWW-Authenticate", exc.headers()["WWW-Authenticate"])
    else:
        response.headers.update(exc.headers())
    return response


def _int(name: str, raw: str, *, low: int, high: int) -> int:
    """A whole number in ``low..high`` from a query parameter, or a 400 naming it."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        raise InvalidValue(f"{name}={raw[:40]!r} is not a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise InvalidValue(f"{name}={value} is out of range; it must be {low} to {high}")
    return value


def _ints(params: Params | QueryParams, name: str) -> list[int]:
    return [
        _int(name, part, low=1, high=MAX_INDEX)
        for raw in params.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]


def _flag(params: Params | QueryParams, name: str, default: bool) -> bool:
    """A boolean parameter as Handle.Net reads one (present and empty, ``true`` or ``yes``;
    Indunet also takes ``1``), or ``default`` when absent."""
    raw = params.get(name)
    return default if raw is None else (flag(raw) or raw == "1")


def _redirect_site(answer: Answer, policy: SitePolicy) -> str | None:
    """The first site of a referral that passes the destination policy (never another)."""
    for site in answer.referral.sites if answer.referral else ():
        try:
            policy.check_url(site.url)
        except SiteRefused:
            continue
        return site.url
    return None


def values_response(asked: str, values: list[Any], filtered: bool) -> Response:
    """A successful resolution's body: ``values`` (already chosen), or response code 200
    (values not found, HTTP 200 as Handle.Net answers it) when a filter left none."""
    if filtered and not values:
        return _json(200, {"responseCode": int(RC.VALUES_NOT_FOUND), "handle": asked, "values": []})
    return _json(200, {"responseCode": 1, "handle": asked, "values": [v.to_json() for v in values]})


def answer_response(
    answer: Answer, request: Request, policy: SitePolicy, asked: str, params: Params | None = None
) -> Response:
    """Shape a node's answer: filter by ``type``/``index``, redirect referrals.

    ``handle`` in the body is ``asked``, the handle as the client wrote it (case and Unicode
    form), as Handle.Net answers; the lookup itself ignores both. A referral is an HTTP
    redirect only to a site that passes the destination policy; a referral with none answers
    502 ``site unavailable``, so a node mount is no open redirect.
    """
    query = params if params is not None else Params(request.query_params)
    if answer.rc == RC.SUCCESS:
        types = TypeFilter(query.getlist("type"))
        indices = set(_ints(query, "index"))
        values = answer.public_values()
        if types or indices:
            values = [v for v in values if types.selects(v.type) or v.index in indices]
        return values_response(asked, values, bool(types or indices))
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


def _has_authorization(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope["headers"])


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
        self.resolutions = state.signals.of(RESOLUTIONS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a cache hit directly; pass anything else on."""
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and not scope.get("root_path")
            and not _has_authorization(scope)  # credentials may read restricted values
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
                    client = scope.get("client")  # web.auth.peer_address, inlined
                    self.resolutions.add(
                        (client[0] if client else None, asked[:MAX_HANDLE], 1, "http")
                    )
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
        self.resolutions: Signal = state.signals.of(RESOLUTIONS)

    def node_of(self, request: Request) -> tuple[Node, bool]:
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
        params = Params(request.query_params)
        try:
            node, recurse = self.node_of(request)
            resolver = node.resolver
            if not request.scope["query_string"] and not _has_authorization(request.scope):
                t0 = perf_counter()
                key = upper_ascii(text)
                body = node.cached_body(key, text)
                if body is None and resolver is not None and recurse:
                    body = resolver.cached_body(key, text)
                if body is not None:
                    node.stats.resolved(perf_counter() - t0)
                    self.resolutions.add(
                        (peer_address(request.scope), text[:MAX_HANDLE], 1, "http")
                    )
                    return Response(body, media_type=JSON)
            response, rc = await self._resolve(request, node, recurse, text, params)
        except IndunetError as exc:
            response, rc = error_response(exc, text), rc_of(exc)
        self.resolutions.add((peer_address(request.scope), text[:MAX_HANDLE], rc, "http"))
        return shaped(response, params)

    async def post(self, request: Request) -> Response:
        """Resolve one handle with its parameters in the body (Handle.Net's POST)."""
        text = request.path_params["handle"]
        params = Params(request.query_params)
        try:
            raw = await request.body()  # bounded by guards.BodyLimit (MAX_POST_BYTES)
            params = Params(
                request.query_params, body_params(request.headers.get("content-type", ""), raw)
            )
            node, recurse = self.node_of(request)
            response, rc = await self._resolve(request, node, recurse, text, params)
        except IndunetError as exc:
            response, rc = error_response(exc, text), rc_of(exc)
        self.resolutions.add((peer_address(request.scope), text[:MAX_HANDLE], rc, "http"))
        return shaped(response, params)

    async def _resolve(
        self, request: Request, node: Node, recurse: bool, text: str, params: Params
    ) -> tuple[Response, int]:
        """Resolution with ``params``: public values through the resolver and its cache, or,
        with credentials and not ``publicOnly``, the values the caller may read from the
        node's own store. A JSONP answer (``callback``) is always public-only. Returns the
        answer and its response code."""
        authorization = request.headers.get("authorization")
        public = params.get("publicOnly")
        public_only = params.get("callback") is not None or (
            _flag(params, "publicOnly", False) if public is not None else not authorization
        )
        # Held elsewhere, only its public values can be had, by resolution (as without
        # credentials, which this node could not check anyway).
        if not public_only and holds(node, text):
            principal = await self._reader(request, node, authorization)
            types = TypeFilter(params.getlist("type"))
            indices = set(_ints(params, "index"))
            _, values = await run_in_threadpool(
                read_values, node, text, principal, types=types, indices=indices
            )
            # The answer echoes the handle as asked, as every answer does.
            return values_response(text, values, bool(types or indices)), RC.SUCCESS
        fresh = _flag(params, "auth", False)
        resolver = node.resolver
        answer = await node.resolve(text, recurse=recurse and resolver is not None, fresh=fresh)
        return answer_response(answer, request, self.policy, text, params), int(answer.rc)

    async def _reader(
        self, request: Request, node: Node, authorization: str | None
    ) -> Principal | None:
        """Who reads restricted values: the ``Authorization`` header's identity, never the
        console's cookie (a page of another site could make a browser send that)."""
        if not authorization:
            return None
        return await run_in_threadpool(
            write_principal,
            self.state.engine,
            node,
            authorization,
            None,
            logins=self.state.logins,
            source=client_address(request),
            sessions=self.state.handle_sessions,
        )

    async def principal_of(self, request: Request, node: Node) -> Principal:
        """Who is writing: Basic, Bearer or console session (checked off the event loop)."""
        return await run_in_threadpool(
            write_principal,
            self.state.engine,
            node,
            request.headers.get("authorization"),
            request.cookies.get(SESSION_COOKIE),
            logins=self.state.logins,
            source=client_address(request),
            sessions=self.state.handle_sessions,
        )

    async def put(self, request: Request) -> Response:
        """Create a handle, replace it, or add/replace some of its values."""
        text = request.path_params["handle"]
        try:
            node, _ = self.node_of(request)
            principal = await self.principal_of(request, node)
            raw = await request.body()  # bounded by guards.BodyLimit (MAX_PUT_BYTES)
            various = request.query_params.get("index") == "various"
            body = read_put(
                request.headers.get("content-type", ""),
                raw,
                text,
                "various" if various else (_ints(request.query_params, "index") or None),
            )
            if _flag(request.query_params, "mintNewSuffix", False):
                text = node.mint(text)
            _, created = await run_in_threadpool(
                node.put,
                text,
                body.values,
                principal,
                indices=body.indices,
                overwrite=_flag(request.query_params, "overwrite", True),
            )
            # As Handle.Net: the handle as the client wrote it (or the one minted for it).
            answer = _json(201 if created else 200, {"responseCode": 1, "handle": text})
            return shaped(answer, request.query_params)
        except IndunetError as exc:
            return shaped(error_response(exc, text), request.query_params)

    async def delete(self, request: Request) -> Response:
        """Delete a handle, or some of its values (``index=``)."""
        text = request.path_params["handle"]
        try:
            node, _ = self.node_of(request)
            principal = await self.principal_of(request, node)
            indices = _ints(request.query_params, "index") or None
            await run_in_threadpool(node.delete, text, principal, indices=indices)
            return shaped(_json(200, {"responseCode": 1, "handle": text}), request.query_params)
        except IndunetError as exc:
            return shaped(error_response(exc, text), request.query_params)

    async def list(self, request: Request) -> Response:
        """List the handles under ``prefix=``: a page, or the whole list streamed."""
        prefix = request.query_params.get("prefix", "")
        try:
            node, _ = self.node_of(request)
            if not prefix:
                raise HandleError(
                    "give the prefix to list, e.g. ?prefix=88.100.1", rc=RC.INVALID_HANDLE
                )
            pages = paging(request.query_params)
            principal = await self.principal_of(request, node)
            listed = await list_response(node, principal, prefix, pages)
            if isinstance(listed, StreamingResponse):  # the whole list: sent as it is read
                return listed
            return shaped(listed, request.query_params)
        except IndunetError as exc:
            return shaped(error_response(exc, prefix), request.query_params)


def routes(state: AppState, api: HandleApi | None = None) -> list[Route]:
    """The Handle API routes, front node first."""
    api = api or HandleApi(state)
    out = []
    for base in ("", "/nodes/{node}"):
        out.append(Route(f"{base}/api/handles", api.list, methods=["GET"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.get, methods=["GET"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.post, methods=["POST"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.put, methods=["PUT"]))
        out.append(Route(f"{base}/api/handles/{{handle:path}}", api.delete, methods=["DELETE"]))
    return out
