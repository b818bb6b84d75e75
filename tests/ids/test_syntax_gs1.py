"""GS1 keys (GTIN-8/12/13/14, SSCC) with their check digit, the AIs Indunet accepts (GLN, GRAI,
GIAI, GSRN, serial, batch/lot, CPV) and their handle suffixes; each refusal names its rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    with pytest.raises(
        InvalidHandle, match="give 7, 11, 12 or 13 for a GTIN or 17 for an SSCC"
    ) as err:
        gs1.format("123")
    assert (err.value.reason, err.value.params) == (
        "gs1_body_length",
        {"value": "123", "length": 3},
    )
    with pytest.raises(InvalidHandle) as err:
        gs1.format("400638133393", "1")
    assert (err.value.reason, err.value.params) == ("gs1_format_parts", {"count": 2})


def test_gtin_suffix_pads_to_14_digits_and_is_a_valid_handle_suffix() -> None:
    suffix = gs1.gtin_suffix("4006381333931", "SN-0001")
    assert suffix == "GS1:01/04006381333931/21/SN-0001"
    assert gs1.gtin_suffix("96385074", "A") == "GS1:01/00000096385074/21/A"
    assert gs1.parse("04006381333931").kind == "GTIN-14"
    h = handle.parse(f"88.100.1/{suffix}")
    assert h.suffix == suffix
    parsed = gs1.parse_suffix(h.suffix)
    assert (parsed.get("01"), parsed.get("21"), parsed.get("10")) == (
        "04006381333931",
        "SN-0001",
        None,
    )
    assert parsed.suffix == suffix


def test_sscc_suffix_round_trips() -> None:
    suffix = gs1.sscc_suffix("106141411234567897")
    assert suffix == "GS1:00/106141411234567897"
    assert gs1.parse_suffix(suffix).elements == (("00", "106141411234567897"),)


@pytest.mark.parametrize(
    ("gtin", "serial", "fragment"),
    [
        ("4006381333931", "", "has 0 characters; its format is X..20"),
        ("4006381333931", "x" * 21, "has 21 characters; its format is X..20"),
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
        ("GS1:01/4006381333931/21/x", "pad 4006381333931 to 04006381333931"),
        ("GS1:00/4006381333931", "has 13 characters; its format is N18, check digit"),
        ("GS1:01/04006381333931/", "must alternate AI and value"),
        ("GS1:01//21/x", "must alternate AI and value"),
        ("GS1:21/x/01/04006381333931", "must start with a key AI"),
        ("GS1:01/04006381333931/21/x/10/y", "AI 10 cannot follow here after key AI 01"),
    ],
)
def test_bad_suffixes_are_refused(suffix: str, fragment: str) -> None:
    with pytest.raises(InvalidHandle) as err:
        gs1.parse_suffix(suffix)
    assert fragment in err.value.message


def test_sscc_suffix_needs_an_sscc() -> None:
    with pytest.raises(InvalidHandle, match="SSCC \\(AI 00\\) '4006381333931' has 13 char"):
        gs1.sscc_suffix("4006381333931")
    assert gs1.SCHEME == "gs1"


# -- the AI table: every accepted AI with a real value ----------------------------------------

GTIN = "09506000134352"  # GS1 Digital Link standard's example GTIN
VALID_ELEMENTS = [
    ("00", "106141411234567897"),  # SSCC
    ("01", GTIN),
    ("10", "ABC-123.4"),
    ("21", "12345!\"%&'()*+,-.:"),
    ("22", "2A"),
    ("414", "9506000134352"),  # GLN
    ("8003", "09506000134352"),  # GRAI without serial component
    ("8003", "09506000134352AB-1"),  # GRAI with serial component
    ("8004", "9506000134352;<=>?_x"),  # GIAI: CSET 82, no check digit
    ("8018", "095060001343528884"),  # GSRN
]


def test_the_gtin_example_has_the_check_digit_computed() -> None:
    assert gs1.check_digit(GTIN[:-1]) == "2"
    assert gs1.check_digit("950600013435") == gs1.check_digit("0950600013435") == "2"


@pytest.mark.parametrize(("ai", "value"), VALID_ELEMENTS)
def test_valid_values_of_every_accepted_ai(ai: str, value: str) -> None:
    assert gs1.element(ai, value) == value
    assert gs1.parse_path(f"{ai}/{value}" if gs1.AIS[ai].key else f"01/{GTIN}/{ai}/{value}")


def test_every_row_names_its_format_and_every_key_is_covered() -> None:
    assert {ai for ai, _ in VALID_ELEMENTS} == set(gs1.AIS)
    assert [a.code for a in gs1.AIS.values() if a.key] == [
        "00",
        "01",
        "414",
        "8003",
        "8004",
        "8018",
    ]
    assert gs1.AIS["01"].format == "N14, check digit"
    assert gs1.AIS["8004"].format == "X..30"
    assert len(gs1.CSET82) == 82


def test_a_slash_is_cset_82_but_cannot_sit_inside_a_suffix_value() -> None:
    assert gs1.element("21", "A/B") == "A/B"
    with pytest.raises(InvalidHandle) as err:
        gs1.parse_suffix(f"GS1:01/{GTIN}/21/A/B")
    assert err.value.reason == "gs1_path"


def test_the_whole_gtin_path_in_digital_link_order() -> None:
    parsed = gs1.parse_suffix(f"gs1:01/{GTIN}/22/2A/10/LOT-7/21/SN-1")
    assert parsed.elements == (("01", GTIN), ("22", "2A"), ("10", "LOT-7"), ("21", "SN-1"))
    assert parsed.suffix == f"GS1:01/{GTIN}/22/2A/10/LOT-7/21/SN-1"


def refusal(ai: str, value: str) -> InvalidHandle:
    with pytest.raises(InvalidHandle) as err:
        gs1.element(ai, value)
    assert err.value.status == 400 and err.value.rc == 102
    return err.value


def test_a_wrong_check_digit_names_the_expected_one() -> None:
    err = refusal("01", "09506000134353")
    assert (err.reason, err.params) == (
        "gs1_check_digit",
        {"title": "GTIN (AI 01)", "value": "09506000134353", "got": "3", "expected": "2"},
    )
    assert refusal("414", "9506000134351").params["expected"] == "2"
    assert refusal("8018", "095060001343528883").params["expected"] == "4"
    assert refusal("00", "106141411234567890").params["expected"] == "7"
    assert refusal("8003", "09506000134351X").params["expected"] == "2"


@pytest.mark.parametrize("short", ["96385074", "036000291452", "4006381333931"])
def test_a_gtin_in_ai_01_must_be_padded_to_14_digits(short: str) -> None:
    err = refusal("01", short)
    assert (err.reason, err.params) == ("gs1_gtin_pad", {"value": short, "padded": short.zfill(14)})
    assert f"pad {short} to {short.zfill(14)}" in err.message
    assert gs1.element("01", short.zfill(14)) == short.zfill(14)


@pytest.mark.parametrize(
    ("ai", "value", "char", "position"),
    [
        ("21", "SN 1", " ", 3),
        ("21", "批次-7", "批", 1),
        ("10", "L#1", "#", 2),
        ("22", "a$", "$", 2),
        ("8004", "9506000~1", "~", 8),
        ("8003", "09506000134352A@", "@", 2),  # the serial component after the 14 digits
    ],
)
def test_characters_outside_cset_82_are_named(
    ai: str, value: str, char: str, position: int
) -> None:
    err = refusal(ai, value)
    assert err.reason == "gs1_charset"
    assert (err.params["char"], err.params["position"]) == (char, position)
    assert "GS1 character set 82" in err.message


@pytest.mark.parametrize(
    ("ai", "value", "length", "fmt"),
    [
        ("01", "095060001343521", 15, "N14, check digit"),
        ("00", "1061414112345678970", 19, "N18, check digit"),
        ("21", "x" * 21, 21, "X..20"),
        ("10", "x" * 21, 21, "X..20"),
        ("22", "", 0, "X..20"),
        ("8004", "x" * 31, 31, "X..30"),
        ("8003", "09506000134352" + "x" * 17, 31, "N14, check digit, + X..16"),
        ("414", "95060001343", 11, "N13, check digit"),
    ],
)
def test_lengths_follow_the_ai_format(ai: str, value: str, length: int, fmt: str) -> None:
    err = refusal(ai, value)
    assert (err.reason, err.params["length"], err.params["format"]) == ("gs1_length", length, fmt)


def test_other_refusals_carry_their_reason() -> None:
    assert refusal("99", "x").reason == "gs1_ai_unknown"
    assert refusal("99", "x").params["ai"] == "99"
    assert refusal("01", "0950600013435X").reason == "gs1_digit"
    assert refusal("01", "0950600013435X").params == {
        "title": "GTIN (AI 01)",
        "value": "0950600013435X",
        "position": 14,
        "char": "X",
    }
    grai = "1" + gs1.format("950600013435")
    assert refusal("8003", grai).reason == "gs1_grai_filler"
    with pytest.raises(InvalidHandle) as err:
        gs1.parse("4006381333932")
    assert err.value.reason == "gs1_check_digit"
    with pytest.raises(InvalidHandle) as err:
        gs1.parse_suffix("GS1:00/106141411234567897/21/x")
    assert (err.value.reason, err.value.params["allowed"]) == ("gs1_ai_order", "none")


def test_check_suffix_passes_other_suffixes_and_refuses_bad_gs1_ones() -> None:
    gs1.check_suffix("CNC-0001")
    gs1.check_suffix("GS1-like/but/not/tagged")
    gs1.check_suffix(f"GS1:01/{GTIN}/21/A1")
    for bad in ("GS1:01/96385074/21/A1", "gs1:01/09506000134353", "GS1:01/09506000134352/21/a b"):
        with pytest.raises(InvalidHandle):
            gs1.check_suffix(bad)


# -- properties ----------------------------------------------------------------------------------


@given(
    st.sampled_from([7, 11, 12, 13, 17]).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    )
)
def test_any_computed_check_digit_validates(body: str) -> None:
    key = body + gs1.check_digit(body)
    assert gs1.validate(key) == key
    if len(key) == 14:
        assert gs1.element("01", key) == key


@given(
    st.text("0123456789", min_size=13, max_size=13),
    st.integers(0, 13),
    st.integers(1, 9),
)
def test_any_single_digit_change_fails(body: str, position: int, delta: int) -> None:
    key = body + gs1.check_digit(body)
    changed = key[:position] + str((int(key[position]) + delta) % 10) + key[position + 1 :]
    with pytest.raises(InvalidHandle) as err:
        gs1.element("01", changed)
    assert err.value.reason == "gs1_check_digit"
