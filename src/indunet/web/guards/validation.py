"""The answer to a request that fails FastAPI's validation: 422, safe to encode whatever came in.

FastAPI's own handler echoes each bad ``input`` back; an input holding a lone surrogate made
the answer itself unencodable (a 500). This handler keeps FastAPI's ``detail`` list, adds the
stable ``code`` and a one-line ``message`` every Indunet error has, and replaces anything that
is not Unicode text with U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

CODE = "invalid_input"
#: In a Python ``str`` a surrogate pair is already one character: any surrogate left is alone.
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_safe(data: Any) -> Any:
    """``data`` with every string made encodable (lone surrogates become U+FFFD)."""
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    if isinstance(data, dict):
        return {text_safe(k): text_safe(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [text_safe(v) for v in data]
    return data


def summary(errors: list[dict[str, Any]]) -> str:
    """``"query.limit: Input should be greater than or equal to 1"`` for the first problem."""
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'not valid')}{more}"


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 with ``code``, ``message`` and FastAPI's ``detail`` list, always encodable; a
    browser whose address is wrong only in its path gets the console's unknown-address page."""
    from indunet.web.console import bad_address_page  # guards are installed before pages

    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    page = await bad_address_page(request, list(errors))
    if page is not None:
        return page
    detail = text_safe(jsonable_encoder(errors))
    body = {"code": CODE, "message": summary(detail), "detail": detail}
    return JSONResponse(body, status_code=422)
