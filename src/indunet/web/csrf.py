"""The CSRF token of a console session, and where a browser sends it back.

The token is a keyed hash of the session token: a page on another site cannot read the
httponly session cookie, so it cannot compute the token, and the token (which appears in every
console page) does not reveal the session. ``indunet.web.guards.csrf`` checks it.
"""

from __future__ import annotations

import hashlib
import hmac

#: The request header HTMX and scripts send the token in (set by ``hx-headers`` on ``<body>``).
HEADER = "X-CSRF-Token"
#: The hidden field every ``<form method="post">`` of the console carries.
FIELD = "csrf_token"
_KEY = b"indunet-csrf-v1"


def csrf_token(session: str) -> str:
    """The CSRF token of a console session (what forms and HTMX send back)."""
    return hmac.new(_KEY, session.encode(), hashlib.sha256).hexdigest()
