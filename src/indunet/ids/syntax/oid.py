"""Object identifiers (ISO/IEC 8824-1 | ITU-T X.680, arcs registered per ISO/IEC 9834-1).

Written form (dotted decimal), e.g. ``1.2.156.10011``. China's national arc is ``1.2.156``
(iso(1) member-body(2) cn(156)). Rules enforced:

- Two or more arcs separated by ``.``; every arc is a non-negative decimal integer with no
  sign, no white space and no leading zero (``0`` itself is allowed).
- The first arc is 0 (itu-t), 1 (iso) or 2 (joint-iso-itu-t).
- Under first arcs 0 and 1 the second arc is 0-39 (the BER encoding of the first two arcs
  as ``40 * first + second`` depends on it); under 2 it may be any number.
- At most 255 characters in all, an Indunet limit so that an OID fits in a handle suffix.
- An ``urn:oid:`` prefix (RFC 3061) is accepted on input and dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indunet.ids.errors import InvalidHandle

SCHEME = "oid"
URN_PREFIX = "urn:oid:"
MAX_LENGTH = 255
CHINA_ARC = (1, 2, 156)


@dataclass(frozen=True, slots=True)
class Oid:
    """A parsed object identifier."""

    arcs: tuple[int, ...]

    @property
    def text(self) -> str:
        """The dotted decimal form."""
        return ".".join(str(a) for a in self.arcs)

    def is_under(self, ancestor: Sequence[int]) -> bool:
        """True if this OID equals ``ancestor`` or lies below it."""
        return self.arcs[: len(ancestor)] == tuple(ancestor)


def _check_arcs(arcs: Sequence[int], text: str) -> None:
    if len(arcs) < 2:
        raise InvalidHandle(f"object identifier {text!r} needs at least two arcs, e.g. 1.2.156")
    first, second = arcs[0], arcs[1]
    if first not in (0, 1, 2):
        raise InvalidHandle(
            f"object identifier {text!r}: first arc is {first}; it must be 0, 1 or 2"
        )
    if first in (0, 1) and second > 39:
        raise InvalidHandle(
            f"object identifier {text!r}: second arc is {second}; under first arc {first} "
            "it must be 0-39"
        )


def parse(text: str) -> Oid:
    """Parse a dotted OID; raise ``InvalidHandle`` naming the rule that was broken."""
    body = text[len(URN_PREFIX) :] if text.lower().startswith(URN_PREFIX) else text
    if not body:
        raise InvalidHandle("object identifier is empty")
    if len(body) > MAX_LENGTH:
        raise InvalidHandle(
            f"object identifier is {len(body)} characters; the limit is {MAX_LENGTH}"
        )
    arcs: list[int] = []
    for pos, arc in enumerate(body.split("."), 1):
        if not arc:
            raise InvalidHandle(f"object identifier {text!r}: arc {pos} is empty")
        if not (arc.isascii() and arc.isdigit()):
            raise InvalidHandle(
                f"object identifier {text!r}: arc {pos} ({arc!r}) must be decimal digits"
            )
        if len(arc) > 1 and arc[0] == "0":
            raise InvalidHandle(
                f"object identifier {text!r}: arc {pos} ({arc!r}) has a leading zero"
            )
        arcs.append(int(arc))
    _check_arcs(arcs, text)
    return Oid(tuple(arcs))


def format(*parts: str | int) -> str:
    """Write the arcs (the parts, in written order) in dotted form, validating them."""
    arcs = [int(a) if isinstance(a, str) and a.isascii() and a.isdigit() else a for a in parts]
    if any(isinstance(a, bool) or not isinstance(a, int) or a < 0 for a in arcs):
        raise InvalidHandle(f"object identifier arcs {list(arcs)} must be integers ≥ 0")
    return parse(".".join(str(a) for a in arcs)).text


def validate(text: str) -> str:
    """Return the canonical dotted form of a valid OID."""
    return parse(text).text
