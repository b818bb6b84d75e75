"""A node's answers in wire form: value lists filtered by index and type, HS_SITE referrals,
and a cache of encoded value lists that lives exactly as long as the resolver's cached answer.

The cache holds, per (lookup key, asked indexes, asked types), the encoded value list and the
``Answer`` it was made from. A hit is good only while the resolver still caches that very
``Answer`` object: whatever drops it there (a local write, another process's write through
the backbone, its TTL) drops the wire form with it, so the wire and the REST API never
disagree.
"""

from __future__ import annotations

import base64
import binascii
import logging
import struct
from collections import OrderedDict
from collections.abc import Iterable

from indunet.ids.answers import Answer, Referral
from indunet.ids.values import SITE_TYPE, HandleValue
from indunet.ids.valuetypes import TypeFilter
from indunet.ids.wire import codec

MAX_ENTRIES = 50_000

log = logging.getLogger(__name__)


def _data(v: HandleValue) -> bytes:
    if v.format == "string":
        return str(v.value).encode()
    if v.format == "hex":
        return bytes.fromhex(v.value)
    if v.format == "base64":
        return base64.b64decode(v.value)
    if v.format == "admin" and isinstance(v.value, dict):
        return codec.admin_data(
            str(v.value.get("handle", "")),
            int(v.value.get("index", 0)),
            str(v.value.get("permissions", "")),
        )
    if v.format == "site" and isinstance(v.value, dict):
        return codec.site_data(
            str(v.value.get("url", "")),
            primary=bool(v.value.get("primary")),
            name=str(v.value.get("name", "")),
        )
    if v.format == "vlist" and isinstance(v.value, list):
        return codec.vlist_data([(str(m["handle"]), int(m["index"])) for m in v.value])
    return str(v.value).encode()


def wire_value(v: HandleValue) -> codec.WireValue:
    """An Indunet value in RFC 3651 layout; ``ValueError`` if it cannot be one (values
    another node answered are not checked as local writes are)."""
    try:
        out = codec.WireValue(
            index=int(v.index),
            type=str(v.type).encode(),
            data=_data(v),
            timestamp=codec.seconds_of(v.timestamp),
            ttl_type=1 if v.ttl_absolute else 0,
            ttl=int(v.ttl),
            permissions=int(str(v.permissions), 2) & 0x0F,
            references=tuple((str(h).encode(), int(i)) for h, i in v.references),
        )
        codec.encode_value(out)  # the integers fit their fields
    except (ValueError, TypeError, AttributeError, struct.error, binascii.Error) as exc:
        raise ValueError(f"value {v.index!r} cannot be encoded: {exc}") from None
    return out


def wire_values(values: Iterable[HandleValue]) -> list[codec.WireValue]:
    """The values that can be sent; any that cannot (malformed in another node's answer)
    are left out and logged."""
    out = []
    for v in values:
        try:
            out.append(wire_value(v))
        except ValueError as exc:
            log.warning("left out of a Handle protocol answer: %s", exc)
    return out


def select(
    values: Iterable[HandleValue], indexes: tuple[int, ...], types: tuple[str, ...]
) -> list[HandleValue]:
    """The public values asked for: all when neither list is given, else those whose index
    is listed or whose type the type list selects (``TypeFilter``, the REST API's rule:
    ASCII case ignored, ``URL.`` the URL family)."""
    wanted = TypeFilter(types)
    out = []
    for v in values:
        if not v.public_read:
            continue
        if (indexes or wanted) and not (v.index in indexes or wanted.selects(v.type)):
            continue
        out.append(v)
    return out


def referral_values(ref: Referral) -> list[codec.WireValue]:
    """The HS_SITE values of a referral (primary first), as the referring node answers."""
    out = []
    for i, site in enumerate(ref.sites):
        data = codec.site_data(site.url, primary=site.primary, name=site.name)
        out.append(
            codec.WireValue(index=100 + i, type=SITE_TYPE.encode(), data=data, ttl=max(ref.ttl, 0))
        )
    return out


class WireCache:
    """Encoded value lists of answers the resolver caches (see the module docstring)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[
            tuple[str, tuple[int, ...], tuple[bytes, ...]], tuple[Answer, bytes]
        ]
        self._data = OrderedDict()
        self._max = max_entries
        self.hits = 0

    def get(
        self, key: tuple[str, tuple[int, ...], tuple[bytes, ...]], live: Answer | None
    ) -> bytes | None:
        """The encoded list made from ``live`` (the resolver's current answer), or ``None``."""
        hit = self._data.get(key)
        if hit is None or live is None:
            return None
        if hit[0] is not live:
            del self._data[key]
            return None
        self.hits += 1
        return hit[1]

    def put(
        self, key: tuple[str, tuple[int, ...], tuple[bytes, ...]], answer: Answer, body: bytes
    ) -> None:
        """Keep ``body`` for as long as the resolver keeps ``answer``."""
        self._data[key] = (answer, body)
        if len(self._data) > self._max:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
