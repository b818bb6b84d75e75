"""What the platform pages share: the services, who sees which enterprise, titles and times.

The console applies the one rule of ``core.access``, as the JSON API does: platform admins
and regulators see every enterprise, enterprise users only their own; another enterprise's
device is "not found". Changing things is left to the services' own checks, whose messages
the pages show.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from indunet import core
from indunet.core import User, access
from indunet.devices import Device
from indunet.web.console.i18n import N_, Translator
from indunet.web.console.pages import render
from indunet.web.platform import Platform
from indunet.web.state import AppState

STATUSES = ("online", "offline", "unknown")
STATUS_KEYS = {
    "online": N_("status.online"),
    "offline": N_("status.offline"),
    "unknown": N_("status.unknown"),
}
SEVERITIES = ("critical", "major", "minor", "warning")


class NoPlatform(Exception):
    """This process runs identifier nodes only; the platform pages say so."""


def no_platform_page(request: Request, exc: Exception) -> Response:
    """The answer of a platform page in a process that runs identifier nodes only."""
    return render(request, "platform.html", {"no_platform": True}, status=503)


def platform_of(state: AppState) -> Platform:
    """The platform services, or ``NoPlatform``."""
    if state.platform is None:
        raise NoPlatform()
    return state.platform


def scope(user: User) -> int | None:
    """The enterprise a user's listings are limited to (None: every enterprise; -1: none)."""
    if access.sees_all(user):
        return None
    return user.enterprise_id if user.enterprise_id is not None else -1


def visible_device(platform: Platform, user: User, device_id: str) -> Device:
    """A device ``user`` may see, or ``NotFound`` (another enterprise's device is not found)."""
    device: Device = platform.devices.visible(user, device_id)
    return device


#: How many enterprises a form's enterprise chooser offers (the first by name).
CHOICES_MAX = 500


def enterprise_names(state: AppState, user: User, ids: Iterable[int | None] = ()) -> dict[int, str]:
    """Names by id of the enterprises ``user`` may see (no other tenant is named): those in
    ``ids`` (the rows a page shows) and, for overseers, the first ``CHOICES_MAX`` by name for
    the forms' choosers; an enterprise user's own alone. Bounded: a platform with 100,000
    enterprises read them all, twice, on every device page."""
    with state.engine.connect() as conn:
        if not access.sees_all(user):
            own = user.enterprise_id
            return core.enterprises.names_of(conn, [own]) if own is not None else {}
        first, _total = core.enterprises.page_enterprises(conn, limit=CHOICES_MAX)
        names = {e.id: e.name for e in first}
        return names | core.enterprises.names_of(conn, [i for i in ids if i not in names])


def title_in(titles: dict[str, str], locale: str, fallback: str) -> str:
    """A model's or point's title in the page's language (``zh``/``en`` keys), else ``fallback``."""
    lang = locale.split("-")[0]
    return titles.get(lang) or titles.get("en") or titles.get("zh") or fallback


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


def age_text(t: Translator, ms: int) -> str:
    """How long ago, in words: ``3 s``, ``5 min``, ``2 h``, ``4 d``."""
    s = max(0, ms // 1000)
    if s < 60:
        return t("age.seconds", n=s)
    if s < 3600:
        return t("age.minutes", n=s // 60)
    if s < 86_400:
        return t("age.hours", n=s // 3600)
    return t("age.days", n=s // 86_400)


def seen_ago(t: Translator, last_seen: float | None) -> str:
    """How long ago a device was last seen (epoch seconds), or an empty text."""
    if last_seen is None:
        return ""
    return age_text(t, int((time.time() - last_seen) * 1000))
