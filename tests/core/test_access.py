"""The one access rule (core.access) and that nothing else writes it out again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indunet.core import NotFound, PermissionDenied, Role, User, access

A, B = 1, 2
ADMIN = User(1, "root", Role.PLATFORM_ADMIN, None)
REGULATOR = User(2, "reg", Role.REGULATOR, None)
A_ADMIN = User(3, "a-admin", Role.ENTERPRISE_ADMIN, A)
A_USER = User(4, "a-user", Role.ENTERPRISE_USER, A)
LOST = User(5, "lost", Role.ENTERPRISE_USER, None)
SRC = Path(__file__).parents[2] / "src" / "indunet"


def test_overseers_see_every_enterprise_and_others_their_own() -> None:
    for user in (ADMIN, REGULATOR):
        assert access.sees_all(user)
        assert access.can_see(user, A) and access.can_see(user, B) and access.can_see(user, None)
    assert access.can_see(A_USER, A) and not access.can_see(A_USER, B)
    assert not access.can_see(A_USER, None) and not access.can_see(LOST, None)


def test_another_tenants_thing_is_not_found_and_a_reader_is_forbidden() -> None:
    with pytest.raises(NotFound, match="no device pump-1"):
        access.check_see(A_ADMIN, B, "device pump-1")
    with pytest.raises(NotFound, match="no device pump-1"):
        access.check_change(A_ADMIN, B, "device pump-1")
    with pytest.raises(PermissionDenied, match=r"a-user .* may not change device pump-1"):
        access.check_change(A_USER, A, "device pump-1")
    with pytest.raises(PermissionDenied, match=r"reg .* may not change"):
        access.check_change(REGULATOR, B, "device pump-1")
    access.check_change(A_USER, A, "alarm 3", users_too=True)
    access.check_change(A_ADMIN, A, "device pump-1")
    access.check_change(ADMIN, B, "device pump-1")


def test_listing_scope() -> None:
    assert access.scope(ADMIN) is None and access.scope(REGULATOR, B) == B
    assert access.scope(A_USER) == A and access.scope(A_USER, A) == A
    with pytest.raises(NotFound, match="no enterprise 2"):
        access.scope(A_USER, B)
    with pytest.raises(PermissionDenied, match="belongs to no enterprise"):
        access.scope(LOST)


def test_no_module_writes_the_rule_out_again() -> None:
    """The overseer pair is named in core.access only; everyone else asks it."""
    pair = re.compile(
        r"Role\.PLATFORM_ADMIN,\s*Role\.REGULATOR|Role\.REGULATOR,\s*Role\.PLATFORM_ADMIN"
    )
    copies = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "access.py" and pair.search(p.read_text(encoding="utf-8"))
    ]
    assert copies == [], f"the tenancy rule is written out again in {copies}; use core.access"


def test_the_enterprise_a_new_thing_is_made_in() -> None:
    assert access.change_scope(ADMIN, B, "add devices") == B
    assert access.change_scope(ADMIN, None, "add devices") is None  # the caller asks for one
    assert access.change_scope(A_ADMIN, None, "add devices") == A
    for stranger in (A_ADMIN, A_USER):  # another enterprise is not found, whatever the role
        with pytest.raises(NotFound, match="no enterprise 2"):
            access.change_scope(stranger, B, "add devices")
    for reader in (REGULATOR, A_USER):
        with pytest.raises(PermissionDenied, match="may not add devices"):
            access.change_scope(reader, A, "add devices")
