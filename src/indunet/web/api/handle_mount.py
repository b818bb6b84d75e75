"""The Handle API on the app (the ids subsystem's ``mount``): the routes of ``handles`` and
``handle_site`` and ``handle_sessions`` first (the hot path must not walk the FastAPI routes), the cache middleware
that answers the front node's hits without the stack, and outside it Handle.Net's OPTIONS,
CORS, gzip and the plain-HTTP credential rule (``handle_http``)."""

from __future__ import annotations

from typing import Any

from indunet.web.api import digital_link, handle_sessions, handle_site, handles
from indunet.web.api.handle_http import HandleHttp
from indunet.web.state import AppState


def mount(app: Any, state: AppState) -> None:
    """Add the Handle API's routes and middleware to ``app``."""
    api = handles.HandleApi(state)
    app.router.routes[:0] = [
        *handles.routes(state, api),
        *handle_site.routes(state, api),
        *handle_sessions.routes(state, api),
        *digital_link.routes(state),
    ]
    app.add_middleware(handles.CachedAnswers, state=state)
    app.add_middleware(HandleHttp, plain_auth=state.settings.plain_http_auth)


__all__ = ["mount"]
