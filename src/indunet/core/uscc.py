"""The unified social credit code (统一社会信用代码) of GB 32100-2015: 18 characters, last is a check.

Alphabet: digits and capital letters except I, O, Z, S, V (31 symbols, values 0..30).
Position weights are 3**i mod 31 for i = 0..16; the check value is (31 - sum mod 31) mod 31.
"""

from __future__ import annotations

from indunet.core.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def check_character(first17: str) -> str:
    """Return the check character for the first 17 characters of a code."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


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
    return norm


def make_uscc(first17: str) -> str:
    """Complete 17 characters with their check character (for samples and tests)."""
    return first17 + check_character(first17)
