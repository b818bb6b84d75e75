"""Ecode (GB/T 31866 物联网标识体系 物品编码Ecode): version, numbering scheme, master data code.

An Ecode is written as three fields one after another, with no separator:
``V`` (version, one digit), ``NSI`` (编码体系标识, the numbering scheme identifier) and
``MD`` (主码, the master data code allotted under that scheme).

Rules enforced here (a deliberately conservative structural check):

- The code is ASCII decimal digits only; no separators, no white space.
- The first digit is the version. Only version 1 is accepted, with this layout:
  ``V`` = ``1`` (1 digit), ``NSI`` = 4 digits, ``MD`` = 1 to 20 digits, so 6 to 25 digits
  in all. Version 1 is the purely decimal layout.
- A code of another version is refused with a message naming its version, rather than
  accepted unchecked.

Not enforced, because they could not be verified against the text of the standard here:

- The field widths and character sets of the other versions (0, 2, 3, 4; 5-9 reserved). The
  2023 revision (GB/T 31866-2023, which replaces the 2015 edition) keeps version 0 for codes
  compatible with the GS1 system; use :mod:`indunet.ids.syntax.gs1` for those keys.
- Which NSI values are allotted, and any structure or check digit an NSI's own scheme puts
  inside MD (both belong to the scheme's registration, GB/T 35422).
- Whether a given NSI fixes the MD length exactly; only the upper bound is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from indunet.ids.errors import InvalidHandle

SCHEME = "ecode"
SUPPORTED_VERSION = 1
NSI_DIGITS = 4
MAX_MD_DIGITS = 20
MAX_LENGTH = 1 + NSI_DIGITS + MAX_MD_DIGITS


@dataclass(frozen=True, slots=True)
class Ecode:
    """A parsed Ecode: version, numbering scheme identifier and master data code."""

    version: int
    nsi: str
    md: str

    @property
    def text(self) -> str:
        """The written form, ``V`` + ``NSI`` + ``MD``."""
        return f"{self.version}{self.nsi}{self.md}"


def parse(text: str) -> Ecode:
    """Parse an Ecode; raise ``InvalidHandle`` naming the rule that was broken."""
    if not text:
        raise InvalidHandle("Ecode is empty")
    for pos, ch in enumerate(text, 1):
        if not ("0" <= ch <= "9"):
            raise InvalidHandle(f"Ecode {text!r}: character {pos} ({ch!r}) is not a digit 0-9")
    version = int(text[0])
    if version != SUPPORTED_VERSION:
        raise InvalidHandle(
            f"Ecode {text!r} is version {version}; only version {SUPPORTED_VERSION} "
            f"(NSI {NSI_DIGITS} digits, MD up to {MAX_MD_DIGITS} digits) is checked here"
        )
    if len(text) > MAX_LENGTH:
        raise InvalidHandle(
            f"Ecode {text!r} has {len(text)} digits; version {version} allows at most "
            f"{MAX_LENGTH} (1 + NSI {NSI_DIGITS} + MD {MAX_MD_DIGITS})"
        )
    if len(text) < 1 + NSI_DIGITS + 1:
        raise InvalidHandle(
            f"Ecode {text!r} has {len(text)} digits; version {version} needs 1 + NSI "
            f"{NSI_DIGITS} + MD of at least 1 digit"
        )
    return Ecode(version, text[1 : 1 + NSI_DIGITS], text[1 + NSI_DIGITS :])


def format(*parts: str | int) -> str:
    """Join the parts in written order (version, NSI, master data code), validating them."""
    if len(parts) != 3:
        raise InvalidHandle(f"an Ecode has three parts, version, NSI and MD; got {len(parts)}")
    version, nsi, md = parts
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    nsi, md = str(nsi), str(md)
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= 9:
        raise InvalidHandle(f"Ecode version {version!r} must be one digit, 0-9")
    if len(nsi) != NSI_DIGITS:
        raise InvalidHandle(f"Ecode NSI {nsi!r} must have {NSI_DIGITS} digits")
    return parse(f"{version}{nsi}{md}").text


def validate(text: str) -> str:
    """Return a valid Ecode unchanged."""
    return parse(text).text
