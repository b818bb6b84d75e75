"""Handle.Net's ``/api/site`` and ``/api/prefixes``, on the front node and each node mount.

``GET /api/site`` answers the node's site information as Handle.Net's ``SiteServlet`` does
(``GsonUtility``'s shape): one server with the node's HTTP(S) interface and, when the Handle
protocol port is on, its UDP and TCP interfaces; the ``domain`` and ``path`` attributes name
the URL (Indunet publishes sites as URLs). Nodes carry no server key, so ``publicKey`` is
empty, and answers are not signed.

``GET /api/prefixes`` lists the prefixes the node is home to (its allocations), as
``0.NA/<prefix>`` handles, to a caller who authenticates (Handle.Net's list-NAs needs an
authenticated session too): a platform admin sees them all, an enterprise its own, a prefix
identity its prefix and those under it. ``page``/``pageSize`` page as in the handle list.
Homing and unhoming (POST, DELETE) are not supported: a prefix is allocated to a verified
enterprise (``indunet prefix allocate``, the console), so they answer 501, response code 5.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from indunet.core import IndunetError
from indunet.ids import HandleError, Node, Principal
from indunet.ids.prefixes import list_allocations
from indunet.ids.syntax import handle as hdl
from indunet.ids.wire import codec
from indunet.web.api.handle_http import shaped
from indunet.web.api.handle_list import paging
from indunet.web.api.handles import HandleApi, error_response
from indunet.web.state import AppState

JSON = "application/json"
#: The most prefixes one unpaged list answers.
MAX_PREFIX_LIST = 100_000


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def site_json(url: str, *, handle_port: int = 0, handle_host: str = "") -> dict[str, object]:
    """The site of a node reachable at ``url``, in Handle.Net's JSON shape."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    interfaces = [
        {
            "query": True,
            "admin": True,
            "protocol": "HTTPS" if https else "HTTP",
            "port": parts.port or (443 if https else 80),
        }
    ]
    if handle_port:
        interfaces += [
            {"query": True, "admin": False, "protocol": p, "port": handle_port}
            for p in ("UDP", "TCP")
        ]
    return {
        "version": 1,
        "protocolVersion": f"{codec.MAJOR_VERSION}.{codec.MINOR_VERSION}",
        "serialNumber": 1,
        "primarySite": True,
        "multiPrimary": False,
        "attributes": [{"name": "domain", "value": host}, {"name": "path", "value": parts.path}],
        "servers": [
            {
                "serverId": 1,
                "address": handle_host or host,
                "publicKey": {"format": "base64", "value": ""},
                "interfaces": interfaces,
            }
        ],
    }


def visible(principal: Principal, prefix: str) -> bool:
    """Whether ``principal`` may see that this node is home to ``prefix``."""
    if principal.is_superuser:
        return True
    if principal.identity is not None:
        own = principal.identity[1]
        return own.startswith("0.NA/") and hdl.is_under(prefix, hdl.normalise_prefix(own[5:]))
    return any(hdl.is_under(prefix, p) for p in principal.prefixes or ())


class SiteApi:
    """``/api/site`` and ``/api/prefixes`` handlers bound to the app state."""

    def __init__(self, state: AppState, handles: HandleApi) -> None:
        self.state = state
        self.handles = handles

    def _url(self, request: Request) -> tuple[Node, str]:
        node, front = self.handles.node_of(request)
        base = self.state.settings.base_url()
        return node, base if front else f"{base}/nodes/{node.name}"

    async def site(self, request: Request) -> Response:
        """The node's site information."""
        try:
            _, url = self._url(request)
            s = self.state.settings
            body = {
                "responseCode": 1,
                "site": site_json(url, handle_port=s.handle_port, handle_host=s.handle_host or ""),
            }
            return shaped(_json(200, body), request.query_params)
        except IndunetError as exc:
            return shaped(error_response(exc, ""), request.query_params)

    async def prefixes(self, request: Request) -> Response:
        """The prefixes this node is home to, that the caller may see."""
        try:
            node, _ = self._url(request)
            pages = paging(request.query_params)
            principal = await self.handles.principal_of(request, node)
            found = await run_in_threadpool(list_allocations, self.state.engine)
            names = [f"0.NA/{a.prefix}" for a in found if a.node == node.name]
            names = [n for n in names if visible(principal, n[5:])]
            body: dict[str, object] = {"responseCode": 1, "totalCount": str(len(names))}
            if pages is not None:
                page, size = pages
                body |= {"page": page, "pageSize": size}
                names = names[page * size : (page + 1) * size] if size else []
            elif len(names) > MAX_PREFIX_LIST:
                too_many = HandleError(
                    f"this node is home to {len(names)} prefixes, more than one list answers "
                    f"({MAX_PREFIX_LIST}): ask page by page with page= and pageSize=",
                    reason="prefix_list_too_large",
                    params={"total": len(names), "max": MAX_PREFIX_LIST},
                )
                too_many.status = 400
                raise too_many
            body["handles"] = names
            return shaped(_json(200, body), request.query_params)
        except IndunetError as exc:
            return shaped(error_response(exc, ""), request.query_params)

    async def homing(self, request: Request) -> Response:
        """Homing and unhoming prefixes: not supported (prefixes are allocated)."""
        body = {
            "responseCode": 5,
            "message": "homing prefixes is not supported here: a prefix is allocated to a "
            "verified enterprise (indunet prefix allocate, or the console's prefixes page)",
            "reason": "prefix_homing_unsupported",
        }
        return shaped(_json(501, body), request.query_params)


def routes(state: AppState, handles: HandleApi) -> list[Route]:
    """The routes, front node first."""
    api = SiteApi(state, handles)
    out = []
    for base in ("", "/nodes/{node}"):
        out.append(Route(f"{base}/api/site", api.site, methods=["GET"]))
        out.append(Route(f"{base}/api/site/", api.site, methods=["GET"]))
        out.append(Route(f"{base}/api/prefixes", api.prefixes, methods=["GET"]))
        out.append(Route(f"{base}/api/prefixes/{{prefix:path}}", api.homing, methods=["POST"]))
        out.append(Route(f"{base}/api/prefixes/{{prefix:path}}", api.homing, methods=["DELETE"]))
    return out


__all__ = ["MAX_PREFIX_LIST", "SiteApi", "routes", "site_json", "visible"]
