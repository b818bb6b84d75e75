"""The unified social credit code (统一社会信用代码) of GB 32100-2015, checked in full.

Structure (18 characters): 1 registration department, 2 organisation category, 3-8 the
registration authority's region code (GB/T 2260, digits), 9-17 the organisation code of
GB 11714 (8-character body and its check character), 18 the check character of the whole code.

Alphabet: digits and capital letters except I, O, Z, S, V (31 symbols, values 0..30).
Position weights are 3**i mod 31 for i = 0..16; the check value is (31 - sum mod 31) mod 31.

Checks, in order, each with its own reason: length (``uscc_length``), alphabet
(``uscc_character``), the check character (``uscc_checksum``), the region (``uscc_region_unknown``)
and the organisation code's check character (``uscc_org_check``).

Region: ``100000`` (authorities of the central government) or a code whose province and city
(first four digits, as ``xx0000`` and ``xxxx00``) are GB/T 2260 divisions, current or abolished
since 2014-10 (``regions.is_known_or_former``): a USCC keeps its registration authority's code
for life. The county digits are not looked up: authorities of development zones register
under codes outside GB/T 2260 (苏州工业园区 issues ``320594``), so a code such as
``91320594…`` is real although ``320594`` is not a division.

GB 11714 organisation code: body characters take their base-36 values (0-9, A=10 … Z=35),
weights 3, 7, 9, 10, 5, 8, 4, 2; the check is 11 - sum mod 11, written ``X`` for 10 and ``0``
for 11.
"""

from __future__ import annotations

from indunet.core import regions
from indunet.core.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
#: The region code of registration authorities of the central government.
CENTRAL_REGION = "100000"


def check_character(first17: str) -> str:
    """Return the check character for the first 17 characters of a code."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_character(body: str) -> str:
    """Return the GB 11714 check character of an 8-character organisation code body."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def region_is_valid(region: str) -> bool:
    """Whether six characters can be a registration authority's region (see the module)."""
    if region == CENTRAL_REGION:
        return True
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        return False
    province, city = region[:2] + "0000", region[:4] + "00"
    if region[2:4] == "00" and region[4:] != "00":
        return False
    return regions.is_known_or_former(province) and regions.is_known_or_former(city)


def validate_uscc(code: str) -> str:
    """Return the normalised code, or raise ``InvalidInput`` naming what is wrong."""
    norm = code.strip().upper()
    if len(norm) != 18:
        raise InvalidInput(
            f"unified social credit code {code!r} must have 18 characters, it has {len(norm)}",
            reason="uscc_length",
            params={"code": code, "length": len(norm)},
        )
    bad = [ch for ch in norm if ch not in _VALUE]
    if bad:
        raise InvalidInput(
            f"unified social credit code {code!r} contains {bad[0]!r}; allowed are digits and "
            "capital letters except I, O, Z, S, V",
            reason="uscc_character",
            params={"code": code, "char": bad[0]},
        )
    expected = check_character(norm[:17])
    if norm[17] != expected:
        raise InvalidInput(
            f"unified social credit code {code!r} fails its check character (GB 32100-2015): "
            f"last character is {norm[17]!r}, expected {expected!r}",
            reason="uscc_checksum",
            params={"code": code, "got": norm[17], "expected": expected},
        )
    region = norm[2:8]
    if not region_is_valid(region):
        raise InvalidInput(
            f"unified social credit code {code!r}: characters 3-8 ({region}) are not the region "
            "code of a registration authority (GB/T 2260 province and city, or 100000)",
            reason="uscc_region_unknown",
            params={"code": code, "region": region},
        )
    org_expected = org_check_character(norm[8:16])
    if norm[16] != org_expected:
        raise InvalidInput(
            f"unified social credit code {code!r}: its organisation code {norm[8:16]}-{norm[16]} "
            f"fails its check character (GB 11714), expected {org_expected!r}",
            reason="uscc_org_check",
            params={"code": code, "org": norm[8:17], "got": norm[16], "expected": org_expected},
        )
    return norm


def make_uscc(first16: str) -> str:
    """Complete the first 16 characters (department, category, region, organisation code
    body) with the organisation code's and the whole code's check characters (for samples and
    tests)."""
    if len(first16) != 16 or any(ch not in _VALUE for ch in first16):
        raise ValueError(f"make_uscc takes 16 characters of the GB 32100 alphabet, got {first16!r}")
    first17 = first16 + org_check_character(first16[8:])
    return first17 + check_character(first17)
