"""HS_VLIST values (format ``vlist``) and admin groups: an HS_ADMIN value naming a value list
gives its members, directly or through nested lists on this node, the rights."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.ids import OPERATOR, HandleValue, InvalidValue, NotAuthorized, Perm, Principal
from indunet.ids.admin import authorize, grants, permission_string
from indunet.ids.groups import (
    MAX_DEPTH,
    MAX_LOOKUPS,
    MAX_MEMBERS,
    Groups,
    Membership,
    find,
    members,
)
from indunet.ids.reading import read_values
from indunet.ids.values import MAX_VLIST_MEMBERS, parse_value
from indunet.ids.valuetypes import TypeFilter
from indunet.ids.wire import codec
from indunet.ids.wire.answers import wire_value

ALICE = (300, "88.100.1/ALICE")
BOB = (300, "88.100.1/BOB")
MODIFY = permission_string({Perm.MODIFY_VALUE})


def _vlist(index: int, *refs: tuple[str, int], vtype: str = "HS_VLIST") -> HandleValue:
    raw = [{"handle": h, "index": i} for h, i in refs]
    return parse_value({"index": index, "type": vtype, "data": {"format": "vlist", "value": raw}})


def _admin(handle: str, index: int, perms: str = MODIFY) -> HandleValue:
    value = {"handle": handle, "index": index, "permissions": perms}
    return HandleValue(100, "HS_ADMIN", "admin", value)


def _reader(records: dict[str, list[HandleValue]]) -> Any:
    """Records this node holds, by key; ``asked`` the keys read, ``calls`` the batches."""
    asked: list[str] = []
    calls: list[list[str]] = []

    def read(keys: list[str]) -> dict[str, list[HandleValue]]:
        asked.extend(keys)
        calls.append(list(keys))
        return {k: records[k] for k in keys if k in records}

    read.asked = asked  # type: ignore[attr-defined]
    read.calls = calls  # type: ignore[attr-defined]
    return read


# -- parsing ---------------------------------------------------------------------------------
def test_a_vlist_is_read_and_answered_in_gsonutilitys_shape() -> None:
    raw = {
        "index": 200,
        "type": "HS_VLIST",
        "data": {"format": "vlist", "value": [{"handle": "88.100.1/alice", "index": "300"}]},
    }
    v = parse_value(raw)
    assert (v.format, v.value) == ("vlist", [{"handle": "88.100.1/alice", "index": 300}])
    assert v.to_json()["data"] == {
        "format": "vlist",
        "value": [{"handle": "88.100.1/alice", "index": 300}],
    }
    assert HandleValue.from_stored(v.to_json(with_permissions=True)) == v


def test_bare_hs_vlist_data_is_a_vlist() -> None:
    v = parse_value(
        {"index": 1, "type": "HS_VLIST", "data": [{"handle": "88.100.1/A", "index": 0}]}
    )
    assert (v.format, v.value) == ("vlist", [{"handle": "88.100.1/A", "index": 0}])
    assert members([v], 1) == [("88.100.1/A", 0)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"format": "string", "value": "300:88.100.1/A"}, "value_vlist_format"),
        ("300:88.100.1/A", "value_vlist"),  # bare data of HS_VLIST is read as a vlist
        ({"format": "vlist", "value": {"handle": "88.100.1/A", "index": 1}}, "value_vlist"),
        ({"format": "vlist", "value": [{"handle": "88.100.1/A"}]}, "value_reference"),
        ({"format": "vlist", "value": [{"handle": "", "index": 1}]}, "value_reference"),
        ({"format": "vlist", "value": [{"handle": "88.100.1/A", "index": -1}]}, "value_reference"),
        ({"format": "vlist", "value": ["300:88.100.1/A"]}, "value_reference"),
        (
            {"format": "vlist", "value": [{"handle": "x", "index": 1}] * (MAX_VLIST_MEMBERS + 1)},
            "value_vlist",
        ),
    ],
)
def test_malformed_value_lists_are_refused_with_a_reason(data: Any, reason: str) -> None:
    with pytest.raises(InvalidValue) as err:
        parse_value({"index": 1, "type": "HS_VLIST", "data": data})
    assert err.value.reason == reason


def test_a_vlist_is_sent_in_rfc_3651_layout_on_the_wire() -> None:
    v = _vlist(7, ("88.100.1/A", 300), ("0.NA/88.100.1", 0))
    data = wire_value(v).data
    expected = (
        (2).to_bytes(4, "big")
        + (10).to_bytes(4, "big") + b"88.100.1/A" + (300).to_bytes(4, "big")
        + (13).to_bytes(4, "big") + b"0.NA/88.100.1" + (0).to_bytes(4, "big")
    )  # fmt: skip
    assert data == expected == codec.vlist_data([("88.100.1/A", 300), ("0.NA/88.100.1", 0)])


# -- authorization through groups -----------------------------------------------------------
def test_a_member_of_the_group_an_hs_admin_names_gets_its_rights() -> None:
    read = Groups(_reader({"88.100.1/ADMINS": [_vlist(1, ("88.100.1/alice", 300))]}))
    record = [_admin("88.100.1/admins", 1)]
    assert grants(record, ALICE, Perm.MODIFY_VALUE, read)
    assert not grants(record, ALICE, Perm.DELETE_HANDLE, read)  # only the HS_ADMIN's rights
    assert not grants(record, BOB, Perm.MODIFY_VALUE, read)
    assert not grants(record, ALICE, Perm.MODIFY_VALUE)  # without a reader groups are unknown
    assert not grants(record, (301, ALICE[1]), Perm.MODIFY_VALUE, read)  # another index


def test_a_member_at_index_zero_is_any_key_of_that_handle() -> None:
    read = Groups(_reader({"88.100.1/ADMINS": [_vlist(1, ("88.100.1/ALICE", 0))]}))
    assert grants([_admin("88.100.1/ADMINS", 1)], (301, ALICE[1]), Perm.MODIFY_VALUE, read)


def test_only_hs_vlist_values_are_groups() -> None:
    url = HandleValue(1, "URL", "string", "https://example.cn")
    read = Groups(_reader({"88.100.1/ADMINS": [url, _vlist(2, ("88.100.1/ALICE", 300))]}))
    assert not grants([_admin("88.100.1/ADMINS", 1)], ALICE, Perm.MODIFY_VALUE, read)
    assert grants([_admin("88.100.1/ADMINS", 2)], ALICE, Perm.MODIFY_VALUE, read)


def test_a_group_reference_at_index_zero_is_never_looked_up() -> None:
    read = _reader({"88.100.1/ADMINS": [_vlist(1, ("88.100.1/ALICE", 300))]})
    assert not grants([_admin("88.100.1/ADMINS", 0)], ALICE, Perm.MODIFY_VALUE, Groups(read))
    assert read.asked == []


def test_nested_groups_are_followed() -> None:
    read = _reader(
        {
            "88.100.1/ALL": [_vlist(1, ("88.100.1/OPS", 1), ("88.100.1/BOB", 300))],
            "88.100.1/OPS": [_vlist(1, ("88.100.1/NIGHT", 5))],
            "88.100.1/NIGHT": [_vlist(5, ("88.100.1/ALICE", 300))],
        }
    )
    assert find(ALICE, [("88.100.1/ALL", 1)], read) is Membership.MEMBER
    # breadth first; BOB could be a group too (an identity's record is read once, as Handle.Net)
    assert read.asked == ["88.100.1/ALL", "88.100.1/OPS", "88.100.1/BOB", "88.100.1/NIGHT"]
    assert read.calls == [["88.100.1/ALL"], ["88.100.1/OPS", "88.100.1/BOB"], ["88.100.1/NIGHT"]]
    assert find((300, "88.100.1/CAROL"), [("88.100.1/ALL", 1)], read) is Membership.NOT_MEMBER


def test_a_cycle_ends_with_each_list_read_once() -> None:
    read = _reader(
        {
            "88.100.1/A": [_vlist(1, ("88.100.1/B", 1))],
            "88.100.1/B": [_vlist(1, ("88.100.1/A", 1), ("88.100.1/B", 1))],
        }
    )
    assert find(ALICE, [("88.100.1/A", 1)], read) is Membership.NOT_MEMBER
    assert read.asked == ["88.100.1/A", "88.100.1/B"]


def _chain(length: int) -> dict[str, list[HandleValue]]:
    """G0 lists G1 ... lists G<length-1>, which lists ALICE."""
    out = {f"88.100.1/G{i}": [_vlist(1, (f"88.100.1/G{i + 1}", 1))] for i in range(length - 1)}
    out[f"88.100.1/G{length - 1}"] = [_vlist(1, ("88.100.1/ALICE", 300))]
    return out


def test_the_depth_is_bounded() -> None:
    assert find(ALICE, [("88.100.1/G0", 1)], _reader(_chain(MAX_DEPTH))) is Membership.MEMBER
    deep = _reader(_chain(MAX_DEPTH + 1))
    assert find(ALICE, [("88.100.1/G0", 1)], deep) is Membership.BOUND
    assert len(deep.asked) == MAX_DEPTH
    with pytest.raises(NotAuthorized) as err:
        authorize(
            Principal("300:88.100.1/ALICE", identity=ALICE),
            Perm.MODIFY_VALUE,
            target="88.100.1/X",
            routing_prefix="88.100.1",
            record=[_admin("88.100.1/G0", 1)],
            prefix_record=None,
            groups=Groups(deep),
        )
    assert err.value.reason == "handle_group_bound" and err.value.status == 403


def test_the_number_of_lists_read_is_bounded() -> None:
    wide = [(f"88.100.1/W{i}", 1) for i in range(MAX_LOOKUPS + 10)]
    records = {f"88.100.1/W{i}": [_vlist(1, ("88.100.1/BOB", 300))] for i in range(len(wide))}
    read = _reader(records)
    assert find(ALICE, wide, read) is Membership.BOUND
    assert len(read.asked) == MAX_LOOKUPS


def test_the_number_of_members_read_is_bounded() -> None:
    per = MAX_VLIST_MEMBERS
    lists = MAX_MEMBERS // per + 1  # one list more than the bound lets through
    records = {
        f"88.100.1/L{i}": [_vlist(1, *((f"88.100.1/M{i}-{j}", 0) for j in range(per)))]
        for i in range(lists)
    }
    records[f"88.100.1/L{lists}"] = [_vlist(1, ("88.100.1/ALICE", 300))]
    refs = [(f"88.100.1/L{i}", 1) for i in range(lists + 1)]
    read = _reader(records)
    assert find(ALICE, refs, read) is Membership.BOUND
    assert len(read.calls) == 1  # one level, read in one batch; the list naming ALICE is
    # read but never scanned: the members before it exhaust the bound
    assert find(ALICE, refs[-1:], _reader(records)) is Membership.MEMBER


def test_one_request_reads_each_record_and_makes_each_walk_once() -> None:
    read = _reader(_chain(3))
    groups = Groups(read, {"88.100.1/G0": [_vlist(1, ("88.100.1/G1", 1))]})
    for perm in (Perm.MODIFY_VALUE, Perm.ADD_VALUE, Perm.MODIFY_VALUE):
        assert grants([_admin("88.100.1/G0", 1, "011111110011")], ALICE, perm, groups)
    assert read.asked == ["88.100.1/G1", "88.100.1/G2"]  # G0 was known; each read once
    assert groups.find(BOB, [("88.100.1/G0", 1)]) is Membership.NOT_MEMBER
    assert read.asked == ["88.100.1/G1", "88.100.1/G2", "88.100.1/ALICE"]


def test_a_group_this_node_does_not_hold_is_not_followed() -> None:
    read = _reader({})
    assert find(ALICE, [("99.1/ADMINS", 1)], read) is Membership.NOT_MEMBER
    assert read.asked == ["99.1/ADMINS"]


# -- through a node ------------------------------------------------------------------------
@pytest.fixture
def node(engine: sa.Engine) -> ids.Node:
    node = ids.Node(
        "88.100", ids.NodeRole.SECONDARY, "88.100", engine, ids.TemplateRegistry(engine)
    )
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc="91350100M000100Y43", name="A", actor="test", verified=True
        )
    ids.allocate(node, "88.100.1", ent, actor="test", secret="prefix-secret-1")
    add_identities(node)
    return node


def add_identities(node: ids.Node) -> None:
    """``300:88.100.1/ALICE``, ``…/BOB`` and ``…/CAROL``, each with its secret key."""
    for who in ("ALICE", "BOB", "CAROL"):
        key = {"index": 300, "type": "HS_SECKEY", "data": f"{who.lower()}-secret-1"}
        node.put(f"88.100.1/{who}", [key], OPERATOR)


def _group(index: int, *members: str) -> dict[str, Any]:
    value = [{"handle": m, "index": 300} for m in members]
    return {"index": index, "type": "HS_VLIST", "data": {"format": "vlist", "value": value}}


def test_a_group_member_writes_a_record_and_others_are_refused(node: ids.Node) -> None:
    check_group_writes(node)


def check_group_writes(node: ids.Node) -> None:
    """ALICE (listed) and CAROL (in a nested list) modify a record whose HS_ADMIN names a
    group; BOB (in neither) is refused (run on SQLite here, on PostgreSQL in
    tests/integration/test_ids_groups_postgres.py)."""
    # ADMINS (index 1) lists ALICE and the nested group at OPS index 2, which lists CAROL.
    node.put("88.100.1/OPS", [_group(2, "88.100.1/CAROL")], OPERATOR)
    admins = _group(1, "88.100.1/ALICE")
    admins["data"]["value"].append({"handle": "88.100.1/OPS", "index": 2})
    node.put("88.100.1/ADMINS", [admins], OPERATOR)
    admin = {"handle": "88.100.1/ADMINS", "index": 1, "permissions": "011111110011"}
    doc = [
        {"index": 1, "type": "URL", "data": "https://example.cn/doc"},
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": admin}},
    ]
    node.put("88.100.1/DOC", doc, OPERATOR)
    url = [{"index": 1, "type": "URL", "data": "https://example.cn/changed"}]
    alice = node.authenticate("300:88.100.1/ALICE", "alice-secret-1")
    assert node.put("88.100.1/DOC", url, alice, indices=[1]) == ("88.100.1/DOC", False)
    carol = node.authenticate("300:88.100.1/CAROL", "carol-secret-1")
    node.put("88.100.1/DOC", url, carol, indices=[1])
    bob = node.authenticate("300:88.100.1/BOB", "bob-secret-1")
    with pytest.raises(NotAuthorized) as err:
        node.put("88.100.1/DOC", url, bob, indices=[1])
    assert err.value.reason == "handle_no_right"
    with pytest.raises(NotAuthorized):
        node.delete("88.100.1/DOC", bob)
    node.delete("88.100.1/DOC", alice, indices=[1])  # remove value: in 011111110011
    record = node.record("88.100.1/DOC")
    assert record is not None and [v.index for v in record.values] == [100]


def test_leaving_the_group_takes_the_rights_away(node: ids.Node) -> None:
    node.put("88.100.1/ADMINS", [_group(1, "88.100.1/ALICE")], OPERATOR)
    admin = {"handle": "88.100.1/ADMINS", "index": 1, "permissions": "011111110011"}
    node.put(
        "88.100.1/DOC",
        [{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": admin}}],
        OPERATOR,
    )
    alice = node.authenticate("300:88.100.1/ALICE", "alice-secret-1")
    url = [{"index": 1, "type": "URL", "data": "https://example.cn/1"}]
    node.put("88.100.1/DOC", url, alice, indices=[1])
    node.put("88.100.1/ADMINS", [_group(1, "88.100.1/BOB")], OPERATOR)
    with pytest.raises(NotAuthorized):
        node.put("88.100.1/DOC", url, alice, indices=[1])


def test_a_group_member_with_the_read_right_reads_restricted_values(node: ids.Node) -> None:
    node.put("88.100.1/READERS", [_group(1, "88.100.1/ALICE")], OPERATOR)
    admin = {"handle": "88.100.1/READERS", "index": 1, "permissions": "010000000000"}
    secret = {"index": 2, "type": "DESC", "data": "restricted", "permissions": "1100"}
    node.put(
        "88.100.1/SHUT",
        [secret, {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": admin}}],
        OPERATOR,
    )
    alice = node.authenticate("300:88.100.1/ALICE", "alice-secret-1")
    _, values = read_values(node, "88.100.1/SHUT", alice, types=TypeFilter(()), indices=[2])
    assert [v.value for v in values] == ["restricted"]
    bob = node.authenticate("300:88.100.1/BOB", "bob-secret-1")
    with pytest.raises(NotAuthorized):
        read_values(node, "88.100.1/SHUT", bob, types=TypeFilter(()), indices=[2])


def test_the_console_shows_a_vlist_as_its_references() -> None:
    from indunet.web.console.pages import value_text

    v = _vlist(200, ("88.100.1/ALICE", 300), ("88.100.1/OPS", 0))
    assert value_text(v) == "300:88.100.1/ALICE, 0:88.100.1/OPS"
