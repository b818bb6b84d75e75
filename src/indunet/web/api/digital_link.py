"""The GS1 Digital Link resolver on the front node: ``/01/{gtin}[/22/…][/10/…][/21/…]`` and
the other key AIs (``/00``, ``/414``, ``/8003``, ``/8004``, ``/8018``), as GS1's resolver
standard describes (docs/ids/digital-link.md):

- ``?linkType=all``, or ``Accept: application/linkset+json`` (or ``application/json``) without
  ``linkType``: the record's links as an RFC 9264 linkset;
- ``?linkType=gs1:<name>`` (or its URI): 307 to that link, or to the default link if the record
  has none of that type; otherwise 307 to the default link; the language is chosen by
  ``Accept-Language``;
- 400 with a ``gs1_*`` reason for a malformed path, 404 (``gs1_dl_unmapped``,
  ``gs1_dl_not_found``, ``gs1_dl_no_links``) when nothing is registered.

Records are read by resolution (``Node.resolve``), so they are cached and may be held by
another node. ``/.well-known/gs1resolver`` describes the resolver. Each request answered is
noted for the security platform as one ``ids.events.RESOLUTIONS`` record (the path as asked,
``gs1``).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from indunet.core import IndunetError, NotFound
from indunet.ids import HTTP_STATUS, RC, HandleError
from indunet.ids import digitallink as dl
from indunet.ids.events import MAX_HANDLE, RESOLUTIONS
from indunet.ids.syntax import gs1
from indunet.ids.values import HandleValue
from indunet.web.api.handles import rc_of
from indunet.web.auth import peer_address
from indunet.web.state import AppState

JSON = "application/json"
VARY = "Accept, Accept-Language"
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
#: Every answer may be read by a page of any origin (GS1's resolver standard asks for CORS):
#: the resolver is public and reads no credentials.
CORS = {
    "Vary": VARY,
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Link, Location",
}
PREFLIGHT = {
    **CORS,
    "Allow": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language",
    "Access-Control-Max-Age": "86400",
}


def _error(exc: IndunetError) -> Response:
    return Response(
        orjson.dumps(exc.to_dict()), status_code=exc.status, media_type=JSON, headers=CORS
    )


def wants_linkset(accept: str) -> bool:
    """Whether ``Accept`` names the linkset or plain JSON (a browser names neither)."""
    for item in accept[:1024].split(","):
        kind = item.split(";")[0].strip().lower()
        if kind in (dl.LINKSET_TYPE, JSON):
            return True
    return False


class DigitalLinkApi:
    """Route handlers bound to the app state."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.front = state.hierarchy.front
        self.prefixes = dl.parse_prefix_map(state.settings.gs1_prefixes)
        self.resolutions = state.signals.of(RESOLUTIONS)

    async def _record(self, es: gs1.ElementString) -> list[HandleValue]:
        """The public values of the most specific record of ``es`` that holds links."""
        home = dl.home_prefix(es, self.prefixes)
        found_any = False
        recurse = self.front.resolver is not None
        for candidate in dl.less_specific(es):
            handle = dl.handle_of(home, candidate)
            answer = await self.front.resolve(handle, recurse=recurse)
            if answer.rc == RC.HANDLE_NOT_FOUND:
                continue
            if answer.rc != RC.SUCCESS or answer.values is None:
                failed = HandleError(
                    f"the record of {handle} could not be read: {answer.message}",
                    reason="gs1_dl_unavailable",
                    params={"handle": handle, "rc": int(answer.rc)},
                )
                status = HTTP_STATUS.get(answer.rc, 502)
                failed.status = status if status < 500 or status == 503 else 502
                raise failed
            found_any = True
            values = answer.public_values()
            links, plain = dl.links(values)
            if links or plain:
                return values
        if found_any:
            raise NotFound(
                f"{es.text} is registered but its record holds no links",
                reason="gs1_dl_no_links",
                params={"identifier": es.text},
            )
        raise NotFound(
            f"{es.text} is not registered with this resolver",
            reason="gs1_dl_not_found",
            params={"identifier": es.text},
        )

    async def resolve(self, request: Request) -> Response:
        """Answer one Digital Link URI: a linkset or a redirect."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        try:
            response = await self._answer(request, raw)
        except IndunetError as exc:
            # registered but without links: the identifier exists
            rc = RC.VALUES_NOT_FOUND if exc.reason == "gs1_dl_no_links" else rc_of(exc)
            self.resolutions.add((peer_address(request.scope), raw[:MAX_HANDLE], rc, "gs1"))
            return _error(exc)
        self.resolutions.add((peer_address(request.scope), raw[:MAX_HANDLE], RC.SUCCESS, "gs1"))
        return response

    async def _answer(self, request: Request, raw: bytes) -> Response:
        """The linkset or redirect of the Digital Link URI ``raw``."""
        es = dl.element_string(dl.path_segments(raw.decode("latin-1")))
        asked = request.query_params.get("linkType")
        name = None if asked is None or asked == "all" else dl.link_type_name(asked)
        values = await self._record(es)
        links, plain = dl.links(values)
        wanted = dl.languages(request.headers.get("accept-language", ""))
        default = dl.default_link(links, plain, wanted)
        anchor = self.state.settings.base_url() + dl.uri_path(es)
        if asked == "all" or (asked is None and wants_linkset(request.headers.get("accept", ""))):
            body = dl.linkset(anchor, links, default)
            context = f'<{LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"'
            return Response(
                orjson.dumps(body),
                media_type=dl.LINKSET_TYPE,
                headers={**CORS, "Link": context},
            )
        target = (dl.of_type(links, name, wanted) if name else None) or default
        assert target is not None  # _record returns only records with a link
        linkset = f'<{anchor}?linkType=all>; rel="linkset"; type="{dl.LINKSET_TYPE}"'
        return Response(status_code=307, headers={**CORS, "Location": target.href, "Link": linkset})

    async def description(self, request: Request) -> Response:
        """The resolver description file."""
        body = {
            "name": "Indunet GS1 Digital Link resolver",
            "resolverRoot": self.state.settings.base_url(),
            "supportedLinkType": [{"namespace": dl.GS1_VOC, "prefix": "gs1:"}],
            "supportedPrimaryKeys": [ai for ai, row in gs1.AIS.items() if row.key],
            "linkTypeDefaultCanBeAll": False,
        }
        return Response(orjson.dumps(body), media_type=JSON, headers=CORS)

    async def preflight(self, request: Request) -> Response:
        """OPTIONS: what the resolver allows, for CORS preflights and curious clients."""
        return Response(status_code=204, headers=PREFLIGHT)


def routes(state: AppState) -> list[Route]:
    """The Digital Link routes: one per key AI, and the description file."""
    api = DigitalLinkApi(state)
    out = [Route("/.well-known/gs1resolver", api.description, methods=["GET"])]
    for ai, row in gs1.AIS.items():
        if row.key:
            out.append(Route(f"/{ai}/{{rest:path}}", api.resolve, methods=["GET"]))
            out.append(Route(f"/{ai}/{{rest:path}}", api.preflight, methods=["OPTIONS"]))
    return out
