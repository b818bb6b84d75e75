"""Handle/IDIS identifiers: ``prefix/suffix``, e.g. ``88.100.1/CNC-0001``.

Rules (also in docs/ids/identifiers.md):
- The prefix is dot-separated segments of ASCII letters, digits and ``-``; at most 10 segments,
  each 1-32 characters, the whole prefix at most 128 characters. ``0.NA`` is the prefix of
  prefix handles (``0.NA/88.100.1`` describes prefix ``88.100.1``).
- The suffix is 1-255 UTF-8 bytes after Unicode NFC normalisation; no control, format,
  private-use or unassigned characters, no line or paragraph separators, no leading or
  trailing white space.
- Matching is case-insensitive for ASCII letters, as in the Handle System default: the key
  used for storage and lookup upper-cases ASCII letters, the display form keeps the case
  it was registered with.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from indunet.ids.errors import InvalidHandle

SCHEME = "handle"
PREFIX_HANDLE_PREFIX = "0.NA"
MAX_SEGMENTS = 10
MAX_SEGMENT_LEN = 32
MAX_PREFIX_LEN = 128
MAX_SUFFIX_BYTES = 255

_SEGMENT = re.compile(r"[A-Za-z0-9-]{1,32}\Z")
_REFUSED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class Handle:
    """A parsed identifier.

    Its lookup key and routing prefix are worked out once, when it is made: a bulk import
    asks for them several times per row.
    """

    prefix: str
    suffix: str
    key: str = field(init=False, repr=False, compare=False)
    """The normalised lookup key (ASCII letters upper-cased)."""
    is_prefix_handle: bool = field(init=False, repr=False, compare=False)
    """True for ``0.NA/<prefix>`` handles, which describe a prefix."""
    routing_prefix: str = field(init=False, repr=False, compare=False)
    """The prefix that decides which node holds this handle (normalised).

    A prefix handle ``0.NA/88.100.1`` is held by the node of the parent prefix ``88.100``;
    ``0.NA/88`` by the root (empty routing prefix). Every other handle is held by the node
    of its own prefix."""

    def __post_init__(self) -> None:
        upper = self.prefix.translate(_ASCII_UPPER)
        suffix = self.suffix.translate(_ASCII_UPPER)
        is_prefix = upper == PREFIX_HANDLE_PREFIX
        object.__setattr__(self, "key", f"{upper}/{suffix}")
        object.__setattr__(self, "is_prefix_handle", is_prefix)
        object.__setattr__(self, "routing_prefix", parent_prefix(suffix) if is_prefix else upper)

    @property
    def text(self) -> str:
        """The display form, ``prefix/suffix``."""
        return f"{self.prefix}/{self.suffix}"


def upper_ascii(text: str) -> str:
    """Upper-case the ASCII letters of ``text`` (the case rule of lookup keys)."""
    return text.translate(_ASCII_UPPER)


def prefix_handle_key(prefix: str) -> str:
    """Lookup key of the prefix handle describing ``prefix``: ``0.NA/<PREFIX>``."""
    return f"{PREFIX_HANDLE_PREFIX}/{upper_ascii(prefix)}"


def normalise_prefix(prefix: str) -> str:
    """Upper-case ASCII letters of a prefix (prefixes compare case-insensitively)."""
    return prefix.translate(_ASCII_UPPER)


def parent_prefix(prefix: str) -> str:
    """``88.100.1`` -> ``88.100``; a single segment's parent is the root, ``""``."""
    return prefix.rpartition(".")[0]


def is_under(prefix: str, ancestor: str) -> bool:
    """True if ``prefix`` equals ``ancestor`` or lies below it (root ``""`` holds all)."""
    return ancestor == "" or prefix == ancestor or prefix.startswith(ancestor + ".")


def validate_prefix(prefix: str) -> str:
    """Return the prefix if it is well formed, else raise ``InvalidHandle``."""
    if prefix in _VALID_PREFIXES:
        return prefix
    _check_prefix(prefix)
    if len(_VALID_PREFIXES) >= _VALID_PREFIXES_MAX:
        _VALID_PREFIXES.clear()
    _VALID_PREFIXES.add(prefix)
    return prefix


#: Prefixes found well formed, so that a file of a million rows under a few prefixes checks
#: each prefix once (forgotten all at once when full).
_VALID_PREFIXES: set[str] = set()
_VALID_PREFIXES_MAX = 4096


def _check_prefix(prefix: str) -> None:
    if not prefix:
        raise InvalidHandle("the prefix is empty", reason="prefix_empty")
    if len(prefix) > MAX_PREFIX_LEN:
        raise InvalidHandle(
            f"prefix {prefix!r} is longer than {MAX_PREFIX_LEN} characters",
            reason="prefix_too_long",
            params={"max": MAX_PREFIX_LEN},
        )
    segments = prefix.split(".")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidHandle(
            f"prefix {prefix!r} has more than {MAX_SEGMENTS} segments",
            reason="prefix_segments",
            params={"prefix": prefix, "max": MAX_SEGMENTS},
        )
    for seg in segments:
        if not _SEGMENT.match(seg):
            raise InvalidHandle(
                f"prefix {prefix!r}: segment {seg!r} must be 1-{MAX_SEGMENT_LEN} ASCII letters, "
                "digits or '-'",
                reason="prefix_segment",
                params={"prefix": prefix, "segment": seg, "max": MAX_SEGMENT_LEN},
            )


def parse(text: str) -> Handle:
    """Parse ``prefix/suffix``; raise ``InvalidHandle`` naming the rule that was broken."""
    if "/" not in text:
        raise InvalidHandle(
            f"identifier {text!r} has no '/' between prefix and suffix",
            reason="handle_no_slash",
            params={"handle": text},
        )
    prefix, _, suffix = text.partition("/")
    validate_prefix(prefix)
    plain = suffix.isascii()  # ASCII is its own NFC form, and printable means no Cc in it
    if not plain:
        suffix = unicodedata.normalize("NFC", suffix)
    if not suffix:
        raise InvalidHandle(
            f"identifier {text!r} has an empty suffix",
            reason="handle_empty_suffix",
            params={"handle": text},
        )
    if len(suffix.encode()) > MAX_SUFFIX_BYTES:
        raise InvalidHandle(
            f"suffix of {prefix}/… is {len(suffix.encode())} bytes; the limit is {MAX_SUFFIX_BYTES}",
            reason="handle_suffix_too_long",
            params={"size": len(suffix.encode()), "max": MAX_SUFFIX_BYTES},
        )
    if suffix != suffix.strip():
        raise InvalidHandle(
            f"suffix {suffix!r} has leading or trailing white space",
            reason="handle_suffix_space",
            params={"suffix": suffix},
        )
    for ch in "" if plain and suffix.isprintable() else suffix:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise InvalidHandle(
                f"suffix {suffix!r} contains control character U+{ord(ch):04X}",
                reason="handle_control_character",
                params={"code": f"U+{ord(ch):04X}"},
            )
    if prefix.translate(_ASCII_UPPER) == PREFIX_HANDLE_PREFIX:
        validate_prefix(suffix)
    return Handle(prefix, suffix)


def validate(text: str) -> str:
    """Return the display form of a valid identifier."""
    return parse(text).text


def format(*parts: str | int) -> str:
    """Join the parts in written order (prefix, suffix) into an identifier, validating both."""
    if len(parts) != 2:
        raise InvalidHandle(f"a handle has two parts, prefix and suffix; got {len(parts)}")
    prefix, suffix = parts
    return parse(f"{prefix}/{suffix}").text


def key(text: str) -> str:
    """Normalised lookup key of an identifier."""
    return parse(text).key
