"""Handle value types as families: which values a ``type=`` filter selects, and subtypes.

Rules (Handle.Net's ``Util.isParentTypeInArray``, which its resolution and REST servlets use):
- Types compare ignoring the case of ASCII letters: ``type=url`` selects ``URL`` values.
- A ``.`` separates a type from its subtype: ``URL.mirror`` is a subtype of ``URL``.
- A requested type that ends in ``.`` names a family: ``URL.`` selects ``URL``,
  ``URL.mirror`` and ``url.mirror.eu``. A requested type without the final ``.`` selects
  that type only, so ``URL`` does not select ``URL.mirror``.

Which types a record may hold is ``TemplateRegistry.validate``'s rule; subtypes of the
standard types are allowed there (``writable_parent``), except subtypes of ``HS_`` types,
whose meaning the Handle System fixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from indunet.ids.syntax.handle import upper_ascii

FAMILY = "."
#: Types the Handle System reserves: no subtypes of these may be written.
RESERVED_PREFIX = "HS_"


class TypeFilter:
    """The ``type=`` parameters of one request, ready to test value types against."""

    __slots__ = ("exact", "families")

    def __init__(self, requested: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.families: set[str] = set()
        for text in requested:
            key = upper_ascii(text)
            if key.endswith(FAMILY):
                self.families.add(key)
                self.exact.add(key[:-1])  # ``URL.`` selects ``URL`` itself too
            else:
                self.exact.add(key)

    def __bool__(self) -> bool:
        return bool(self.exact or self.families)

    def selects(self, vtype: str) -> bool:
        """True if a value of type ``vtype`` matches one of the requested types."""
        key = upper_ascii(vtype)
        if key in self.exact:
            return True
        if self.families:
            dot = key.find(FAMILY)
            while dot >= 0:
                if key[: dot + 1] in self.families:
                    return True
                dot = key.find(FAMILY, dot + 1)
        return False


def parents(vtype: str) -> Iterator[str]:
    """The types ``vtype`` is a subtype of, nearest first: ``URL.a.b`` gives ``URL.a``, ``URL``."""
    dot = vtype.rfind(FAMILY)
    while dot > 0:
        yield vtype[:dot]
        dot = vtype.rfind(FAMILY, 0, dot)


def writable_parent(vtype: str, standard: frozenset[str]) -> str | None:
    """The standard type ``vtype`` may be written as a subtype of, or ``None``.

    ``URL.mirror`` gives ``URL``; ``HS_SITE.PREFIX`` gives ``None`` (``HS_`` types are
    reserved), as does a type whose parents are not standard.
    """
    for parent in parents(vtype):
        if parent in standard:
            return None if parent.startswith(RESERVED_PREFIX) else parent
    return None


def reserved_parent(vtype: str) -> str | None:
    """The reserved (``HS_``) standard type ``vtype`` would be a subtype of, or ``None``."""
    for parent in parents(vtype):
        if upper_ascii(parent).startswith(RESERVED_PREFIX):
            return parent
    return None
