"""The unified social credit code check (GB 32100-2015)."""

from __future__ import annotations

import pytest

from indunet import core

REAL = "91350100M000100Y43"


def test_a_real_code_is_accepted_and_normalised() -> None:
    assert core.validate_uscc(REAL) == REAL
    assert core.validate_uscc("  91350100m000100y43 ") == REAL


def test_make_uscc_completes_seventeen_characters_with_the_check() -> None:
    assert core.make_uscc(REAL[:17]) == REAL
    made = core.make_uscc("91110108MA01ABCDE")
    assert core.validate_uscc(made) == made


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
