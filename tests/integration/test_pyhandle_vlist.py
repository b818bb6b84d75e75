"""pyhandle 1.5.0, unchanged, writes an HS_VLIST admin group to a real ``indunet up``, and an
identity that is only a member of that group writes handles with it; one outside is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pyhandle.handleexceptions import GenericHandleError
from tests.integration.prefixes import prefixed_server, pyhandle_client
from tests.integration.servers import Server

from indunet import core

PREFIX = "88.100.1"
USERNAME = f"300:0.NA/{PREFIX}"
SECRET = "pyhandle-vlist-key-1"
GROUP = f"{PREFIX}/VL-ADMINS"
GROUP_INDEX = 200
MEMBER, OUTSIDER = f"{PREFIX}/VL-ALICE", f"{PREFIX}/VL-BOB"
KEYS = {MEMBER: "alice-vlist-key-1", OUTSIDER: "bob-vlist-key-1"}
#: pyhandle's default HS_ADMIN permissions: every right but the derived-prefix ones and listing.
DEFAULT = "011111110011"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("pyhandle-vlist")
    uscc = core.make_uscc("91350100M0005000")
    with prefixed_server(base, PREFIX, SECRET, uscc=uscc, name="福州示例泵业有限公司") as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: Server) -> Any:
    """The prefix key's client, having made two identities and a group listing one of them."""
    client = pyhandle_client(server, USERNAME, SECRET)
    for handle, secret in KEYS.items():
        client.register_handle_json(handle, [{"index": 300, "type": "HS_SECKEY", "data": secret}])
    members = [{"handle": MEMBER, "index": 300}]
    group = {
        "index": GROUP_INDEX,
        "type": "HS_VLIST",
        "data": {"format": "vlist", "value": members},
    }
    client.register_handle_json(GROUP, [group])
    return client


def _admin_value(index: int) -> dict[str, Any]:
    value = {"handle": GROUP, "index": GROUP_INDEX, "permissions": DEFAULT}
    return {"index": index, "type": "HS_ADMIN", "data": {"format": "admin", "value": value}}


def test_the_group_is_answered_as_written(admin: Any) -> None:
    values = admin.retrieve_handle_record_json(GROUP)["values"]
    [group] = [v for v in values if v["type"] == "HS_VLIST"]
    assert group["index"] == GROUP_INDEX
    assert group["data"] == {"format": "vlist", "value": [{"handle": MEMBER, "index": 300}]}


def test_a_member_of_the_group_an_hs_admin_names_modifies_the_handle(
    admin: Any, server: Server
) -> None:
    handle = f"{PREFIX}/VL-DOC"
    url = {"index": 1, "type": "URL", "data": "https://example.com/before"}
    admin.register_handle_json(handle, [url, _admin_value(100)])
    alice = pyhandle_client(server, f"300:{MEMBER}", KEYS[MEMBER])
    alice.modify_handle_value(handle, URL="https://example.com/by-a-member")
    assert alice.get_value_from_handle(handle, "URL") == "https://example.com/by-a-member"

    bob = pyhandle_client(server, f"300:{OUTSIDER}", KEYS[OUTSIDER])
    with pytest.raises(GenericHandleError) as refused:
        bob.modify_handle_value(handle, URL="https://example.com/by-an-outsider")
    assert refused.value.response.status_code == 403
    assert refused.value.response.json()["responseCode"] == 400
    assert admin.get_value_from_handle(handle, "URL") == "https://example.com/by-a-member"


def test_a_member_of_a_group_on_the_prefix_handle_registers_new_handles(
    admin: Any, server: Server
) -> None:
    bob = pyhandle_client(server, f"300:{OUTSIDER}", KEYS[OUTSIDER])
    with pytest.raises(GenericHandleError) as refused:
        bob.register_handle(f"{PREFIX}/VL-BY-BOB", "https://example.com/bob")
    assert refused.value.response.status_code == 403
    # The prefix key names the group on its own prefix handle (add handle is in DEFAULT).
    # (an added value: pyhandle's modify_handle_value would overwrite the key's own HS_ADMIN)
    added = httpx.put(
        f"{server.url}/api/handles/0.NA/{PREFIX}",
        params={"index": 101},
        json={"values": [_admin_value(101)]},
        auth=(USERNAME.replace(":", "%3A"), SECRET),
        verify=False,
        timeout=5,
    )
    assert added.status_code == 200, added.text
    alice = pyhandle_client(server, f"300:{MEMBER}", KEYS[MEMBER])
    handle = f"{PREFIX}/VL-BY-ALICE"
    assert alice.register_handle(handle, "https://example.com/alice") == handle
    assert alice.get_value_from_handle(handle, "URL") == "https://example.com/alice"
    with pytest.raises(GenericHandleError):
        bob.register_handle(f"{PREFIX}/VL-BY-BOB", "https://example.com/bob")
