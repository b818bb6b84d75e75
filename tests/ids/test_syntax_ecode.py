"""Ecode (GB/T 31866): version 1 layout, digits only, length limits."""

from __future__ import annotations

import pytest

from indunet.ids import InvalidHandle
from indunet.ids.syntax import ecode


def test_a_version_1_code_splits_into_its_fields() -> None:
    code = ecode.parse("10001" + "12345678901234567890")
    assert (code.version, code.nsi, code.md) == (1, "0001", "12345678901234567890")
    assert code.text == "1000112345678901234567890"
    assert ecode.validate("100019") == "100019"
    assert ecode.SCHEME == "ecode"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Ecode is empty"),
        ("10001A23", "character 6 ('A') is not a digit 0-9"),
        ("1000 123", "character 5 (' ') is not a digit 0-9"),
        ("1000１23", "character 5 ('１') is not a digit"),
        ("10001" + "1" * 21, "has 26 digits; version 1 allows at most 25"),
        ("10001", "needs 1 + NSI 4 + MD of at least 1 digit"),
        ("1", "needs 1 + NSI 4"),
        ("20001123", "is version 2; only version 1"),
        ("00001123", "is version 0; only version 1"),
    ],
)
def test_bad_codes_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        ecode.parse(text)
    assert fragment in err.value.message


def test_format_joins_the_fields() -> None:
    assert ecode.format(1, "0001", "42") == "1000142"
    with pytest.raises(InvalidHandle, match="NSI '001' must have 4 digits"):
        ecode.format(1, "001", "42")
    with pytest.raises(InvalidHandle, match="must be one digit"):
        ecode.format(12, "0001", "42")
    with pytest.raises(InvalidHandle, match="is version 3"):
        ecode.format(3, "0001", "42")
