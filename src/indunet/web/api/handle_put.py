"""Reading a Handle REST ``PUT`` request: its content type, body shape and ``index=``.

The rules are Handle.Net's servlet's. The body is JSON (``Content-Type: application/json``,
parameters allowed) and is ``{"values": [...]}`` (its ``handle``, if given, must name the
handle of the URL), a list of values, or one value (an object with ``index``, ``type`` and
``data``). Without ``index=`` the request creates or replaces the record; ``index=various``
adds or replaces the values of the body; ``index=1,2`` does the same and requires the body's
indexes to be exactly those. Anything else is refused with response code 4 (protocol error)
before anything is written. The values themselves are checked by ``ids.values``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from indunet.ids import RC, HandleError
from indunet.ids.syntax import handle as hdl
from indunet.ids.values import parse_values

JSON = "application/json"


class ProtocolError(HandleError):
    """The request is not a Handle REST request this API understands (response code 4)."""

    rc = RC.PROTOCOL_ERROR


class UnsupportedMediaType(ProtocolError):
    """The body is not declared as JSON (HTTP 415, response code 4)."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"the body must be sent as {JSON}, not {content_type[:80] or 'no content type'}",
            reason="put_content_type",
            params={"content_type": content_type[:80]},
        )
        self.status = 415


@dataclass(frozen=True, slots=True)
class PutBody:
    """What a PUT asks for: the raw values and which indexes to write (``None``: all)."""

    values: Any
    indices: list[int] | None


def is_json(content_type: str) -> bool:
    """``application/json``, with or without parameters such as ``charset``."""
    return content_type.partition(";")[0].strip().lower() == JSON


def read_put(content_type: str, raw: bytes, handle: str, index: str | list[int] | None) -> PutBody:
    """The values and indexes of a PUT to ``handle``; ``index`` is the ``index=`` query:
    ``None``, ``"various"`` or the list of indexes given."""
    if not is_json(content_type):
        raise UnsupportedMediaType(content_type)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the body is not valid JSON: {exc}", reason="put_not_json") from None
    values = _values(body, handle)
    if index is None:
        return PutBody(values, None)
    in_body = _indexes(values)
    if in_body is None:
        parse_values(values)  # raises the exact problem with the values
    if not in_body:
        raise ProtocolError(
            "index= is given but the body holds no value to write", reason="put_no_values"
        )
    if isinstance(index, str):  # "various": whatever indexes the body holds
        return PutBody(values, sorted(in_body))
    if set(index) != in_body:
        raise ProtocolError(
            f"index= names {sorted(set(index))} but the body holds indexes {sorted(in_body)}; "
            "they must be the same",
            reason="put_index_mismatch",
            params={
                "query": ", ".join(map(str, sorted(set(index)))),
                "body": ", ".join(map(str, sorted(in_body))),
            },
        )
    return PutBody(values, list(index))


def _values(body: Any, handle: str) -> Any:
    """The values of a body: ``{"values": …}``, a list, or one value object."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if "values" in body:
            _same_handle(body.get("handle"), handle)
            return body["values"]
        if {"index", "type", "data"} <= body.keys():
            return [body]
    raise ProtocolError(
        'the body must be {"values": [...]}, a list of values, or one value with index, '
        "type and data",
        reason="put_body_shape",
    )


def _same_handle(given: Any, handle: str) -> None:
    """The body's ``handle``, when given, must name the URL's handle (compared as keys)."""
    if given is None:
        return
    try:
        same = isinstance(given, str) and hdl.parse(given).key == hdl.parse(handle).key
    except HandleError:
        same = False
    if not same:
        raise ProtocolError(
            f"the body names handle {str(given)[:300]!r} but the request is for {handle!r}",
            reason="put_handle_mismatch",
            params={"given": str(given)[:300], "handle": handle},
        )


def _indexes(values: Any) -> set[int] | None:
    """The indexes of the body's values, or ``None`` when some cannot be read (the value
    checks then refuse the body with the exact problem)."""
    if not isinstance(values, list):
        return None
    out: set[int] = set()
    for v in values:
        index = v.get("index") if isinstance(v, dict) else None
        if isinstance(index, str) and index.isascii() and index.isdigit():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool):
            return None
        out.add(index)
    return out
