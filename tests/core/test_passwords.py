"""The password rules: length, the common-password list, the username, variety."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core.passwords import COMMON_FILE, WeakPassword, check_password, common_passwords


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Sh0rt-pw", "10 to 1024 characters"),  # 8 characters used to be enough
        ("x" * 1025, "10 to 1024 characters"),
        ("password123", "most common"),
        ("QWERTYUIOP", "most common"),  # compared case-insensitively
        ("1qaz2wsx3edc", "most common"),
        ("Alice-1234567", "username"),
        ("ab12ab12ab12", "5 different characters"),
        ("zzzzzzzzzzzzzzzzzzzz", "5 different characters"),
        ("plantfloor", "two kinds"),
        ("4815926037", "two kinds"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(password: str, rule: str) -> None:
    with pytest.raises(WeakPassword, match=rule) as caught:
        check_password(password, "alice")
    assert caught.value.code == "weak_password"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "password",
    ["a-long-password", "correct horse", "Plantfloor", "lathe spindle coolant", "7Kq!mZ2#pR"],
)
def test_good_passwords_pass(password: str) -> None:
    check_password(password, "alice")


def test_the_username_does_not_count_towards_the_length() -> None:
    check_password("regulator-pass", "reg")
    with pytest.raises(WeakPassword, match="besides the username"):
        check_password("Operator-7", "operator-7")
    with pytest.raises(WeakPassword, match="besides the username"):
        check_password("xx-operator-7-yy", "operator-7")


def test_the_vendored_list_has_ten_thousand_entries_and_its_licence() -> None:
    assert len(common_passwords()) == 10_000
    assert "123456" in common_passwords()
    licence = COMMON_FILE.with_name("common-passwords.LICENSE.txt").read_text()
    assert "MIT License" in licence and "zxcvbn" in licence


def test_create_user_applies_the_rules(core_engine: sa.Engine, rows: Callable[[str], int]) -> None:
    with core_engine.begin() as conn, pytest.raises(WeakPassword, match="most common"):
        core.create_user(
            conn,
            username="bob",
            password="qazwsxedc123",
            role=core.Role.REGULATOR,
            actor="test",
        )
    assert rows("core_users") == 0
