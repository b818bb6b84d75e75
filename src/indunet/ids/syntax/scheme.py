"""The one interface every identifier scheme offers the resolver, and the table of schemes.

A node holds one prefix and a resolver walks prefixes from the root; neither needs to know
how an identifier is written, only these five operations:

- ``parse(text)``: the scheme's value type, or ``InvalidHandle`` naming the broken rule;
- ``normalise(text)``: the lookup key (store keys and the answer cache);
- ``routing_key(text)``: the prefix whose node holds the identifier;
- ``parent(prefix)``: the next prefix up (``""`` is the root);
- ``is_under(prefix, ancestor)``: equal to ``ancestor`` or below it.

Each scheme is one row of ``SCHEMES``: a frozen dataclass of functions from its own module
under ``ids/syntax/``, not a subclass. docs/contributing/adding-an-identifier-scheme.md is the
checklist for a new row; tests/ids/test_schemes.py keeps the table and the checklist true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from indunet.ids.errors import InvalidHandle
from indunet.ids.syntax import ecode, gs1, handle, oid


@dataclass(frozen=True, slots=True)
class Scheme:
    """An identifier scheme as the resolver sees it (see the module docstring)."""

    name: str
    parse: Callable[[str], object]
    normalise: Callable[[str], str]
    routing_key: Callable[[str], str]
    parent: Callable[[str], str]
    is_under: Callable[[str, str], bool]
    format: Callable[..., str]
    resolvable: bool = False


def _dotted_parent(prefix: str) -> str:
    return prefix.rpartition(".")[0]


def _dotted_under(prefix: str, ancestor: str) -> bool:
    return ancestor == "" or prefix == ancestor or prefix.startswith(ancestor + ".")


def _flat_parent(prefix: str) -> str:
    return prefix[:-1]


def _flat_under(prefix: str, ancestor: str) -> bool:
    return prefix.startswith(ancestor)


def _handle_routing(text: str) -> str:
    return handle.parse(text).routing_prefix


def _oid_routing(text: str) -> str:
    """An OID is held by the node of its parent arc: ``1.2.156.10011`` by ``1.2.156``."""
    return ".".join(str(a) for a in oid.parse(text).arcs[:-1])


def _ecode_routing(text: str) -> str:
    """An Ecode is held by the node of its version and numbering scheme (``V`` + ``NSI``)."""
    code = ecode.parse(text)
    return f"{code.version}{code.nsi}"


def _gs1_routing(text: str) -> str:
    """A GS1 key is held by the node of its GS1 prefix: three digits after the first of a
    GTIN-14 or SSCC (the indicator or extension digit), e.g. ``690``-``699`` for China."""
    key = gs1.parse(text)
    return (key.gtin14 if key.is_gtin else key.digits)[1:4]


HANDLE = Scheme(
    handle.SCHEME,
    handle.parse,
    handle.key,
    _handle_routing,
    handle.parent_prefix,
    handle.is_under,
    handle.format,
    resolvable=True,
)
OID = Scheme(
    oid.SCHEME, oid.parse, oid.validate, _oid_routing, _dotted_parent, _dotted_under, oid.format
)
ECODE = Scheme(
    ecode.SCHEME,
    ecode.parse,
    ecode.validate,
    _ecode_routing,
    _flat_parent,
    _flat_under,
    ecode.format,
)
GS1 = Scheme(
    gs1.SCHEME, gs1.parse, gs1.validate, _gs1_routing, _flat_parent, _flat_under, gs1.format
)

#: Every scheme, by name. ``resolvable`` ones are served by nodes and resolvers today.
SCHEMES: dict[str, Scheme] = {s.name: s for s in (HANDLE, OID, ECODE, GS1)}


def scheme(name: str) -> Scheme:
    """The scheme called ``name``, or ``InvalidHandle`` listing the known ones."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise InvalidHandle(
            f"unknown identifier scheme {name!r}; known: {', '.join(SCHEMES)}"
        ) from None
