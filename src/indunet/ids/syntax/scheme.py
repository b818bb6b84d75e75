"""The one interface every identifier scheme offers the resolver, and the table of schemes.

A node holds one prefix and a resolver walks prefixes from the root; neither needs to know
how an identifier is written, only these five operations:

- ``parse(text)``: the scheme's value (with a ``text`` display form), or ``InvalidHandle``
  naming the broken rule;
- ``normalise(value)``: the lookup key (store keys and the answer cache);
- ``routing_key(value)``: the prefix whose node holds the identifier;
- ``parent(prefix)``: the next prefix up (``""`` is the root);
- ``is_under(prefix, ancestor)``: equal to ``ancestor`` or below it;
- ``normalise_prefix(prefix)``: how prefixes compare (Handle: ASCII case-insensitively).

``normalise`` and ``routing_key`` take the parsed value, so the hot path parses once. Each
scheme is one row of ``SCHEMES``: a frozen dataclass of functions from its own module
under ``ids/syntax/``, not a subclass. docs/contributing/adding-an-identifier-scheme.md is the
checklist for a new row; tests/ids/test_schemes.py keeps the table and the checklist true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from indunet.ids.errors import InvalidHandle
from indunet.ids.syntax import ecode, gs1, handle, oid


class Parsed(Protocol):
    """What ``parse`` returns: any value with its display form."""

    @property
    def text(self) -> str:
        """The identifier as it is shown."""


V = TypeVar("V", bound=Parsed)


def _same(prefix: str) -> str:
    return prefix


@dataclass(frozen=True, slots=True)
class Target:
    """An identifier as nodes and resolvers handle it: display form, lookup key, routing prefix."""

    text: str
    key: str
    routing: str


@dataclass(frozen=True, slots=True)
class Scheme(Generic[V]):
    """An identifier scheme as the resolver sees it (see the module docstring)."""

    name: str
    parse: Callable[[str], V]
    normalise: Callable[[V], str]
    routing_key: Callable[[V], str]
    parent: Callable[[str], str]
    is_under: Callable[[str, str], bool]
    format: Callable[..., str]
    resolvable: bool = False
    normalise_prefix: Callable[[str], str] = field(default=_same)

    def target(self, text: str) -> Target:
        """Parse ``text`` once into what routing needs; ``InvalidHandle`` if malformed."""
        value = self.parse(text)
        return Target(value.text, self.normalise(value), self.routing_key(value))


def _dotted_parent(prefix: str) -> str:
    return prefix.rpartition(".")[0]


def _dotted_under(prefix: str, ancestor: str) -> bool:
    return ancestor == "" or prefix == ancestor or prefix.startswith(ancestor + ".")


def _flat_parent(prefix: str) -> str:
    return prefix[:-1]


def _flat_under(prefix: str, ancestor: str) -> bool:
    return prefix.startswith(ancestor)


def _handle_key(h: handle.Handle) -> str:
    return h.key


def _handle_routing(h: handle.Handle) -> str:
    return h.routing_prefix


def _text(value: Parsed) -> str:
    """The key of schemes whose canonical written form is already case- and form-free."""
    return value.text


def _oid_routing(o: oid.Oid) -> str:
    """An OID is held by the node of its parent arc: ``1.2.156.10011`` by ``1.2.156``."""
    return ".".join(str(a) for a in o.arcs[:-1])


def _ecode_routing(code: ecode.Ecode) -> str:
    """An Ecode is held by the node of its version and numbering scheme (``V`` + ``NSI``)."""
    return f"{code.version}{code.nsi}"


def _gs1_routing(key: gs1.Gs1Key) -> str:
    """A GS1 key is held by the node of its GS1 prefix: three digits after the first of a
    GTIN-14 or SSCC (the indicator or extension digit), e.g. ``690``-``699`` for China."""
    return (key.gtin14 if key.is_gtin else key.digits)[1:4]


HANDLE: Scheme[handle.Handle] = Scheme(
    handle.SCHEME,
    handle.parse,
    _handle_key,
    _handle_routing,
    handle.parent_prefix,
    handle.is_under,
    handle.format,
    resolvable=True,
    normalise_prefix=handle.normalise_prefix,
)
OID: Scheme[oid.Oid] = Scheme(
    oid.SCHEME, oid.parse, _text, _oid_routing, _dotted_parent, _dotted_under, oid.format
)
ECODE: Scheme[ecode.Ecode] = Scheme(
    ecode.SCHEME,
    ecode.parse,
    _text,
    _ecode_routing,
    _flat_parent,
    _flat_under,
    ecode.format,
)
GS1: Scheme[gs1.Gs1Key] = Scheme(
    gs1.SCHEME, gs1.parse, _text, _gs1_routing, _flat_parent, _flat_under, gs1.format
)

#: Every scheme, by name. ``resolvable`` ones are served by nodes and resolvers today.
SCHEMES: dict[str, Scheme[Any]] = {s.name: s for s in (HANDLE, OID, ECODE, GS1)}


def scheme(name: str) -> Scheme[Any]:
    """The scheme called ``name``, or ``InvalidHandle`` listing the known ones."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise InvalidHandle(
            f"unknown identifier scheme {name!r}; known: {', '.join(SCHEMES)}"
        ) from None
