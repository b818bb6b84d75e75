"""The unified social credit code check (GB 32100-2015, GB/T 2260 region, GB 11714 inside)."""

from __future__ import annotations

import pytest

from indunet import core
from indunet.core import uscc

REAL = "91350100M000100Y43"


def test_a_real_code_is_accepted_and_normalised() -> None:
    assert core.validate_uscc(REAL) == REAL
    assert core.validate_uscc("  91350100m000100y43 ") == REAL


def test_make_uscc_completes_sixteen_characters_with_both_checks() -> None:
    assert core.make_uscc(REAL[:16]) == REAL
    made = core.make_uscc("91110108MA01ABCD")
    assert core.validate_uscc(made) == made
    with pytest.raises(ValueError, match="16 characters"):
        core.make_uscc(REAL[:17])
    with pytest.raises(ValueError, match="16 characters"):
        core.make_uscc("91350200MA3GOVXX")  # O and V are not in the alphabet


# Published codes of real enterprises (business licences shown on their sites and in public
# registers): each passes all three checks, the letters of MA… bodies included.
PUBLISHED = [
    "914403001922038216",  # 华为技术有限公司, 440300 深圳市
    "9144030071526726XG",  # 腾讯科技（深圳）有限公司, organisation check X
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91110108558521630L",  # organisation check 0 (11 - 0)
    "91350503MA31DKY80A",
    "91440101MA5CJQ4N59",  # 440101: 市辖区 of 广州市, listed by GB/T 2260 until 2018
    "91230184MA1BUFLT44",
    "92371000MA3MXH0E3W",  # 个体工商户
    "123502001549897397",  # 事业单位
    "91320594780268314T",  # 苏州工业园区: 320594 is no GB/T 2260 division
    "11100000000013127D",  # 100000: an authority of the central government
]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_pass_every_check(code: str) -> None:
    assert core.validate_uscc(code) == code


def test_org_check_character_follows_gb_11714() -> None:
    # 3,7,9,10,5,8,4,2: 19220382 sums to 164, 164 mod 11 = 10, 11 - 10 = 1.
    assert uscc.org_check_character("19220382") == "1"
    assert uscc.org_check_character("71526726") == "X"
    assert uscc.org_check_character("55852163") == "0"
    assert uscc.org_check_character("MA31DKY8") == "0"  # M = 22, A = 10, … Y = 34


def test_a_wrong_organisation_check_has_its_own_reason() -> None:
    first17 = REAL[:16] + "5"  # GB 11714 wants 4 here
    code = first17 + uscc.check_character(first17)
    with pytest.raises(core.InvalidInput) as err:
        core.validate_uscc(code)
    assert err.value.reason == "uscc_org_check"
    assert err.value.params["expected"] == "4"
    assert "GB 11714" in err.value.message


@pytest.mark.parametrize(
    "region",
    [
        "990100",  # no province 99
        "358800",  # no city 3588 in 福建省
        "350088",  # a province with county digits but no city
        "A50100",  # letters are in the alphabet but not in a region code
        "000000",
    ],
)
def test_a_region_that_is_no_registration_authority_is_refused(region: str) -> None:
    code = core.make_uscc("91" + region + "M000100Y")
    with pytest.raises(core.InvalidInput) as err:
        core.validate_uscc(code)
    assert err.value.reason == "uscc_region_unknown"
    assert err.value.params["region"] == region


@pytest.mark.parametrize(
    "region",
    [
        "371200",  # 莱芜市, merged into 济南市 in 2019: old codes stay valid for life
        "371202",  # an area of it
        "652100",  # 吐鲁番地区, a city since 2015
        "110228",  # 密云县, a district (110118) since 2015
        "320594",  # 苏州工业园区's registration authority
        "100000",
        "350000",
    ],
)
def test_codes_of_abolished_divisions_and_zones_stay_valid(region: str) -> None:
    code = core.make_uscc("91" + region + "M000100Y")
    assert core.validate_uscc(code) == code


def test_the_check_character_is_checked_before_region_and_organisation() -> None:
    # A typo is named as one (uscc_checksum), not as a region or organisation problem.
    with pytest.raises(core.InvalidInput) as err:
        core.validate_uscc("99" + REAL[2:])
    assert err.value.reason == "uscc_checksum"


def test_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(core.InvalidInput) as err:
        core.validate_uscc(REAL[:17] + "4")
    assert "last character is '4', expected '3'" in err.value.message
    assert "GB 32100-2015" in err.value.message
    assert err.value.status == 400
    assert err.value.code == "invalid_input"


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V", "-", "中"])
def test_characters_outside_the_alphabet_are_named(letter: str) -> None:
    code = REAL[:8] + letter + REAL[9:]
    with pytest.raises(core.InvalidInput) as err:
        core.validate_uscc(code)
    assert f"contains {letter!r}" in err.value.message
    assert "except I, O, Z, S, V" in err.value.message


@pytest.mark.parametrize("code", [REAL[:17], REAL + "1", ""])
def test_wrong_length_is_refused_with_the_length(code: str) -> None:
    with pytest.raises(core.InvalidInput) as err:
        core.validate_uscc(code)
    assert f"must have 18 characters, it has {len(code)}" in err.value.message
