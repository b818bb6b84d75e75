"""GS1 Digital Link resolution, the part that knows no HTTP: reading a Digital Link URI path,
finding the Handle records that hold it and the links in them, and the RFC 9264 linkset.

- A request path ``/01/<gtin>[/22/<cpv>][/10/<lot>][/21/<serial>]`` (or another key AI of
  ``gs1.AIS``) is read segment by segment, each percent-decoded, into a checked
  ``gs1.ElementString``. A GTIN-8/12/13 in AI 01 is padded to 14 digits here (a scanner's
  URI may carry the short form; the element string and the handle suffix never do).
- Its record is the handle ``<Indunet prefix>/GS1:<element string>``; the Indunet prefix is
  the one configured for the longest GS1 company prefix the key starts with
  (``Settings.gs1_prefixes``, ``9506000=88.100.1``). The key's company prefix starts after
  the GTIN's indicator digit, the SSCC's extension digit and the GRAI's filler digit.
- A request with qualifiers whose own record does not exist (or holds no link) is answered
  from the next less specific one: ``01/g/10/L/21/S``, then ``01/g/10/L``, then ``01/g``.
- Links are the record's public values of type ``URL.gs1:<linkType>`` or
  ``URL.gs1:<linkType>.<language>`` holding an http(s) URL (``URL.gs1:pip``,
  ``URL.gs1:certificationInfo.zh-CN``). The default link is ``URL.gs1:defaultLink``, else the
  record's first plain ``URL`` value, else its first link. A title is the record's first
  ``DESC`` value, else the link type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from indunet.core import InvalidInput, NotFound
from indunet.ids.errors import InvalidHandle
from indunet.ids.syntax import gs1
from indunet.ids.syntax.handle import upper_ascii
from indunet.ids.values import HandleValue

#: GS1 Web Vocabulary namespace, the link relation types' base (``gs1:pip``).
GS1_VOC = "https://gs1.org/voc/"
#: Other spellings of the namespace a client may use in ``linkType``.
GS1_VOC_ALIASES = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "https://www.gs1.org/voc/")
DEFAULT_LINK = "defaultLink"
LINKSET_TYPE = "application/linkset+json"
#: Longest Digital Link path accepted (bytes, before decoding), and most path segments:
#: a key and its three qualifiers are 8.
MAX_PATH = 512
MAX_SEGMENTS = 8
MAX_LINK_TYPE = 200
#: Longest link target used (characters, once percent-encoded).
MAX_HREF = 4096
_ASCII_VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}")
_LINK_TYPE_PREFIX = "URL.GS1:"
#: Where the GS1 company prefix starts in the value of each key AI.
_COMPANY_AT = {"00": 1, "01": 1, "414": 0, "8003": 1, "8004": 0, "8018": 0}
#: Characters of CSET 82 a Digital Link path keeps unencoded.
_PATH_SAFE = "!'()*+,-.:;=_"


@dataclass(frozen=True, slots=True)
class Link:
    """One link of a record: its type's name in the GS1 vocabulary (``pip``) and target."""

    link_type: str
    href: str
    lang: str = ""
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        """The RFC 9264 target object."""
        out: dict[str, Any] = {"href": self.href, "title": self.title}
        if self.lang:
            out["hreflang"] = [self.lang]
        return out


def parse_prefix_map(text: str) -> dict[str, str]:
    """``Settings.gs1_prefixes`` as {GS1 company prefix: Indunet prefix}."""
    out: dict[str, str] = {}
    for item in text.split(","):
        company, _, prefix = item.strip().partition("=")
        if company:
            out[company] = prefix
    return out


def path_segments(raw_path: str) -> list[str]:
    """The decoded segments of a Digital Link path (``/01/…``), bounded; 400 if too long."""
    if len(raw_path) > MAX_PATH or raw_path.count("/") > MAX_SEGMENTS:
        raise InvalidInput(
            f"a GS1 Digital Link path is at most {MAX_PATH} characters and "
            f"{MAX_SEGMENTS} segments (a key and its qualifiers)",
            reason="gs1_dl_too_long",
            params={"max": MAX_PATH, "segments": MAX_SEGMENTS},
        )
    # Bytes that are not UTF-8 decode to U+FFFD, which CSET 82 then refuses (gs1_charset).
    return [unquote(s, errors="replace") for s in raw_path.strip("/").split("/")]


def element_string(segments: Sequence[str]) -> gs1.ElementString:
    """Check the segments as a Digital Link path: ``InvalidHandle`` (400) with a gs1 reason."""
    parts = list(segments)
    short_gtin = len(parts) >= 2 and parts[0] == gs1.GTIN_AI and len(parts[1]) in (8, 12, 13)
    if short_gtin and parts[1].isascii() and parts[1].isdigit():
        parts[1] = parts[1].zfill(14)
    if any("/" in p for p in parts):
        path = "/".join(parts)
        raise InvalidHandle(
            f"GS1 element string {path!r} must alternate AI and value: 01/<GTIN-14>/21/<serial>",
            reason="gs1_path",
            params={"path": path},
        )
    return gs1.parse_path("/".join(parts))


def uri_path(es: gs1.ElementString) -> str:
    """The canonical Digital Link URI path of ``es``, values percent-encoded."""
    return "".join(f"/{ai}/{quote(v, safe=_PATH_SAFE)}" for ai, v in es.elements)


def less_specific(es: gs1.ElementString) -> list[gs1.ElementString]:
    """``es`` and each less specific element string, dropping its last qualifier each time."""
    return [gs1.ElementString(es.elements[:n]) for n in range(len(es.elements), 0, -1)]


def home_prefix(es: gs1.ElementString, prefixes: dict[str, str]) -> str:
    """The Indunet prefix configured for the longest GS1 company prefix of ``es``'s key."""
    ai, value = es.elements[0]
    digits = value[_COMPANY_AT.get(ai, 0) :]
    for n in range(min(12, len(digits)), 0, -1):
        found = prefixes.get(digits[:n])
        if found:
            return found
    raise NotFound(
        f"no GS1 company prefix of {ai}/{value} is served by this resolver",
        reason="gs1_dl_unmapped",
        params={"ai": ai, "value": value},
    )


def handle_of(prefix: str, es: gs1.ElementString) -> str:
    """The handle that holds ``es``'s record under ``prefix``."""
    return f"{prefix}/{es.suffix}"


def link_type_name(text: str) -> str:
    """The GS1 vocabulary name asked for by ``linkType`` (``gs1:pip`` or the full URI)."""
    name = ""
    if len(text) <= MAX_LINK_TYPE:
        if text[:4].lower() == "gs1:":
            name = text[4:]
        for base in GS1_VOC_ALIASES:
            if text.startswith(base):
                name = text[len(base) :]
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"linkType {text[:MAX_LINK_TYPE]!r} is not a GS1 link type: give gs1:<name> "
            f"(gs1:pip), {GS1_VOC}<name>, or all",
            reason="gs1_dl_link_type",
            params={"value": text[:MAX_LINK_TYPE]},
        )
    return name


def links(values: Iterable[HandleValue]) -> tuple[list[Link], Link | None]:
    """The record's links (by value index) and its first plain ``URL`` value as a default
    link, if any."""
    ordered = sorted(values, key=lambda v: v.index)
    title = next(
        (v.value for v in ordered if upper_ascii(v.type) == "DESC" and isinstance(v.value, str)),
        "",
    )
    found: list[Link] = []
    plain: Link | None = None
    for v in ordered:
        href = web_href(v.value)
        if href is None:
            continue
        kind = upper_ascii(v.type)
        if kind == "URL":
            plain = plain or Link(DEFAULT_LINK, href, "", title[:200] or f"gs1:{DEFAULT_LINK}")
        elif kind.startswith(_LINK_TYPE_PREFIX):
            name, _, lang = v.type[len(_LINK_TYPE_PREFIX) :].partition(".")
            if _NAME.fullmatch(name) and (not lang or _LANG.fullmatch(lang)):
                found.append(Link(name, href, lang, title[:200] or f"gs1:{name}"))
    return found, plain


def web_href(value: object) -> str | None:
    """``value`` as an http(s) URL fit for a ``Location`` header: non-ASCII characters
    percent-encoded (an IRI becomes its URI); None for anything else, a value with spaces or
    control characters (header injection) or longer than ``MAX_HREF``."""
    if not isinstance(value, str) or len(value) > MAX_HREF:
        return None
    low = value[:8].lower()
    if not (low.startswith("https://") or low.startswith("http://")):
        return None
    if any(ch <= " " or "\x7f" <= ch <= "\x9f" for ch in value):
        return None
    href = quote(value, safe=_ASCII_VISIBLE)
    return href if len(href) <= MAX_HREF else None


def languages(accept_language: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (bounded)."""
    ranked: list[tuple[float, int, str]] = []
    for pos, item in enumerate(accept_language[:512].split(",")[:20]):
        tag, _, q = item.strip().partition(";")
        weight = 1.0
        if q.strip().startswith("q="):
            try:
                weight = float(q.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            ranked.append((-weight, pos, tag.lower()))
    return [tag for _, _, tag in sorted(ranked)]


def pick(candidates: Sequence[Link], wanted: Sequence[str]) -> Link | None:
    """The candidate in the most wanted language (exact tag, then primary language), else the
    first one without a language, else the first."""
    for tag in wanted:
        for test in (tag, tag.split("-")[0]):
            for link in candidates:
                if link.lang and (
                    link.lang.lower() == test or link.lang.lower().split("-")[0] == test
                ):
                    return link
    return next((c for c in candidates if not c.lang), candidates[0] if candidates else None)


def default_link(found: Sequence[Link], plain: Link | None, wanted: Sequence[str]) -> Link | None:
    """``gs1:defaultLink``, else the first plain URL, else the first link."""
    chosen = pick([x for x in found if x.link_type.lower() == DEFAULT_LINK.lower()], wanted)
    return chosen or plain or pick(found, wanted)


def of_type(found: Sequence[Link], name: str, wanted: Sequence[str]) -> Link | None:
    """The link of type ``name`` (case-insensitively) in the most wanted language."""
    return pick([x for x in found if x.link_type.lower() == name.lower()], wanted)


def linkset(anchor: str, found: Sequence[Link], default: Link | None) -> dict[str, Any]:
    """The RFC 9264 JSON linkset: one context object, a relation per link type."""
    context: dict[str, Any] = {"anchor": anchor}
    for link in found:
        if link.link_type.lower() != DEFAULT_LINK.lower():
            context.setdefault(GS1_VOC + link.link_type, []).append(link.to_json())
    if default is not None:
        context[GS1_VOC + DEFAULT_LINK] = [default.to_json()]
    return {"linkset": [context]}
