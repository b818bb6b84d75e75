"""GS1 keys: GTIN-8, GTIN-12, GTIN-13, GTIN-14 and SSCC-18, each ending in a mod-10 check digit.

Rules enforced:

- A key is ASCII decimal digits only. Its length gives its kind: 8, 12, 13 or 14 digits are
  a GTIN of that length, 18 digits an SSCC (serial shipping container code).
- The last digit is the GS1 check digit: weight the other digits 3, 1, 3, 1, … starting from
  the rightmost of them, add the products, and the check digit is what brings the sum up to
  a multiple of ten.

Indunet handle suffixes for GS1 keys follow the element strings of the GS1 Application
Identifiers, in the order the GS1 Digital Link URI path uses, after a ``GS1:`` tag that keeps
them apart from an enterprise's other suffixes:

- a serialised trade item: ``GS1:01/<GTIN as 14 digits>/21/<serial>`` (AI 01 and AI 21),
  e.g. ``88.100.1/GS1:01/04006381333931/21/SN-0001``;
- a logistic unit: ``GS1:00/<SSCC>`` (AI 00).

A GTIN is always written with 14 digits in a suffix (shorter GTINs get leading zeros, which
keeps their check digit valid), so one item has exactly one suffix. A serial number is 1-20
characters of the GS1 character set 82 (letters, digits and ``!"%&'()*+,-./:;<=>?_``).
"""

from __future__ import annotations

from dataclasses import dataclass

from indunet.ids.errors import InvalidHandle

SCHEME = "gs1"
KINDS = {8: "GTIN-8", 12: "GTIN-12", 13: "GTIN-13", 14: "GTIN-14", 18: "SSCC"}
SUFFIX_TAG = "GS1:"
MAX_SERIAL = 20
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)


@dataclass(frozen=True, slots=True)
class Gs1Key:
    """A parsed GS1 key: its kind (``GTIN-13``, ``SSCC``, …) and its digits."""

    kind: str
    digits: str

    @property
    def text(self) -> str:
        """The digits as written."""
        return self.digits

    @property
    def is_gtin(self) -> bool:
        """True for GTIN-8/12/13/14."""
        return self.kind.startswith("GTIN")

    @property
    def gtin14(self) -> str:
        """A GTIN padded to 14 digits (the form used in element strings and suffixes)."""
        if not self.is_gtin:
            raise InvalidHandle(f"{self.kind} {self.digits} is not a GTIN")
        return self.digits.rjust(14, "0")


def check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for ``body`` (every digit of a key but the last)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _digits(text: str, what: str) -> None:
    if not text:
        raise InvalidHandle(f"{what} is empty")
    for pos, ch in enumerate(text, 1):
        if not ("0" <= ch <= "9"):
            raise InvalidHandle(f"{what} {text!r}: character {pos} ({ch!r}) is not a digit 0-9")


def parse(text: str) -> Gs1Key:
    """Parse a GTIN or SSCC; raise ``InvalidHandle`` naming the rule that was broken."""
    _digits(text, "GS1 key")
    kind = KINDS.get(len(text))
    if kind is None:
        raise InvalidHandle(
            f"GS1 key {text!r} has {len(text)} digits; a GTIN has 8, 12, 13 or 14 and an SSCC 18"
        )
    expected = check_digit(text[:-1])
    if text[-1] != expected:
        raise InvalidHandle(
            f"{kind} {text} fails the GS1 mod-10 check: check digit is {text[-1]}, "
            f"expected {expected}"
        )
    return Gs1Key(kind, text)


def format(*parts: str | int) -> str:
    """Complete the one part, 7, 11, 12, 13 or 17 digits, with its check digit into a key."""
    if len(parts) != 1:
        raise InvalidHandle(f"a GS1 key is written from one part, its digits; got {len(parts)}")
    body = str(parts[0])
    _digits(body, "GS1 key body")
    if len(body) + 1 not in KINDS:
        raise InvalidHandle(
            f"GS1 key body {body!r} has {len(body)} digits; give 7, 11, 12 or 13 for a GTIN "
            "or 17 for an SSCC"
        )
    return parse(body + check_digit(body)).text


def validate(text: str) -> str:
    """Return a valid GS1 key unchanged."""
    return parse(text).text


def _serial(serial: str) -> str:
    if not 1 <= len(serial) <= MAX_SERIAL:
        raise InvalidHandle(
            f"GS1 serial number {serial!r} must have 1-{MAX_SERIAL} characters, it has "
            f"{len(serial)}"
        )
    for ch in serial:
        if ch not in CSET82:
            raise InvalidHandle(
                f"GS1 serial number {serial!r} contains {ch!r}; allowed are letters, digits "
                "and !\"%&'()*+,-./:;<=>?_ (GS1 character set 82)"
            )
    return serial


def gtin_suffix(gtin: str, serial: str) -> str:
    """The handle suffix of one serialised item: ``GS1:01/<gtin14>/21/<serial>``."""
    key = parse(gtin)
    if not key.is_gtin:
        raise InvalidHandle(f"{key.kind} {gtin} is not a GTIN; use sscc_suffix for an SSCC")
    return f"{SUFFIX_TAG}01/{key.gtin14}/21/{_serial(serial)}"


def sscc_suffix(sscc: str) -> str:
    """The handle suffix of one logistic unit: ``GS1:00/<sscc>``."""
    key = parse(sscc)
    if key.kind != "SSCC":
        raise InvalidHandle(f"{key.kind} {sscc} is not an SSCC; an SSCC has 18 digits")
    return f"{SUFFIX_TAG}00/{key.digits}"


def parse_suffix(suffix: str) -> tuple[Gs1Key, str | None]:
    """Read a suffix made by ``gtin_suffix`` or ``sscc_suffix``: the key and serial (or None)."""
    if not suffix.startswith(SUFFIX_TAG):
        raise InvalidHandle(f"suffix {suffix!r} does not start with {SUFFIX_TAG!r}")
    parts = suffix[len(SUFFIX_TAG) :].split("/", 3)
    if len(parts) == 2 and parts[0] == "00":
        key = parse(parts[1])
        if key.kind != "SSCC":
            raise InvalidHandle(f"suffix {suffix!r}: AI 00 needs an 18-digit SSCC")
        return key, None
    if len(parts) == 4 and parts[0] == "01" and parts[2] == "21":
        if len(parts[1]) != 14:
            raise InvalidHandle(f"suffix {suffix!r}: AI 01 needs the GTIN as 14 digits")
        return parse(parts[1]), _serial(parts[3])
    raise InvalidHandle(f"suffix {suffix!r} is not GS1:01/<gtin14>/21/<serial> or GS1:00/<sscc>")
