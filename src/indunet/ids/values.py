"""Typed handle values: index, type, data (format and value), ttl, timestamp, permissions.

The JSON shape is the Handle.Net REST API's:
``{"index": 1, "type": "URL", "data": {"format": "string", "value": "…"}, "ttl": 86400,
"timestamp": "2026-11-21T10:00:00Z"}``. ``permissions`` is four bits, ``adminRead adminWrite
publicRead publicWrite``; values that are not public-readable (secret keys) are never shown.

As in Handle.Net's ``GsonUtility``, a ``ttl`` given as a number is relative (seconds a cache
may keep the value) and a ``ttl`` given as a time (``"2027-01-01T00:00:00Z"``) is absolute (the
value expires then; RFC 3651 TTLType 1); both are stored and answered in the form given.
``references`` (RFC 3651 §3.1: other handle values this one refers to) are a list of
``{"handle": …, "index": …}``, kept and answered as given.

An ``HS_VLIST`` value (format ``vlist``, as ``GsonUtility`` reads and writes it) is a list of
such references too: the members of an admin group (see ``ids.groups``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from indunet.ids.errors import InvalidValue, ValueExists

FORMATS = ("string", "base64", "hex", "key", "admin", "site", "vlist")
DEFAULT_TTL = 86_400
DEFAULT_PERMISSIONS = "1110"
SECRET_PERMISSIONS = "1100"  # noqa: S105 - permission bits, not a password
MAX_INDEX = 2**31 - 1
MAX_VALUE_BYTES = 65_535
MAX_VALUES = 256
MAX_TYPE_LEN = 128
#: Most references one value may carry, and the longest handle a reference may name.
MAX_REFERENCES = 64
MAX_REFERENCE_HANDLE_LEN = 255
#: Most members one HS_VLIST value may list (each a handle and an index).
MAX_VLIST_MEMBERS = 1024
#: Largest TTL, relative (seconds) or absolute (seconds since 1970, i.e. 2038-01-19T03:14:07Z):
#: Handle.Net holds a TTL in a signed 32-bit integer.
MAX_TTL = 2**31 - 1
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: Types every node accepts. Other types must be items of a data template of the prefix, or
#: be handles themselves (``0.TYPE/…``), as the Handle System allows.
STANDARD_TYPES = frozenset(
    {
        "URL", "EMAIL", "DESC", "NAME", "CHECKSUM", "TEMPLATE", "10320/LOC",
        "HS_ADMIN", "HS_SECKEY", "HS_PUBKEY", "HS_SITE", "HS_SERV", "HS_ALIAS", "HS_VLIST",
    }
)  # fmt: skip
ADMIN_TYPE = "HS_ADMIN"
SECKEY_TYPE = "HS_SECKEY"
PUBKEY_TYPE = "HS_PUBKEY"
#: Values that decide who may act on a record: changing one takes the admin rights
#: (``ids.node``), not the value rights.
GUARDED_TYPES = frozenset({ADMIN_TYPE, SECKEY_TYPE, PUBKEY_TYPE})
SITE_TYPE = "HS_SITE"
VLIST_TYPE = "HS_VLIST"
#: Index of a prefix's first HS_SITE value; mirrors take the next free ones (11, 12, …).
FIRST_SITE_INDEX = 11
TEMPLATE_TYPE = "TEMPLATE"
#: Index of a record's TEMPLATE value, wherever Indunet writes one (console form, device
#: identifiers, samples, README): after URL (1) and DESC (2), below the items (2000 and up).
TEMPLATE_INDEX = 3


@dataclass(frozen=True, slots=True)
class HandleValue:
    """One typed value of a handle record."""

    index: int
    type: str
    format: str
    value: Any
    ttl: int = DEFAULT_TTL
    timestamp: str = ""
    permissions: str = DEFAULT_PERMISSIONS
    #: ``ttl`` is an expiry time (seconds since 1970), not a number of seconds to keep.
    ttl_absolute: bool = False
    #: ``(handle, index)`` of the values this one refers to.
    references: tuple[tuple[str, int], ...] = ()

    @property
    def public_read(self) -> bool:
        """Anyone may read this value."""
        return self.permissions[2] == "1"

    def seconds_to_live(self, now: float | None = None) -> int:
        """How long a cache may keep this value from ``now``: the relative TTL, or the time
        left until an absolute TTL (0 once it has passed)."""
        if not self.ttl_absolute:
            return self.ttl
        left = self.ttl - int(datetime.now(UTC).timestamp() if now is None else now)
        return max(left, 0)

    def to_json(self, *, with_permissions: bool = False) -> dict[str, Any]:
        """The REST API shape of this value."""
        out: dict[str, Any] = {
            "index": self.index,
            "type": self.type,
            "data": {"format": self.format, "value": self.value},
            "ttl": _format_time(self.ttl) if self.ttl_absolute else self.ttl,
            "timestamp": self.timestamp,
        }
        if self.references:
            out["references"] = [{"handle": h, "index": i} for h, i in self.references]
        # As Handle.Net's GsonUtility: permissions are shown when unusual (anything but admin
        # read and write, public read, no public write), and always when stored.
        if with_permissions or self.permissions != DEFAULT_PERMISSIONS:
            out["permissions"] = self.permissions
        return out

    @classmethod
    def from_stored(cls, d: dict[str, Any]) -> HandleValue:
        """Rebuild a value stored by ``to_json(with_permissions=True)``."""
        data = d["data"]
        ttl = d.get("ttl", DEFAULT_TTL)
        absolute = isinstance(ttl, str)
        return cls(
            index=d["index"],
            type=d["type"],
            format=data["format"],
            value=data["value"],
            ttl=_parse_time(ttl) if absolute else ttl,
            timestamp=d.get("timestamp", ""),
            permissions=d.get("permissions", DEFAULT_PERMISSIONS),
            ttl_absolute=absolute,
            references=tuple((r["handle"], r["index"]) for r in d.get("references", ())),
        )


def _format_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(_TIME_FORMAT)


def _parse_time(text: str) -> int:
    """Seconds since 1970 of an ISO 8601 time; naive times are UTC."""
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def now_timestamp() -> str:
    """The current time in the REST API's timestamp form."""
    return datetime.now(UTC).strftime(_TIME_FORMAT)


def _bad(where: str, text: str, *, reason: str, **params: Any) -> InvalidValue:
    """An ``InvalidValue`` about the value ``where`` names, with its reason and params."""
    return InvalidValue(f"{where}: {text}", reason=reason, params=params)


def _check_data(index: int, vtype: str, fmt: str, value: Any, where: str) -> Any:
    if fmt == "string":
        if not isinstance(value, str):
            raise _bad(
                where,
                "a string value must be text",
                reason="value_not_text",
                index=index,
                type=vtype,
            )
        size = len(value.encode())
        if size > MAX_VALUE_BYTES:
            raise _bad(
                where,
                f"value is {size} bytes; the limit is {MAX_VALUE_BYTES}",
                reason="value_too_large",
                index=index,
                type=vtype,
                size=size,
                max=MAX_VALUE_BYTES,
            )
        return value
    if fmt in ("base64", "hex", "key"):  # key: HS_PUBKEY bytes in base64 (ids.activekeys)
        if not isinstance(value, str):
            raise _bad(
                where,
                f"a {fmt} value must be text",
                reason="value_not_text",
                index=index,
                type=vtype,
            )
        try:
            raw = bytes.fromhex(value) if fmt == "hex" else base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(
                where,
                f"not valid {fmt}: {exc}",
                reason="value_bad_encoding",
                index=index,
                type=vtype,
                format=fmt,
            ) from None
        if len(raw) > MAX_VALUE_BYTES:
            raise _bad(
                where,
                f"value is {len(raw)} bytes; the limit is {MAX_VALUE_BYTES}",
                reason="value_too_large",
                index=index,
                type=vtype,
                size=len(raw),
                max=MAX_VALUE_BYTES,
            )
        return value
    if fmt == "admin":
        if not isinstance(value, dict) or not isinstance(value.get("handle"), str):
            raise _bad(
                where,
                "an admin value needs 'handle', 'index' and 'permissions'",
                reason="value_admin_shape",
                index=index,
                type=vtype,
            )
        admin_index = _whole(value.get("index", 0))
        if admin_index is None:
            raise _bad(
                where,
                "admin 'index' must be an integer",
                reason="value_admin_index",
                index=index,
                type=vtype,
            )
        perms = str(value.get("permissions", "011111110011"))
        if len(perms) != 12 or set(perms) - {"0", "1"}:
            raise _bad(
                where,
                "admin 'permissions' must be 12 characters of 0 and 1",
                reason="value_admin_permissions",
                index=index,
                type=vtype,
            )
        return {"handle": value["handle"], "index": admin_index, "permissions": perms}
    if fmt == "vlist":
        if not isinstance(value, list) or len(value) > MAX_VLIST_MEMBERS:
            raise _bad(
                where,
                f"a vlist value must be a list of at most {MAX_VLIST_MEMBERS} "
                '{"handle": ..., "index": ...} objects',
                reason="value_vlist",
                index=index,
                type=vtype,
                max=MAX_VLIST_MEMBERS,
            )
        return [{"handle": h, "index": i} for h, i in _refs(value, index, vtype, where)]
    if fmt == "site":
        if not isinstance(value, dict) or not isinstance(value.get("url"), str):
            raise _bad(
                where,
                "a site value needs a 'url'",
                reason="value_site_url",
                index=index,
                type=vtype,
            )
        url = value["url"].rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise _bad(
                where,
                f"site url {url!r} must start with http:// or https://",
                reason="value_site_scheme",
                index=index,
                type=vtype,
                url=url,
            )
        return {
            "url": url,
            "primary": bool(value.get("primary", False)),
            "name": str(value.get("name", "")),
        }
    raise _bad(
        where,
        f"unknown data format {fmt!r}; use one of {', '.join(FORMATS)}",
        reason="value_unknown_format",
        index=index,
        type=vtype,
        format=str(fmt),
        formats=", ".join(FORMATS),
    )


_BARE_FORMAT = {ADMIN_TYPE: "admin", SITE_TYPE: "site", VLIST_TYPE: "vlist"}


def is_vlist(vtype: str) -> bool:
    """``HS_VLIST`` or a subtype of it, ASCII case ignored (Handle.Net's ``hasType``)."""
    upper = vtype.upper()
    return upper == VLIST_TYPE or upper.startswith(VLIST_TYPE + ".")


def _whole(x: Any) -> int | None:
    """An integer given as a JSON number or a string of ASCII digits, else ``None``."""
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    if isinstance(x, str) and x.isascii() and x.isdigit():
        return int(x)
    return None


def parse_value(raw: Any, *, timestamp: str | None = None) -> HandleValue:
    """Validate one value from API input; raise ``InvalidValue`` naming the problem."""
    if not isinstance(raw, dict):
        raise InvalidValue(
            "each value must be an object with index, type and data", reason="value_not_object"
        )
    index = _whole(raw.get("index"))
    if index is None:
        raise InvalidValue("each value needs an integer 'index'", reason="value_no_index")
    if not 0 < index <= MAX_INDEX:
        raise InvalidValue(
            f"value index {index} must be between 1 and {MAX_INDEX}",
            reason="value_index_range",
            params={"index": index, "max": MAX_INDEX},
        )
    vtype = raw.get("type")
    if not isinstance(vtype, str) or not vtype or len(vtype) > MAX_TYPE_LEN:
        raise InvalidValue(
            f"value {index}: 'type' must be 1-{MAX_TYPE_LEN} characters",
            reason="value_type_length",
            params={"index": index, "max": MAX_TYPE_LEN},
        )
    where = f"value {index} ({vtype})"
    data = raw.get("data")
    if isinstance(data, dict) and ("format" in data or "value" in data):
        fmt, value = data.get("format", "string"), data.get("value")
    else:  # bare data: its format follows from the type
        fmt, value = _BARE_FORMAT.get(vtype, "string"), data
    if vtype == SITE_TYPE and fmt == "string":
        raise _bad(
            where,
            "HS_SITE data must have format 'site'",
            reason="value_site_format",
            index=index,
            type=vtype,
        )
    if vtype == VLIST_TYPE and fmt != "vlist":
        raise _bad(
            where,
            'HS_VLIST data must have format \'vlist\': a list of {"handle": ..., "index": ...}',
            reason="value_vlist_format",
            index=index,
            type=vtype,
        )
    value = _check_data(index, vtype, fmt, value, where)
    ttl, absolute = _check_ttl(raw.get("ttl", DEFAULT_TTL), index, vtype, where)
    references = _check_references(raw.get("references"), index, vtype, where)
    default_perms = SECRET_PERMISSIONS if vtype == SECKEY_TYPE else DEFAULT_PERMISSIONS
    perms = str(raw.get("permissions", default_perms))
    if len(perms) != 4 or set(perms) - {"0", "1"}:
        raise _bad(
            where,
            "permissions must be four characters of 0 and 1",
            reason="value_permissions",
            index=index,
            type=vtype,
        )
    if vtype == SECKEY_TYPE:
        perms = perms[:2] + "00"
    return HandleValue(
        index, vtype, fmt, value, ttl, timestamp or now_timestamp(), perms, absolute, references
    )


def _check_ttl(ttl: Any, index: int, vtype: str, where: str) -> tuple[int, bool]:
    """A relative TTL (whole seconds) or an absolute one (an ISO 8601 time), and which."""
    if isinstance(ttl, str):
        try:
            seconds = _parse_time(ttl)
        except (ValueError, OverflowError):
            seconds = -1
        if not 0 <= seconds <= MAX_TTL:
            raise _bad(
                where,
                f"ttl {ttl[:40]!r} is neither a whole number of seconds nor a time from "
                f"1970-01-01T00:00:00Z to {_format_time(MAX_TTL)}",
                reason="value_ttl_time",
                index=index,
                type=vtype,
                max=_format_time(MAX_TTL),
            )
        return seconds, True
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= MAX_TTL:
        raise _bad(
            where,
            "ttl must be a whole number of seconds or a time such as 2030-01-01T00:00:00Z",
            reason="value_ttl",
            index=index,
            type=vtype,
        )
    return ttl, False


def _check_references(raw: Any, index: int, vtype: str, where: str) -> tuple[tuple[str, int], ...]:
    """``references``: at most ``MAX_REFERENCES`` objects ``{"handle": …, "index": …}``."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_REFERENCES:
        raise _bad(
            where,
            f"references must be a list of at most {MAX_REFERENCES} "
            '{"handle": ..., "index": ...} objects',
            reason="value_references",
            index=index,
            type=vtype,
            max=MAX_REFERENCES,
        )
    return _refs(raw, index, vtype, where)


def _refs(raw: list[Any], index: int, vtype: str, where: str) -> tuple[tuple[str, int], ...]:
    """Each item of ``raw`` as ``(handle, index)``: a handle of 1-255 characters and an index
    from 0 (any index) to ``MAX_INDEX``."""
    out = []
    for ref in raw:
        handle = ref.get("handle") if isinstance(ref, dict) else None
        ref_index = _whole(ref.get("index")) if isinstance(ref, dict) else None
        if (
            not isinstance(handle, str)
            or not 0 < len(handle) <= MAX_REFERENCE_HANDLE_LEN
            or ref_index is None
            or not 0 <= ref_index <= MAX_INDEX
        ):
            raise _bad(
                where,
                "each reference needs a 'handle' (1-"
                f"{MAX_REFERENCE_HANDLE_LEN} characters) and a whole-number 'index'",
                reason="value_reference",
                index=index,
                type=vtype,
                max=MAX_REFERENCE_HANDLE_LEN,
            )
        out.append((handle, ref_index))
    return tuple(out)


def parse_values(raw: Any, *, timestamp: str | None = None) -> list[HandleValue]:
    """Validate a list of values; indexes must be unique."""
    if not isinstance(raw, list):
        raise InvalidValue("'values' must be a list", reason="values_not_list")
    if len(raw) > MAX_VALUES:
        raise InvalidValue(
            f"a record holds at most {MAX_VALUES} values; got {len(raw)}",
            reason="values_too_many",
            params={"max": MAX_VALUES, "count": len(raw)},
        )
    ts = timestamp or now_timestamp()
    values = [parse_value(v, timestamp=ts) for v in raw]
    seen: set[int] = set()
    for v in values:
        if v.index in seen:  # Handle.Net: "index conflict", VALUE_ALREADY_EXISTS (HTTP 409)
            raise ValueExists(
                f"index {v.index} appears twice",
                reason="value_index_twice",
                params={"index": v.index},
            )
        seen.add(v.index)
    return values


def string_value(index: int, vtype: str, value: str, ttl: int = DEFAULT_TTL) -> HandleValue:
    """A plain string value stamped now."""
    return HandleValue(index, vtype, "string", value, ttl, now_timestamp())
