"""Handle/IDIS identifier syntax: normalisation, lookup keys, limits, prefix handles."""

from __future__ import annotations

import pytest

from indunet.ids import InvalidHandle
from indunet.ids.syntax import handle as hdl


def test_parse_keeps_display_form_and_upper_cases_the_key() -> None:
    h = hdl.parse("88.100.1/cnc-0001")
    assert (h.prefix, h.suffix, h.text) == ("88.100.1", "cnc-0001", "88.100.1/cnc-0001")
    assert h.key == "88.100.1/CNC-0001"
    assert hdl.SCHEME == "handle"


def test_lookup_is_case_insensitive_for_ascii_letters_only() -> None:
    assert hdl.key("88.abc/Serial-x") == hdl.key("88.ABC/SERIAL-X")
    # Non-ASCII letters keep their case: the Handle System folds ASCII only.
    assert hdl.key("88.1/straße") == "88.1/STRAßE"
    assert hdl.key("88.1/é") != hdl.key("88.1/É")


def test_suffix_is_nfc_normalised() -> None:
    decomposed = hdl.parse("88.100.1/cafe\u0301")
    assert decomposed.suffix == "caf\u00e9"
    assert decomposed.key == hdl.parse("88.100.1/caf\u00e9").key


def test_suffix_may_hold_slashes_and_chinese() -> None:
    h = hdl.parse("88.100.1/GS1:01/04006381333931/21/批次-7")
    assert h.prefix == "88.100.1"
    assert h.suffix == "GS1:01/04006381333931/21/批次-7"


def test_suffix_length_is_counted_in_utf8_bytes() -> None:
    assert hdl.parse("88.1/" + "a" * 255).suffix == "a" * 255
    assert hdl.parse("88.1/" + "中" * 85)  # 255 bytes
    with pytest.raises(InvalidHandle, match="256 bytes; the limit is 255"):
        hdl.parse("88.1/" + "a" * 256)
    with pytest.raises(InvalidHandle, match="258 bytes; the limit is 255"):
        hdl.parse("88.1/" + "中" * 86)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("88.100.1", "has no '/' between prefix and suffix"),
        ("88.100.1/", "has an empty suffix"),
        ("/abc", "the prefix is empty"),
        ("88..1/x", "segment '' must be 1-32 ASCII letters, digits or '-'"),
        ("88.1_0/x", "segment '1_0' must be 1-32"),
        ("88.中/x", "segment '中' must be 1-32"),
        ("88." + "9" * 33 + "/x", "must be 1-32 ASCII letters"),
        (".".join(["1"] * 11) + "/x", "has more than 10 segments"),
        (".".join(["1234567890"] * 12)[:129] + "/x", "is longer than 128 characters"),
        ("88.1/ padded", "leading or trailing white space"),
        ("88.1/padded\u3000", "leading or trailing white space"),
        ("88.1/a\tb", "control character U+0009"),
        ("88.1/a\x00b", "control character U+0000"),
        ("88.1/a\u200bb", "control character U+200B"),
        ("88.1/a\u202eb", "control character U+202E"),
        ("88.1/a\u2028b", "control character U+2028"),
        ("88.1/a\ufffeb", "control character U+FFFE"),
        ("88.1/a\ue000b", "control character U+E000"),
    ],
)
def test_bad_identifiers_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        hdl.parse(text)
    assert fragment in err.value.message
    assert err.value.rc == 102
    assert err.value.status == 400


def test_prefix_limits_allow_the_maximum() -> None:
    ten = ".".join(["1"] * 10)
    assert hdl.parse(ten + "/x").prefix == ten
    assert hdl.validate_prefix("A" * 32) == "A" * 32


def test_prefix_handles_route_to_the_parent_prefix() -> None:
    h = hdl.parse("0.na/88.100.1")
    assert h.is_prefix_handle
    assert h.routing_prefix == "88.100"
    assert hdl.parse("0.NA/88").routing_prefix == ""
    assert hdl.parse("0.NA/88.abc").routing_prefix == "88"
    assert hdl.parse("88.abc.1/x").routing_prefix == "88.ABC.1"
    assert not hdl.parse("88.100.1/0.NA").is_prefix_handle


def test_prefix_handle_suffix_must_itself_be_a_prefix() -> None:
    with pytest.raises(InvalidHandle, match="segment 'not a prefix' must be"):
        hdl.parse("0.NA/not a prefix")


def test_tree_helpers() -> None:
    assert hdl.parent_prefix("88.100.1") == "88.100"
    assert hdl.parent_prefix("88") == ""
    assert hdl.is_under("88.100.1", "88.100")
    assert hdl.is_under("88.100", "88.100")
    assert hdl.is_under("88", "")
    assert not hdl.is_under("88.1000", "88.100")
    assert not hdl.is_under("88.100", "88.100.1")


def test_format_and_validate_round_trip() -> None:
    assert hdl.format("88.100.1", "x") == "88.100.1/x"
    assert hdl.validate("88.100.1/x") == "88.100.1/x"
    with pytest.raises(InvalidHandle):
        hdl.format("88.100.1", "")
