"""Message catalogues of the console: one JSON file per locale, zh-CN by default.

Every piece of text a person reads in the console is a key in ``locales/<locale>.json`` or in
one of the area files ``locales/<locale>/<area>.json`` (one per console area, so areas grow
without touching each other's files; a key defined twice is an error). Templates call
``t(<key>, name=value)``; Python code that hands a key to a template marks it with
``N_(<key>)`` so the catalogue test can find it. Service errors with a ``reason`` read as the
key ``error.<reason>`` (``error_text``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locales"


def N_(key: str) -> str:
    """Mark ``key`` as a catalogue key without translating it yet."""
    return key


@functools.cache
def catalogue(locale: str) -> dict[str, str]:
    """The messages of ``locale``, read once from its JSON file."""
    if locale not in LOCALES:
        raise ValueError(f"no message catalogue for locale {locale!r}; have {', '.join(LOCALES)}")
    files = [LOCALE_DIR / f"{locale}.json", *sorted((LOCALE_DIR / locale).glob("*.json"))]
    merged: dict[str, str] = {}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError(f"{path.name} must be one object of key to text")
        twice = sorted(set(data) & set(merged))
        if twice:
            raise ValueError(f"{path.name} defines keys already defined: {', '.join(twice[:5])}")
        merged.update(data)
    return merged


def area_files(locale: str) -> list[str]:
    """The names of ``locale``'s area files (``locales/<locale>/*.json``)."""
    return sorted(p.name for p in (LOCALE_DIR / locale).glob("*.json"))


@dataclass(frozen=True, slots=True)
class Translator:
    """Looks up keys in one locale's catalogue and fills in ``{name}`` fields."""

    locale: str
    messages: dict[str, str]

    def __call__(self, key: str, **params: Any) -> str:
        """The text of ``key``; an unknown key shows as itself so it is easy to spot."""
        text = self.messages.get(key)
        if text is None:
            return key
        return text.format(**params) if params else text

    def has(self, key: str) -> bool:
        """Whether the catalogue holds ``key``."""
        return key in self.messages


def translator(locale: str) -> Translator:
    """The translator of ``locale``."""
    return Translator(locale, catalogue(locale))


def locale_of(request: Request) -> str:
    """The locale chosen with the ``lang`` cookie, else the default (zh-CN)."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def other_locale(locale: str) -> str:
    """The locale the language switch leads to."""
    return LOCALES[1] if locale == LOCALES[0] else LOCALES[0]
