"""Handle.Net's ``/api/sessions``: open a challenge-response session, answer it, read it, end it.

As Handle.Net 9's ``SessionsServlet`` answers (``ids.sessions`` has the protocol):

- ``POST /api/sessions`` opens a session: 201, ``Location: …/api/sessions/this`` and
  ``{"sessionId", "nonce"}``. A ``sessionId`` in the request is refused (400).
- ``PUT`` (or ``POST``) ``/api/sessions/this`` with ``Authorization: Handle sessionId=…,
  id=…, cnonce=…, type=HS_PUBKEY, alg=SHA256, signature=…`` authenticates it: 200 with
  ``"authenticated": true, "id"``, or 401 with ``"error"``. The answer's parameters may also
  be given in a JSON object body, the header's winning.
- ``GET /api/sessions/this`` (header with ``sessionId``) shows it, with its current nonce.
- ``DELETE /api/sessions/this`` ends it: 204.
- A session that is unknown, expired or of another node is 403, as Handle.Net answers a
  request naming no live session; another path under ``/api/sessions/`` is 403 too.

The same routes exist under ``/nodes/<name>`` for each node of the process; a session is
good on the node that opened it only. Over plain HTTP the whole path is refused like any
credential (``handle_http``).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from indunet.core import IndunetError
from indunet.ids import authheader
from indunet.ids.authheader import HandleAuth
from indunet.ids.sessions import Session
from indunet.web.api.handles import HandleApi
from indunet.web.auth import client_address, handle_session_principal
from indunet.web.state import AppState

JSON = "application/json"
#: Largest body of a session request (its parameters).
MAX_BODY = 16 * 1024


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def representation(session: Session, error: str | None = None) -> dict[str, Any]:
    """A session as Handle.Net shows it: id, nonce, and who it is authenticated as."""
    out: dict[str, Any] = {"sessionId": session.id, "nonce": session.nonce_text()}
    if session.actor is not None:
        out |= {"authenticated": True, "id": session.actor}
    if error:
        out["error"] = error
    return out


def _refused(message: str, status: int = 403) -> Response:
    return _json(status, {"authenticated": False, "error": message})


def _body_params(raw: bytes) -> dict[str, str]:
    """The parameters of a JSON object body (strings only); anything else gives none."""
    if not raw.strip() or len(raw) > MAX_BODY:
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {str(k)[:40]: v for k, v in doc.items() if isinstance(v, str) and len(v) <= 4096}


class SessionsApi:
    """The ``/api/sessions`` handlers over the app's session table."""

    def __init__(self, state: AppState, api: HandleApi) -> None:
        self.state, self.api = state, api

    def _auth(self, request: Request) -> tuple[str, HandleAuth]:
        header = request.headers.get("authorization", "")
        if header and authheader.is_handle_scheme(header):
            return header, authheader.parse(header)
        return header, HandleAuth()

    async def open(self, request: Request) -> Response:
        """``POST /api/sessions``: a new session and its nonce."""
        try:
            node, _ = self.api.node_of(request)
            _, auth = self._auth(request)
        except IndunetError as exc:
            return _refused(exc.message, exc.status)
        if auth.session_id is not None:
            return _refused("a new session is opened without sessionId", 400)
        session = self.state.handle_sessions.open(node.name)
        location = request.url.path.rstrip("/") + "/this"
        return _json(201, representation(session), {"Location": location})

    async def this(self, request: Request) -> Response:
        """``GET``, ``PUT``/``POST`` and ``DELETE`` of ``/api/sessions/this``."""
        if request.path_params.get("rest") != "this":
            return _refused("the only session path is /api/sessions/this")
        try:
            node, _ = self.api.node_of(request)
            header, auth = self._auth(request)
            if request.method in ("PUT", "POST"):
                raw = await request.body()  # bounded by guards.BodyLimit
                if len(raw) > MAX_BODY:
                    return _refused(f"the body is larger than {MAX_BODY} bytes", 413)
                auth = auth.merged(_body_params(raw))
        except IndunetError as exc:
            return _refused(exc.message, exc.status)
        sessions = self.state.handle_sessions
        session = sessions.get(auth.session_id, node.name) if auth.session_id else None
        if session is None:
            return _refused("no live session: give sessionId in Authorization: Handle")
        if request.method == "DELETE":
            sessions.close(session.id, node.name)
            return Response(status_code=204)
        if request.method == "GET" or not auth.answering:
            return _json(200, representation(session))
        same = bool(header) and authheader.is_handle_scheme(header)
        if not (same and authheader.parse(header) == auth):
            header = _as_header(auth)  # completed from the body
        try:
            await run_in_threadpool(
                handle_session_principal,
                self.state.engine,
                node,
                header,
                sessions,
                logins=self.state.logins,
                source=client_address(request),
            )
        except IndunetError as exc:
            if exc.status != 401:
                return _refused(exc.message, exc.status)
            return _json(401, representation(session, exc.message))
        return _json(200, representation(session))


def _fields(auth: HandleAuth) -> dict[str, str | None]:
    return {
        "sessionId": auth.session_id,
        "id": auth.id,
        "cnonce": auth.cnonce,
        "type": auth.type,
        "alg": auth.alg,
        "signature": auth.signature,
        "version": auth.version,
    }


def _as_header(auth: HandleAuth) -> str:
    """``auth`` (merged from a header and a body) written back as one header."""
    parts = []
    for name, value in _fields(auth).items():
        if value is None:
            continue
        if name == "id":
            value = value.replace("%", "%25")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{name}="{escaped}"')
    return "Handle " + ", ".join(parts)


def routes(state: AppState, api: HandleApi) -> list[Route]:
    """The session routes, front node first."""
    sessions = SessionsApi(state, api)
    out = []
    for base in ("", "/nodes/{node}"):
        out.append(Route(f"{base}/api/sessions", sessions.open, methods=["POST"]))
        out.append(Route(f"{base}/api/sessions/", sessions.open, methods=["POST"]))
        out.append(
            Route(
                f"{base}/api/sessions/{{rest:path}}",
                sessions.this,
                methods=["GET", "PUT", "POST", "DELETE"],
            )
        )
    return out


__all__ = ["SessionsApi", "representation", "routes"]
