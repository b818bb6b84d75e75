"""Acceptance: pyhandle 1.5.0, unchanged, registers and manages identifiers on a real `indunet up`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pyhandle.handleclient import PyHandleClient
from pyhandle.handleexceptions import (
    GenericHandleError,
    HandleAlreadyExistsException,
    HandleAuthenticationError,
    HandleNotFoundException,
)
from tests.integration.prefixes import prefixed_server, pyhandle_client
from tests.integration.servers import Server

from indunet import core
from indunet.ids import Perm
from indunet.ids.admin import permission_string

PREFIX = "88.100.1"
USERNAME = f"300:0.NA/{PREFIX}"
SECRET = "pyhandle-acceptance-key"
USCC = core.make_uscc("91350100M0002000")
#: A second identity, holding rights only through the HS_ADMIN values pyhandle writes.
OPS = f"{PREFIX}/PH-OPS"
OPS_USER = f"300:{OPS}"
OPS_SECRET = "pyhandle-ops-key-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("pyhandle")
    with prefixed_server(base, PREFIX, SECRET, uscc=USCC, name="福州示例电机有限公司") as srv:
        yield srv


@pytest.fixture
def client(server: Server) -> Any:
    return pyhandle_client(server, USERNAME, SECRET)


def fetch(server: Server, handle: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/handles/{handle}", timeout=5)


def by_type(body: dict[str, Any]) -> dict[str, Any]:
    return {v["type"]: v["data"]["value"] for v in body["values"]}


def test_first_start_prints_the_admin_password_once(server: Server) -> None:
    assert server.admin_password
    token = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": "admin", "password": server.admin_password},
        timeout=5,
    )
    assert token.status_code == 200, token.text


def test_register_then_read_back(client: Any, server: Server) -> None:
    handle = f"{PREFIX}/PH-REG-1"
    assert client.register_handle(handle, "https://example.com/m/1", checksum="c0ffee") == handle

    resp = fetch(server, handle)
    assert resp.status_code == 200
    body = resp.json()
    assert body["responseCode"] == 1 and body["handle"] == handle
    values = by_type(body)
    assert values["URL"] == "https://example.com/m/1"
    assert values["CHECKSUM"] == "c0ffee"
    assert values["HS_ADMIN"]["handle"] == f"0.NA/{PREFIX}"
    assert client.retrieve_handle_record(handle)["URL"] == "https://example.com/m/1"
    assert client.get_value_from_handle(handle, "CHECKSUM") == "c0ffee"


def test_register_existing_without_overwrite_is_refused(client: Any, server: Server) -> None:
    handle = f"{PREFIX}/PH-DUP-1"
    client.register_handle(handle, "https://example.com/first")
    with pytest.raises(HandleAlreadyExistsException):
        client.register_handle(handle, "https://example.com/second")
    assert by_type(fetch(server, handle).json())["URL"] == "https://example.com/first"

    assert client.register_handle(handle, "https://example.com/second", overwrite=True) == handle
    assert by_type(fetch(server, handle).json())["URL"] == "https://example.com/second"


def test_server_refuses_overwrite_false_on_an_existing_handle(server: Server) -> None:
    handle = f"{PREFIX}/PH-DUP-2"
    auth = (USERNAME.replace(":", "%3A"), SECRET)
    body = {"values": [{"index": 1, "type": "URL", "data": "https://example.com/a"}]}
    url = f"{server.url}/api/handles/{handle}"
    assert httpx.put(url, json=body, auth=auth, timeout=5).status_code == 201
    again = httpx.put(url + "?overwrite=false", json=body, auth=auth, timeout=5)
    assert again.status_code == 409 and again.json()["responseCode"] == 101


def test_modify_changes_and_adds_values(client: Any, server: Server) -> None:
    handle = f"{PREFIX}/PH-MOD-1"
    client.register_handle(handle, "https://example.com/old", checksum="aaa")
    client.modify_handle_value(handle, URL="https://example.com/new", EMAIL="ops@example.com")

    values = by_type(fetch(server, handle).json())
    assert values["URL"] == "https://example.com/new"
    assert values["EMAIL"] == "ops@example.com"
    assert values["CHECKSUM"] == "aaa"
    assert "HS_ADMIN" in values


def test_delete_one_value(client: Any, server: Server) -> None:
    handle = f"{PREFIX}/PH-DELV-1"
    client.register_handle(handle, "https://example.com/d", checksum="bbb")
    client.delete_handle_value(handle, "CHECKSUM")

    values = by_type(fetch(server, handle).json())
    assert "CHECKSUM" not in values
    assert values["URL"] == "https://example.com/d"


def test_delete_handle(client: Any, server: Server) -> None:
    handle = f"{PREFIX}/PH-DEL-1"
    client.register_handle(handle, "https://example.com/gone")
    assert client.delete_handle(handle) == handle

    resp = fetch(server, handle)
    assert resp.status_code == 404 and resp.json()["responseCode"] == 100
    assert client.retrieve_handle_record_json(handle) is None
    with pytest.raises(HandleNotFoundException):
        client.delete_handle(handle)


def test_generate_and_register_mints_a_new_handle(client: Any, server: Server) -> None:
    handle = client.generate_and_register_handle(PREFIX, "https://example.com/minted", "ccc")
    assert handle.startswith(f"{PREFIX}/") and len(handle) > len(PREFIX) + 30

    values = by_type(fetch(server, handle).json())
    assert values["URL"] == "https://example.com/minted"
    assert values["CHECKSUM"] == "ccc"


def test_wrong_password_is_an_authentication_error(server: Server) -> None:
    bad = PyHandleClient("rest").instantiate_with_username_and_password(
        server.url, USERNAME, "not-the-right-key", HTTPS_verify=False
    )
    handle = f"{PREFIX}/PH-BAD-1"
    with pytest.raises(HandleAuthenticationError) as refused:
        bad.register_handle(handle, "https://example.com/nope")
    assert refused.value.response.status_code == 401
    assert refused.value.response.json()["responseCode"] == 403
    assert fetch(server, handle).status_code == 404


def test_unknown_username_handle_is_refused_at_instantiation(server: Server) -> None:
    with pytest.raises(HandleNotFoundException):
        PyHandleClient("rest").instantiate_with_username_and_password(
            server.url, "300:0.NA/88.100.999", SECRET, HTTPS_verify=False
        )


def test_writes_are_audited_with_the_handle_identity(client: Any, server: Server) -> None:
    handle = f"{PREFIX}/PH-AUDIT-1"
    client.register_handle(handle, "https://example.com/audit")
    token = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": "admin", "password": server.admin_password},
        timeout=5,
    ).json()["token"]
    log = httpx.get(
        f"{server.url}/api/v1/audit",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    entries = [e for e in log if e["target"] == handle]
    assert [(e["actor"], e["action"]) for e in entries] == [(USERNAME, "handle.create")]


@pytest.fixture(scope="module")
def ops(server: Server) -> Any:
    """A pyhandle client logged in as ``300:88.100.1/PH-OPS``, an identity the prefix key made."""
    body = {"values": [{"index": 300, "type": "HS_SECKEY", "data": OPS_SECRET}]}
    auth = (USERNAME.replace(":", "%3A"), SECRET)
    made = httpx.put(f"{server.url}/api/handles/{OPS}", json=body, auth=auth, timeout=5)
    assert made.status_code == 201, made.text
    return PyHandleClient("rest").instantiate_with_username_and_password(
        server.url, OPS_USER, OPS_SECRET, HTTPS_verify=False
    )


def owned_by_ops(server: Server, **config: Any) -> Any:
    """The prefix key's client, writing HS_ADMIN values that name the ops identity."""
    return PyHandleClient("rest").instantiate_with_username_and_password(
        server.url, USERNAME, SECRET, HTTPS_verify=False, handleowner=OPS_USER, **config
    )


def test_pyhandles_default_hs_admin_gives_the_rights_handle_net_reads_in_it(
    server: Server, ops: Any
) -> None:
    handle = f"{PREFIX}/PH-RIGHTS-1"
    owned_by_ops(server).register_handle(handle, "https://example.com/r/1", checksum="c1")
    [admin] = [v for v in fetch(server, handle).json()["values"] if v["type"] == "HS_ADMIN"]
    assert admin["data"]["value"]["permissions"] == "011111110011"  # pyhandle's default
    assert admin["data"]["value"]["handle"] == OPS

    # 011111110011 read from its last character (bit 0): the ops identity may modify, add and
    # remove values, add and remove admins, and delete the handle
    ops.modify_handle_value(handle, URL="https://example.com/r/2", EMAIL="ops@example.com")
    ops.delete_handle_value(handle, "CHECKSUM")
    values = by_type(fetch(server, handle).json())
    assert values["URL"] == "https://example.com/r/2" and values["EMAIL"] == "ops@example.com"
    assert "CHECKSUM" not in values
    url = f"{server.url}/api/handles/{handle}"
    auth = (OPS_USER.replace(":", "%3A"), OPS_SECRET)
    second = {"handle": f"0.NA/{PREFIX}", "index": 300, "permissions": "010000000000"}
    add_admin = {"values": [{"index": 101, "type": "HS_ADMIN", "data": {"format": "admin", "value": second}}]}  # fmt: skip
    added = httpx.put(url, params={"index": 101}, json=add_admin, auth=auth, timeout=5)
    assert added.status_code == 200, added.text  # add admin (bit 9)
    removed = httpx.delete(url, params={"index": 101}, auth=auth, timeout=5)
    assert removed.status_code == 200, removed.text  # remove admin (bit 8)
    assert ops.delete_handle(handle) == handle  # delete handle (bit 1)
    assert fetch(server, handle).status_code == 404

    # what the default withholds: listing the prefix (bit 11)
    listed = httpx.get(f"{server.url}/api/handles", params={"prefix": PREFIX}, auth=auth, timeout=5)
    assert listed.status_code == 403, listed.text


def test_a_right_left_out_by_name_is_refused_to_pyhandle(server: Server, ops: Any) -> None:
    handle = f"{PREFIX}/PH-RIGHTS-2"
    no_modify = permission_string(set(Perm) - {Perm.MODIFY_VALUE})
    assert no_modify == "111111101111"  # Handle.Net's bit 4 is the eighth character
    owned_by_ops(server, HS_ADMIN_permissions=no_modify).register_handle(
        handle, "https://example.com/r/3"
    )
    with pytest.raises(GenericHandleError) as refused:
        ops.modify_handle_value(handle, URL="https://example.com/r/4")
    assert refused.value.response.status_code == 403
    assert "modify_value" in refused.value.response.json()["message"]
    assert by_type(fetch(server, handle).json())["URL"] == "https://example.com/r/3"
    ops.modify_handle_value(handle, EMAIL="ops@example.com")  # add value (bit 6) is held
    assert by_type(fetch(server, handle).json())["EMAIL"] == "ops@example.com"
