"""HS_ADMIN permission bits, Handle identities, secret-key checks and authorisation."""

from __future__ import annotations

import pytest

from indunet import core
from indunet.ids import OPERATOR, AuthenticationFailed, HandleValue, NotAuthorized, Perm, Principal
from indunet.ids.admin import CredentialChecker, authorize, grants, hash_seckeys, parse_identity

ID = (300, "0.NA/88.100.1")


def _admin(
    handle: str = "0.NA/88.100.1", index: int = 300, perms: str = "111111111111"
) -> HandleValue:
    return HandleValue(
        100, "HS_ADMIN", "admin", {"handle": handle, "index": index, "permissions": perms}
    )


def _only(perm: Perm) -> str:
    return "".join("1" if i == perm else "0" for i in range(12))


def test_permission_bits_follow_the_handle_system_order() -> None:
    assert [p.name for p in Perm] == [
        "ADD_HANDLE", "DELETE_HANDLE", "ADD_DERIVED_PREFIX", "DELETE_DERIVED_PREFIX",
        "MODIFY_VALUE", "REMOVE_VALUE", "ADD_VALUE", "MODIFY_ADMIN", "REMOVE_ADMIN",
        "ADD_ADMIN", "READ_VALUE", "LIST_HANDLES",
    ]  # fmt: skip
    assert [int(p) for p in Perm] == list(range(12))


@pytest.mark.parametrize("perm", list(Perm))
def test_each_bit_grants_exactly_its_right(perm: Perm) -> None:
    record = [_admin(perms=_only(perm))]
    assert [p for p in Perm if grants(record, ID, p)] == [perm]


def test_index_zero_means_any_index_and_the_handle_must_match() -> None:
    assert grants([_admin(index=0)], (301, "0.NA/88.100.1"), Perm.ADD_HANDLE)
    assert not grants([_admin(index=300)], (301, "0.NA/88.100.1"), Perm.ADD_HANDLE)
    assert grants([_admin(handle="0.na/88.100.1")], ID, Perm.ADD_HANDLE)
    assert not grants([_admin(handle="0.NA/88.100.2")], ID, Perm.ADD_HANDLE)
    assert not grants(None, ID, Perm.ADD_HANDLE)
    short = HandleValue(
        100, "HS_ADMIN", "admin", {"handle": "0.NA/88.100.1", "index": 300, "permissions": "1"}
    )
    assert not grants([short], ID, Perm.LIST_HANDLES)


@pytest.mark.parametrize(
    "username",
    ["300:0.NA/88.100.1", "300%3A0.NA%2F88.100.1", "300%3a0.na/88.100.1", "300:0.na/88.100.1"],
)
def test_identity_parsing_accepts_percent_encoding_and_any_case(username: str) -> None:
    assert parse_identity(username) == (300, "0.NA/88.100.1")


@pytest.mark.parametrize(
    ("username", "fragment"),
    [
        ("0.NA/88.100.1", "must have the form index:handle, e.g. 300:0.NA/88.100.1"),
        ("admin:0.NA/88.100.1", "must have the form index:handle"),
        ("-1:0.NA/88.100.1", "must have the form index:handle"),
        ("³:0.NA/88.100.1", "must have the form index:handle"),
        ("300:no-slash", "has no '/' between prefix and suffix"),
        ("300%3A0.NA%2F", "has an empty suffix"),
    ],
)
def test_bad_identities_are_refused(username: str, fragment: str) -> None:
    with pytest.raises(AuthenticationFailed) as err:
        parse_identity(username)
    assert fragment in err.value.message
    assert err.value.rc == 403


def test_credential_checker_accepts_only_the_right_key() -> None:
    [key] = hash_seckeys(
        [HandleValue(300, "HS_SECKEY", "string", "s3cret-key", permissions="1100")]
    )
    checker = CredentialChecker()
    checker.check([key], 300, "s3cret-key")
    checker.check([key], 300, "s3cret-key")  # remembered
    with pytest.raises(AuthenticationFailed, match="unknown identity or wrong secret key"):
        checker.check([key], 300, "s3cret-kez")
    with pytest.raises(AuthenticationFailed, match="unknown identity or wrong secret key"):
        checker.check([key], 301, "s3cret-key")


def test_a_rotated_key_invalidates_the_remembered_check() -> None:
    checker = CredentialChecker()
    old = hash_seckeys([HandleValue(300, "HS_SECKEY", "string", "old-secret-1")])
    checker.check(old, 300, "old-secret-1")
    new = hash_seckeys([HandleValue(300, "HS_SECKEY", "string", "new-secret-2")])
    with pytest.raises(AuthenticationFailed):
        checker.check(new, 300, "old-secret-1")


def test_seckeys_are_hashed_once_and_other_values_kept() -> None:
    raw = [
        HandleValue(300, "HS_SECKEY", "string", "clear"),
        HandleValue(1, "URL", "string", "https://x"),
    ]
    hashed = hash_seckeys(raw)
    assert hashed[0].value.startswith("scrypt$") and core.verify_secret("clear", hashed[0].value)
    assert hashed[1] == raw[1]
    assert hash_seckeys(hashed) == hashed


def _authorize(
    principal: Principal,
    perm: Perm,
    record: list[HandleValue] | None,
    prefix_record: list[HandleValue] | None,
) -> None:
    authorize(
        principal,
        perm,
        target="88.100.1/X",
        routing_prefix="88.100.1",
        record=record,
        prefix_record=prefix_record,
    )


def test_authorize_by_record_or_prefix_record() -> None:
    p = Principal("300:0.NA/88.100.1", identity=ID)
    _authorize(p, Perm.MODIFY_VALUE, [_admin()], None)
    _authorize(p, Perm.MODIFY_VALUE, None, [_admin()])
    with pytest.raises(NotAuthorized) as err:
        _authorize(p, Perm.DELETE_HANDLE, [_admin(perms=_only(Perm.MODIFY_VALUE))], None)
    assert err.value.message == (
        "300:0.NA/88.100.1 holds no delete_handle right on 88.100.1/X; "
        "it must be an HS_ADMIN of the handle or of 0.NA/88.100.1"
    )
    assert err.value.rc == 400 and err.value.status == 403


def test_platform_users_write_only_under_their_enterprise_prefixes() -> None:
    _authorize(OPERATOR, Perm.DELETE_HANDLE, None, None)
    assert OPERATOR.is_superuser
    mine = Principal("user:alice", prefixes=frozenset({"88.100"}))
    _authorize(mine, Perm.ADD_HANDLE, None, None)
    other = Principal("user:bob", prefixes=frozenset({"88.100.2"}))
    with pytest.raises(
        NotAuthorized,
        match=r"user:bob may not write 88.100.1/X: prefix 88.100.1 does not belong to its enterprise",
    ):
        _authorize(other, Perm.ADD_HANDLE, None, None)
    nobody = Principal("user:carol")
    assert not nobody.is_superuser
    with pytest.raises(NotAuthorized):
        _authorize(nobody, Perm.ADD_HANDLE, None, None)
