"""The one time zone of a console page: the user's choice, else the browser's, else the locale's.

Every time a page prints goes through ``Zone.clock`` and every chart formats its axis in the
same zone (``static/zone.js`` reads ``data-tz`` on ``<body>``); the page names the zone once in
its header. The API speaks ISO 8601 UTC and is not touched by this.

The zone lives in the ``tz`` cookie: ``zone.js`` sets it to the browser's zone on the first
visit (``Intl.DateTimeFormat().resolvedOptions().timeZone``) unless the user chose one with
``/tz``; a page rendered before that uses the locale's default (Asia/Shanghai for zh-CN, UTC
for English).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from starlette.requests import Request

TZ_COOKIE = "tz"
#: The zone of a page before the browser has said its own, per locale.
DEFAULT_ZONES = {"zh-CN": "Asia/Shanghai", "en": "UTC"}
#: Zones offered in the chooser first; any IANA name is accepted.
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Urumqi",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)
_MAX_NAME = 64


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def valid_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA zone this machine knows, else ``None`` (never raises)."""
    if not name or len(name) > _MAX_NAME or name not in _known():
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@dataclass(frozen=True, slots=True)
class Zone:
    """A page's zone: its IANA name and the ``tzinfo`` to print times in."""

    name: str
    info: tzinfo

    def at(self, value: datetime | float | int) -> datetime:
        """``value`` (an aware datetime, epoch seconds, or epoch milliseconds above 10^11)
        in this zone; a naive datetime is taken as UTC, as the stores write them."""
        if isinstance(value, datetime):
            when = value if value.tzinfo else value.replace(tzinfo=UTC)
        else:
            seconds = value / 1000 if abs(value) > 1e11 else value
            when = datetime.fromtimestamp(seconds, UTC)
        return when.astimezone(self.info)

    def clock(self, value: datetime | float | int | None, *, seconds: bool = True) -> str:
        """A time as ``YYYY-MM-DD HH:MM[:SS]`` in this zone; ``""`` for ``None``."""
        if value is None:
            return ""
        return self.at(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

    def local(self, text: str) -> datetime | None:
        """A time typed in this zone (``datetime-local``: ``2026-12-06T13:50``, seconds and a
        space instead of ``T`` allowed) as an aware datetime; ``None`` when it cannot be read,
        carries its own offset, or lies outside the years 1970 to 9999."""
        raw = text.strip().replace(" ", "T")[:19]
        try:
            naive = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if naive.tzinfo is not None or not 1970 <= naive.year <= 9999:
            return None
        return naive.replace(tzinfo=self.info)

    def iso(self, value: datetime | float | int) -> str:
        """A time as ISO 8601 with this zone's offset (for ``<time datetime=…>``)."""
        return self.at(value).isoformat(timespec="seconds")

    @property
    def label(self) -> str:
        """The zone as the page names it: ``Asia/Shanghai (UTC+08:00)``."""
        offset = datetime.now(self.info).strftime("%z") or "+0000"
        return f"{self.name} (UTC{offset[:3]}:{offset[3:]})"


def zone(name: str) -> Zone:
    """The zone called ``name`` (which must be valid)."""
    return Zone(name, UTC if name == "UTC" else ZoneInfo(name))


def zone_of(request: Request, locale: str) -> Zone:
    """The zone of ``request``: the ``tz`` cookie if valid, else the locale's default (the
    browser writes the cookie percent-encoded, the server quoted: both read the same)."""
    chosen = valid_zone(unquote(request.cookies.get(TZ_COOKIE, "")))
    return zone(chosen or DEFAULT_ZONES.get(locale, "UTC"))
