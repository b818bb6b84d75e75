"""HS_ADMIN permission bits (in Handle.Net's order), Handle identities, secret-key checks and
authorisation."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.ids import OPERATOR, AuthenticationFailed, HandleValue, NotAuthorized, Perm, Principal
from indunet.ids.admin import (
    ALL_RIGHTS,
    DEFAULT_RIGHTS,
    CredentialChecker,
    authorize,
    grants,
    hash_seckeys,
    parse_identity,
    permission_string,
    right_names,
    rights_of,
)

ID = (300, "0.NA/88.100.1")
#: pyhandle's (and hdl-admintool's) default HS_ADMIN permissions.
PYHANDLE_DEFAULT = "011111110011"
#: What Handle.Net says that default grants (AdminRecord bits 0, 1, 4-10) and does not.
PYHANDLE_GRANTS = {
    Perm.ADD_HANDLE, Perm.DELETE_HANDLE, Perm.MODIFY_VALUE, Perm.REMOVE_VALUE, Perm.ADD_VALUE,
    Perm.MODIFY_ADMIN, Perm.REMOVE_ADMIN, Perm.ADD_ADMIN, Perm.READ_VALUE,
}  # fmt: skip
PYHANDLE_WITHHOLDS = {Perm.ADD_DERIVED_PREFIX, Perm.DELETE_DERIVED_PREFIX, Perm.LIST_HANDLES}


def _admin(
    handle: str = "0.NA/88.100.1", index: int = 300, perms: str = "111111111111"
) -> HandleValue:
    return HandleValue(
        100, "HS_ADMIN", "admin", {"handle": handle, "index": index, "permissions": perms}
    )


def _only(perm: Perm) -> str:
    return permission_string({perm})


def test_permission_bits_follow_the_handle_system_order() -> None:
    assert [p.name for p in Perm] == [
        "ADD_HANDLE", "DELETE_HANDLE", "ADD_DERIVED_PREFIX", "DELETE_DERIVED_PREFIX",
        "MODIFY_VALUE", "REMOVE_VALUE", "ADD_VALUE", "MODIFY_ADMIN", "REMOVE_ADMIN",
        "ADD_ADMIN", "READ_VALUE", "LIST_HANDLES",
    ]  # fmt: skip
    assert [int(p) for p in Perm] == list(range(12))


@pytest.mark.parametrize(
    ("perm", "bits"),
    [
        (Perm.ADD_HANDLE, "000000000001"),  # bit 0 is the last character
        (Perm.DELETE_HANDLE, "000000000010"),
        (Perm.ADD_DERIVED_PREFIX, "000000000100"),
        (Perm.DELETE_DERIVED_PREFIX, "000000001000"),
        (Perm.MODIFY_VALUE, "000000010000"),
        (Perm.REMOVE_VALUE, "000000100000"),
        (Perm.ADD_VALUE, "000001000000"),
        (Perm.MODIFY_ADMIN, "000010000000"),
        (Perm.REMOVE_ADMIN, "000100000000"),
        (Perm.ADD_ADMIN, "001000000000"),
        (Perm.READ_VALUE, "010000000000"),
        (Perm.LIST_HANDLES, "100000000000"),  # bit 11 is the first
    ],
)
def test_a_string_is_written_highest_bit_first_as_handle_net_writes_it(
    perm: Perm, bits: str
) -> None:
    assert permission_string({perm}) == bits
    assert rights_of(bits) == {perm}
    assert right_names(bits) == [perm.name.lower()]


def test_pyhandles_default_grants_what_handle_net_says() -> None:
    assert rights_of(PYHANDLE_DEFAULT) == PYHANDLE_GRANTS
    assert set(Perm) == PYHANDLE_GRANTS | PYHANDLE_WITHHOLDS
    record = [_admin(perms=PYHANDLE_DEFAULT)]
    assert {p for p in Perm if grants(record, ID, p)} == PYHANDLE_GRANTS
    assert not any(grants(record, ID, p) for p in PYHANDLE_WITHHOLDS)
    assert right_names(PYHANDLE_DEFAULT) == [
        "add_handle", "delete_handle", "modify_value", "remove_value", "add_value",
        "modify_admin", "remove_admin", "add_admin", "read_value",
    ]  # fmt: skip


def test_indunets_own_strings_are_handle_nets_defaults() -> None:
    assert DEFAULT_RIGHTS == PYHANDLE_DEFAULT  # a record created without HS_ADMIN
    assert ALL_RIGHTS == "111111111111" and rights_of(ALL_RIGHTS) == set(Perm)


def test_every_string_reads_back_to_itself() -> None:
    for bits in ("".join(t) for t in itertools.product("01", repeat=12)):
        assert permission_string(rights_of(bits)) == bits


@pytest.mark.parametrize("bits", ["", "1", "01111111001", "0111111100111", "01111111001x", "*"])
def test_anything_but_twelve_bits_grants_nothing(bits: str) -> None:
    assert rights_of(bits) == frozenset()
    assert not any(grants([_admin(perms=bits)], ID, p) for p in Perm)


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


def test_a_hashed_seckey_keeps_its_absolute_ttl_and_references() -> None:
    raw = HandleValue(
        300, "HS_SECKEY", "string", "clear", ttl=1_900_000_000, ttl_absolute=True,
        references=(("88.100.1/X", 1),),
    )  # fmt: skip
    [hashed] = hash_seckeys([raw])
    assert (hashed.ttl, hashed.ttl_absolute, hashed.references) == (
        1_900_000_000,
        True,
        (("88.100.1/X", 1),),
    )


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


def test_an_identity_with_pyhandles_default_on_the_prefix_adds_but_may_not_list(
    engine: sa.Engine,
) -> None:
    node = ids.Node(
        "88.100", ids.NodeRole.SECONDARY, "88.100", engine, ids.TemplateRegistry(engine)
    )
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc="91350100M000100Y43", name="A", actor="test", verified=True
        )
    ids.allocate(node, "88.100.1", ent, actor="test", secret="prefix-secret-1")
    key = {"index": 300, "type": "HS_SECKEY", "data": "ops-secret-123"}
    node.put("88.100.1/OPS", [key], OPERATOR)
    ops_admin = {"handle": "88.100.1/OPS", "index": 300, "permissions": PYHANDLE_DEFAULT}
    node.put(
        "0.NA/88.100.1",
        [{"index": 101, "type": "HS_ADMIN", "data": {"format": "admin", "value": ops_admin}}],
        OPERATOR,
        indices=[101],
    )
    ops = node.authenticate("300:88.100.1/OPS", "ops-secret-123")

    url = [{"index": 1, "type": "URL", "data": "https://a.example.cn/1"}]
    assert node.put("88.100.1/NEW-1", url, ops) == ("88.100.1/NEW-1", True)  # add handle
    record = node.record("88.100.1/NEW-1")
    assert record is not None
    [made] = [v.value for v in record.values if v.type == "HS_ADMIN"]
    assert made == {"handle": "88.100.1/OPS", "index": 300, "permissions": PYHANDLE_DEFAULT}
    with pytest.raises(NotAuthorized) as refused:
        node.list_handles("88.100.1", ops)
    assert refused.value.reason == "handle_no_right"
    assert refused.value.params["right"] == "list_handles"
    prefix_admin = node.authenticate("300:0.NA/88.100.1", "prefix-secret-1")
    assert node.list_handles("88.100.1", prefix_admin)[0] == 2  # all twelve rights: it may


def test_a_prefix_handle_made_without_hs_admin_gives_its_own_key_every_right(
    engine: sa.Engine,
) -> None:
    node = ids.Node(
        "88.100", ids.NodeRole.SECONDARY, "88.100", engine, ids.TemplateRegistry(engine)
    )
    key = {"index": 300, "type": "HS_SECKEY", "data": "prefix-secret-7"}
    node.put("0.NA/88.100.7", [key], OPERATOR)
    record = node.record("0.NA/88.100.7")
    assert record is not None
    [admin] = [v.value for v in record.values if v.type == "HS_ADMIN"]
    assert admin == {"handle": "0.NA/88.100.7", "index": 300, "permissions": ALL_RIGHTS}
    own = node.authenticate("300:0.NA/88.100.7", "prefix-secret-7")
    node.put("88.100.7/A", [{"index": 1, "type": "URL", "data": "https://a.example.cn/a"}], own)
    assert node.list_handles("88.100.7", own) == (1, ["88.100.7/A"])  # list handles (bit 11)
