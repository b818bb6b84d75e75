"""GS1 keys (GTIN-8/12/13/14, SSCC) with their check digit, and their handle suffixes."""

from __future__ import annotations

import pytest

from indunet.ids import InvalidHandle
from indunet.ids.syntax import gs1, handle


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("96385074", "GTIN-8"),
        ("036000291452", "GTIN-12"),
        ("4006381333931", "GTIN-13"),
        ("6901234567892", "GTIN-13"),
        ("10614141000019", "GTIN-14"),
        ("106141411234567897", "SSCC"),
    ],
)
def test_valid_keys_report_their_kind(text: str, kind: str) -> None:
    key = gs1.parse(text)
    assert (key.kind, key.digits, key.text) == (kind, text, text)
    assert gs1.validate(text) == text


def test_wrong_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(InvalidHandle) as err:
        gs1.parse("4006381333932")
    assert err.value.message == (
        "GTIN-13 4006381333932 fails the GS1 mod-10 check: check digit is 2, expected 1"
    )
    with pytest.raises(InvalidHandle, match=r"SSCC 106141411234567890 .* expected 7"):
        gs1.parse("106141411234567890")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "GS1 key is empty"),
        ("400638133393", "GTIN-12 400638133393 fails the GS1 mod-10 check"),
        ("12345", "has 5 digits; a GTIN has 8, 12, 13 or 14 and an SSCC 18"),
        ("1234567890123456", "has 16 digits"),
        ("40063813339-1", "character 12 ('-') is not a digit 0-9"),
        ("4006381333931 ", "character 14 (' ') is not a digit"),
    ],
)
def test_bad_keys_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        gs1.parse(text)
    assert fragment in err.value.message


def test_format_adds_the_check_digit() -> None:
    assert gs1.format("400638133393") == "4006381333931"
    assert gs1.format("9638507") == "96385074"
    assert gs1.format("10614141123456789") == "106141411234567897"
    with pytest.raises(InvalidHandle, match="give 7, 11, 12 or 13 for a GTIN or 17 for an SSCC"):
        gs1.format("123")


def test_gtin_suffix_pads_to_14_digits_and_is_a_valid_handle_suffix() -> None:
    suffix = gs1.gtin_suffix("4006381333931", "SN-0001")
    assert suffix == "GS1:01/04006381333931/21/SN-0001"
    assert gs1.gtin_suffix("96385074", "A") == "GS1:01/00000096385074/21/A"
    assert gs1.parse("04006381333931").kind == "GTIN-14"
    h = handle.parse(f"88.100.1/{suffix}")
    assert h.suffix == suffix
    key, serial = gs1.parse_suffix(h.suffix)
    assert (key.digits, serial) == ("04006381333931", "SN-0001")


def test_sscc_suffix_round_trips() -> None:
    suffix = gs1.sscc_suffix("106141411234567897")
    assert suffix == "GS1:00/106141411234567897"
    assert gs1.parse_suffix(suffix) == (gs1.parse("106141411234567897"), None)


@pytest.mark.parametrize(
    ("gtin", "serial", "fragment"),
    [
        ("4006381333931", "", "must have 1-20 characters, it has 0"),
        ("4006381333931", "x" * 21, "must have 1-20 characters, it has 21"),
        ("4006381333931", "批次", "contains '批'"),
        ("4006381333931", "a b", "contains ' '"),
        ("4006381333931", "a#b", "GS1 character set 82"),
        ("4006381333932", "1", "expected 1"),
        ("106141411234567897", "1", "SSCC 106141411234567897 is not a GTIN"),
    ],
)
def test_bad_gtin_suffix_input_is_refused(gtin: str, serial: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        gs1.gtin_suffix(gtin, serial)
    assert fragment in err.value.message


@pytest.mark.parametrize(
    ("suffix", "fragment"),
    [
        ("CNC-1", "does not start with 'GS1:'"),
        ("GS1:01/4006381333931/21/x", "AI 01 needs the GTIN as 14 digits"),
        ("GS1:00/4006381333931", "AI 00 needs an 18-digit SSCC"),
        ("GS1:01/04006381333931", "is not GS1:01/<gtin14>/21/<serial> or GS1:00/<sscc>"),
        ("GS1:01/04006381333931/10/x", "is not GS1:01/<gtin14>/21/<serial>"),
    ],
)
def test_bad_suffixes_are_refused(suffix: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        gs1.parse_suffix(suffix)
    assert fragment in err.value.message


def test_sscc_suffix_needs_an_sscc() -> None:
    with pytest.raises(InvalidHandle, match="GTIN-13 4006381333931 is not an SSCC"):
        gs1.sscc_suffix("4006381333931")
    assert gs1.SCHEME == "gs1"
