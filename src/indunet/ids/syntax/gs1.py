"""GS1 keys and element strings: the Application Identifiers Indunet accepts, CSET 82 and the
mod-10 check digit (GS1 General Specifications, GenSpecs; GS1 Digital Link URI syntax, DL).

Rules enforced:

- A bare key (``parse``) is ASCII decimal digits; its length gives its kind: 8, 12, 13 or 14
  digits a GTIN of that length, 18 an SSCC (GenSpecs §3.2 AI 00 and AI 01).
- Check digit (GenSpecs §7.9.1): weight the digits before the last 3, 1, 3, 1, … starting
  from the rightmost of them and add the products; the check digit is what brings the sum up
  to a multiple of ten. The same algorithm serves GTIN-8/12/13/14, GLN, SSCC, GRAI and GSRN.
- Each element is one row of ``AIS`` (GenSpecs §3.2, the AI table): ``N18`` is exactly 18
  digits, ``X..20`` 1-20 characters of CSET 82, ``N14+X..16`` 14 digits then 0-16 CSET 82
  characters. Rows marked with a check digit end their numeric part in one.
- In AI 01 a GTIN is always 14 digits (GenSpecs §3.2 AI 01): a GTIN-8, -12 or -13 is padded
  with leading zeros, which keeps its check digit valid. An unpadded one is refused with the
  padded form in the message, so one item has exactly one element string.
- AI 8003 (GRAI) starts with a filler digit ``0`` before its 13-digit key (GenSpecs §3.9.3).
- CSET 82 (GenSpecs §7.11, figure 7.11-1) is the 82 characters ``CSET82``: letters, digits
  and ``!"%&'()*+,-./:;<=>?_``; nothing else, no space, no ``#``, no non-ASCII.

Indunet handle suffixes for GS1 identifiers are a ``GS1:`` tag (any case) followed by the
element string written as a GS1 Digital Link URI path (DL §4), AI and value alternating:

- a key AI first: ``00``, ``01``, ``414``, ``8003``, ``8004`` or ``8018``;
- after ``01`` only its qualifiers, each once, in the order ``22``, ``10``, ``21`` (DL's
  ``gtin-path``); the other keys take no qualifier here;
- a value in a suffix holds no ``/`` (CSET 82 has it, but it would split the path; DL
  percent-encodes it, a handle suffix keeps it literal);
- e.g. ``88.100.1/GS1:01/04006381333931/21/SN-0001`` or ``88.100.1/GS1:00/106141411234567897``.

Every refusal is ``InvalidHandle`` (HTTP 400, ``responseCode`` 102) with a ``gs1_*`` reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indunet.ids.errors import InvalidHandle

SCHEME = "gs1"
KINDS = {8: "GTIN-8", 12: "GTIN-12", 13: "GTIN-13", 14: "GTIN-14", 18: "SSCC"}
SUFFIX_TAG = "GS1:"
GTIN_AI = "01"
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)


@dataclass(frozen=True, slots=True)
class Ai:
    """One Application Identifier: its value is ``digits`` digits, then up to ``text`` CSET 82
    characters (at least one when there are no digits)."""

    code: str
    title: str
    format: str
    digits: int = 0
    check_digit: bool = False
    text: int = 0
    key: bool = False
    qualifiers: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How a message names it: ``GTIN (AI 01)``."""
        return f"{self.title} (AI {self.code})"


#: The AIs Indunet accepts, as GenSpecs §3.2 defines them; ``qualifiers`` in DL path order.
AIS: dict[str, Ai] = {
    a.code: a
    for a in (
        Ai("00", "SSCC", "N18, check digit", digits=18, check_digit=True, key=True),
        Ai(
            "01",
            "GTIN",
            "N14, check digit",
            digits=14,
            check_digit=True,
            key=True,
            qualifiers=("22", "10", "21"),
        ),
        Ai("10", "BATCH/LOT", "X..20", text=20),
        Ai("21", "SERIAL", "X..20", text=20),
        Ai("22", "CPV", "X..20", text=20),
        Ai("414", "GLN", "N13, check digit", digits=13, check_digit=True, key=True),
        Ai(
            "8003",
            "GRAI",
            "N14, check digit, + X..16",
            digits=14,
            check_digit=True,
            text=16,
            key=True,
        ),
        Ai("8004", "GIAI", "X..30", text=30, key=True),
        Ai("8018", "GSRN", "N18, check digit", digits=18, check_digit=True, key=True),
    )
}


def _refused(message: str, *, reason: str, **params: Any) -> InvalidHandle:
    return InvalidHandle(message, reason=reason, params=params)


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
            raise _refused(
                f"{self.kind} {self.digits} is not a GTIN",
                reason="gs1_not_gtin",
                value=self.digits,
                kind=self.kind,
            )
        return self.digits.rjust(14, "0")


@dataclass(frozen=True, slots=True)
class ElementString:
    """A checked element string: (AI, value) pairs, the key AI first."""

    elements: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        """The Digital Link path form, ``01/04006381333931/21/SN-0001``."""
        return "/".join(f"{ai}/{value}" for ai, value in self.elements)

    @property
    def suffix(self) -> str:
        """The handle suffix, ``GS1:`` and the path."""
        return SUFFIX_TAG + self.text

    def get(self, ai: str) -> str | None:
        """The value of ``ai``, or None if the element string has none."""
        return dict(self.elements).get(ai)


def check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for ``body`` (every digit of a key but the last)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _digits(text: str, title: str) -> None:
    if not text:
        raise _refused(f"{title} is empty", reason="gs1_empty", title=title)
    for pos, ch in enumerate(text, 1):
        if not ("0" <= ch <= "9"):
            raise _refused(
                f"{title} {text!r}: character {pos} ({ch!r}) is not a digit 0-9",
                reason="gs1_digit",
                title=title,
                value=text,
                position=pos,
                char=ch,
            )


def _check(digits: str, title: str) -> None:
    expected = check_digit(digits[:-1])
    if digits[-1] != expected:
        raise _refused(
            f"{title} {digits} fails the GS1 mod-10 check: check digit is {digits[-1]}, "
            f"expected {expected}",
            reason="gs1_check_digit",
            title=title,
            value=digits,
            got=digits[-1],
            expected=expected,
        )


def _cset82(text: str, title: str) -> None:
    for pos, ch in enumerate(text, 1):
        if ch not in CSET82:
            raise _refused(
                f"{title} {text!r} contains {ch!r} at position {pos}; allowed are letters, "
                "digits and !\"%&'()*+,-./:;<=>?_ (GS1 character set 82)",
                reason="gs1_charset",
                title=title,
                value=text,
                position=pos,
                char=ch,
            )


def parse(text: str) -> Gs1Key:
    """Parse a GTIN or SSCC; raise ``InvalidHandle`` naming the rule that was broken."""
    _digits(text, "GS1 key")
    kind = KINDS.get(len(text))
    if kind is None:
        raise _refused(
            f"GS1 key {text!r} has {len(text)} digits; a GTIN has 8, 12, 13 or 14 and an SSCC 18",
            reason="gs1_key_length",
            value=text,
            length=len(text),
        )
    _check(text, kind)
    return Gs1Key(kind, text)


def format(*parts: str | int) -> str:
    """Complete the one part, 7, 11, 12, 13 or 17 digits, with its check digit into a key."""
    if len(parts) != 1:
        raise _refused(
            f"a GS1 key is written from one part, its digits; got {len(parts)}",
            reason="gs1_format_parts",
            count=len(parts),
        )
    body = str(parts[0])
    _digits(body, "GS1 key body")
    if len(body) + 1 not in KINDS:
        raise _refused(
            f"GS1 key body {body!r} has {len(body)} digits; give 7, 11, 12 or 13 for a GTIN "
            "or 17 for an SSCC",
            reason="gs1_body_length",
            value=body,
            length=len(body),
        )
    return parse(body + check_digit(body)).text


def validate(text: str) -> str:
    """Return a valid GS1 key unchanged."""
    return parse(text).text


def element(ai: str, value: str) -> str:
    """Return ``value`` if it is a valid value of ``ai`` (see ``AIS``), else refuse it."""
    row = AIS.get(ai)
    if row is None:
        raise _refused(
            f"AI {ai!r} is not one Indunet accepts; known: {', '.join(AIS)}",
            reason="gs1_ai_unknown",
            ai=ai,
            known=", ".join(AIS),
        )
    head, tail = value[: row.digits], value[row.digits :]
    if row.digits:
        _digits(head, row.label)
    fits = len(head) == row.digits and len(tail) <= row.text and (row.digits > 0 or tail != "")
    if not fits:
        if ai == GTIN_AI and len(value) in (8, 12, 13):
            raise _refused(
                f"a GTIN in AI 01 is written with 14 digits: pad {value} to {value.zfill(14)}",
                reason="gs1_gtin_pad",
                value=value,
                padded=value.zfill(14),
            )
        raise _refused(
            f"{row.label} {value!r} has {len(value)} characters; its format is {row.format}",
            reason="gs1_length",
            title=row.label,
            length=len(value),
            format=row.format,
        )
    if ai == "8003" and head[0] != "0":
        raise _refused(
            f"{row.label} {value!r} must start with the filler digit 0",
            reason="gs1_grai_filler",
            value=value,
        )
    if row.check_digit:
        _check(head, row.label)
    _cset82(tail, row.label)
    return value


def _order_error(ai: str, key: str) -> InvalidHandle:
    allowed = ", ".join(AIS[key].qualifiers) or "none"
    return _refused(
        f"AI {ai} cannot follow here after key AI {key}: its qualifiers are {allowed}, once "
        "each and in that order",
        reason="gs1_ai_order",
        ai=ai,
        key=key,
        allowed=allowed,
    )


def parse_path(path: str) -> ElementString:
    """Check a Digital Link style path ``<key AI>/<value>[/<AI>/<value>]…``."""
    parts = path.split("/")
    if len(parts) % 2 or not all(parts):
        raise _refused(
            f"GS1 element string {path!r} must alternate AI and value: 01/<GTIN-14>/21/<serial>",
            reason="gs1_path",
            path=path,
        )
    pairs = tuple(zip(parts[::2], parts[1::2], strict=True))
    for ai, value in pairs:
        element(ai, value)
    key = pairs[0][0]
    if not AIS[key].key:
        raise _refused(
            f"GS1 element string {path!r} must start with a key AI "
            f"({', '.join(a.code for a in AIS.values() if a.key)}), not {key}",
            reason="gs1_key_first",
            ai=key,
        )
    order = AIS[key].qualifiers
    last = -1
    for ai, _ in pairs[1:]:
        if ai not in order or order.index(ai) <= last:
            raise _order_error(ai, key)
        last = order.index(ai)
    return ElementString(pairs)


def is_tagged(suffix: str) -> bool:
    """True if a handle suffix claims to be a GS1 element string (``GS1:`` in any case)."""
    return suffix[: len(SUFFIX_TAG)].upper() == SUFFIX_TAG


def parse_suffix(suffix: str) -> ElementString:
    """Read a ``GS1:<path>`` handle suffix; refuse it naming the broken rule."""
    if not is_tagged(suffix):
        raise _refused(
            f"suffix {suffix!r} does not start with {SUFFIX_TAG!r}",
            reason="gs1_no_tag",
            suffix=suffix,
        )
    return parse_path(suffix[len(SUFFIX_TAG) :])


def check_suffix(suffix: str) -> None:
    """Refuse a handle suffix that claims GS1 (``GS1:…``) and is not a valid element string;
    others pass. Writes call it, so malformed GS1 identifiers are never registered."""
    if is_tagged(suffix):
        parse_suffix(suffix)


def gtin_suffix(gtin: str, serial: str) -> str:
    """The handle suffix of one serialised item: ``GS1:01/<gtin14>/21/<serial>``."""
    key = parse(gtin)
    return ElementString(((GTIN_AI, key.gtin14), ("21", element("21", serial)))).suffix


def sscc_suffix(sscc: str) -> str:
    """The handle suffix of one logistic unit: ``GS1:00/<sscc>``."""
    return ElementString((("00", element("00", sscc)),)).suffix
