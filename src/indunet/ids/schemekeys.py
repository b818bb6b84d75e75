"""OID and Ecode identifiers registered and resolved as Handle records, through ``SCHEMES``.

An OID or an Ecode is registered as a Handle whose suffix is a tag and the identifier in its
canonical written form, ``88.100.1/OID:1.2.156.3001.1`` or ``88.100.1/ECODE:100011234567``
(as GS1 keys are, ``GS1:…``). Writes check it with the scheme's ``parse`` (``check_suffix``),
and only the canonical form is accepted, so one identifier has one handle.

Resolution accepts the scheme's own form, ``oid:1.2.156.3001.1`` (also ``urn:oid:…``) or
``ecode:100011234567``: the scheme parses it (``Scheme.target``), and its routing key is walked
up with ``Scheme.parent`` until a configured arc names the Indunet prefix that holds it
(``Settings.oid_prefixes`` ``1.2.156.3001=88.100.1``, ``Settings.ecode_prefixes``
``10001=88.100.1``). The handle is then resolved as any other.
"""

from __future__ import annotations

from typing import Any

from indunet.core import NotFound
from indunet.ids.errors import InvalidHandle
from indunet.ids.syntax import gs1
from indunet.ids.syntax.scheme import ECODE, OID, Scheme

#: Handle suffix tag of each scheme carried in Handle records.
TAGS: dict[str, tuple[str, Scheme[Any]]] = {"OID:": ("oid", OID), "ECODE:": ("ecode", ECODE)}
#: How a resolution request names a scheme, lower case.
REQUEST_FORMS: dict[str, tuple[str, Scheme[Any]]] = {
    "urn:oid:": ("OID:", OID),
    "oid:": ("OID:", OID),
    "ecode:": ("ECODE:", ECODE),
}


def _parse(scheme: Scheme[Any], text: str) -> Any:
    try:
        return scheme.parse(text)
    except InvalidHandle as exc:
        raise InvalidHandle(
            exc.message,
            reason="scheme_id_invalid",
            params={"scheme": scheme.name, "value": text, "problem": exc.message},
        ) from None


def check_suffix(suffix: str) -> None:
    """Refuse a suffix tagged ``GS1:``, ``OID:`` or ``ECODE:`` (any case) whose identifier is
    malformed or not in canonical form; other suffixes pass."""
    gs1.check_suffix(suffix)
    head = suffix[:6].upper()
    for tag, (name, scheme) in TAGS.items():
        if head.startswith(tag):
            rest = suffix[len(tag) :]
            canonical = _parse(scheme, rest).text
            if canonical != rest:
                raise InvalidHandle(
                    f"write the {name} identifier as {canonical!r}, not {rest!r}",
                    reason="scheme_id_form",
                    params={"scheme": name, "value": rest, "canonical": canonical},
                )


def parse_prefix_map(text: str) -> dict[str, str]:
    """A ``<arc>=<Indunet prefix>,…`` setting as a dict."""
    out: dict[str, str] = {}
    for item in text.split(","):
        arc, _, prefix = item.strip().partition("=")
        if arc:
            out[arc] = prefix
    return out


def scheme_of(text: str) -> tuple[str, Scheme[Any], str] | None:
    """``(tag, scheme, rest)`` if ``text`` is written in an OID or Ecode form, else None."""
    low = text[:8].lower()
    for form, (tag, scheme) in REQUEST_FORMS.items():
        if low.startswith(form):
            return tag, scheme, text[len(form) :]
    return None


def handle_for(text: str, prefixes: dict[str, dict[str, str]]) -> str | None:
    """The handle of an ``oid:``/``ecode:`` identifier, or None if ``text`` is neither.

    ``prefixes`` is {scheme name: {arc: Indunet prefix}}. 400 if malformed, 404
    (``scheme_id_unmapped``) if no configured arc holds it."""
    found = scheme_of(text)
    if found is None:
        return None
    tag, scheme, rest = found
    value = _parse(scheme, rest)
    routing = scheme.routing_key(value)
    arcs = prefixes.get(scheme.name, {})
    while True:
        prefix = arcs.get(routing)
        if prefix:
            return f"{prefix}/{tag}{scheme.normalise(value)}"
        if not routing:
            break
        routing = scheme.parent(routing)
    raise NotFound(
        f"no configured {scheme.name} arc holds {value.text}",
        reason="scheme_id_unmapped",
        params={"scheme": scheme.name, "value": value.text},
    )


def configured(oid_prefixes: str, ecode_prefixes: str) -> dict[str, dict[str, str]]:
    """The ``prefixes`` argument of ``handle_for`` from the two settings."""
    return {
        OID.name: {OID.normalise_prefix(k): v for k, v in parse_prefix_map(oid_prefixes).items()},
        ECODE.name: parse_prefix_map(ecode_prefixes),
    }


def handle_of(text: str, oid_prefixes: str, ecode_prefixes: str) -> str:
    """``text`` itself, or the handle holding the ``oid:``/``ecode:`` identifier it names."""
    found = handle_for(text, configured(oid_prefixes, ecode_prefixes))
    return text if found is None else found
