"""Reading a channel's form: bounded text fields with errors naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from indunet.core import InvalidInput
from indunet.notify.destinations import DestinationPolicy

MAX_FIELD = 2000


def text(form: Mapping[str, str], name: str, *, required: bool = True, limit: int = 200) -> str:
    """Field ``name`` stripped; ``InvalidInput`` if missing (when required) or too long."""
    value = str(form.get(name) or "").strip()
    if required and not value:
        raise InvalidInput(
            f"{name} is required", reason="notify_field_required", params={"field": name}
        )
    if len(value) > limit:
        raise InvalidInput(
            f"{name} is longer than {limit} characters",
            reason="notify_field_long",
            params={"field": name, "limit": limit},
        )
    return value


def choice(form: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """Field ``name``, one of ``choices`` (the first when empty)."""
    value = str(form.get(name) or "").strip() or choices[0]
    if value not in choices:
        raise InvalidInput(
            f"{name} must be one of {', '.join(choices)}",
            reason="notify_field_choice",
            params={"field": name, "choices": ", ".join(choices)},
        )
    return value


def url(form: Mapping[str, str], policy: DestinationPolicy, name: str = "url") -> str:
    """A webhook URL checked by the destination policy (resolved again at each send)."""
    value = text(form, name, limit=MAX_FIELD)
    policy.check_url(value)
    return value


def shown_url(value: str) -> str:
    """What the console shows of a webhook URL: scheme and host only (the path and query
    of a group bot's URL are its credential)."""
    parts = urlsplit(value)
    return f"{parts.scheme}://{parts.netloc}/…"
