"""pyhandle 1.5.0, unchanged, writes what Handle.Net's server keeps (absolute TTLs, references)
and gets Handle.Net's refusals (duplicate indexes) from a real ``indunet up``; the whole list of
a prefix is streamed without paging."""

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
SECRET = "pyhandle-put-key-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("pyhandle-put")
    uscc = core.make_uscc("91350100M0004000")
    with prefixed_server(base, PREFIX, SECRET, uscc=uscc, name="福州示例阀门有限公司") as srv:
        yield srv


@pytest.fixture
def client(server: Server) -> Any:
    return pyhandle_client(server, USERNAME, SECRET)


def test_absolute_ttls_and_references_survive_a_round_trip(client: Any) -> None:
    handle = f"{PREFIX}/PUT-TTL"
    refs = [{"handle": f"{PREFIX}/PUT-OTHER", "index": 1}]
    entries = [
        {"index": 1, "type": "URL", "data": "https://example.com/t", "ttl": "2031-05-01T00:00:00Z"},
        {"index": 2, "type": "DESC", "data": "with references", "references": refs},
    ]
    assert client.register_handle_json(handle, entries) == handle
    values = {v["index"]: v for v in client.retrieve_handle_record_json(handle)["values"]}
    assert values[1]["ttl"] == "2031-05-01T00:00:00Z"
    assert values[2]["references"] == refs
    client.modify_handle_value(handle, DESC="changed")  # pyhandle PUTs ?index= per value
    values = {v["index"]: v for v in client.retrieve_handle_record_json(handle)["values"]}
    assert values[1]["ttl"] == "2031-05-01T00:00:00Z"  # untouched values keep their form


def test_duplicate_indexes_are_refused_and_nothing_is_written(client: Any) -> None:
    handle = f"{PREFIX}/PUT-TWICE"
    entries = [
        {"index": 1, "type": "URL", "data": "https://example.com/a"},
        {"index": 1, "type": "DESC", "data": "same index"},
    ]
    with pytest.raises(GenericHandleError) as err:
        client.register_handle_json(handle, entries)
    resp = err.value.response
    assert (resp.status_code, resp.json()["responseCode"]) == (409, 201)
    assert "index 1 appears twice" in resp.json()["message"]
    assert client.retrieve_handle_record_json(handle) is None


def test_the_whole_list_is_streamed_without_paging(client: Any, server: Server) -> None:
    names = [f"{PREFIX}/PUT-LIST-{i}" for i in range(3)]
    for name in names:
        client.register_handle(name, "https://example.com/l")
    resp = httpx.get(
        f"{server.url}/api/handles",
        params={"prefix": f"0.NA/{PREFIX}"},
        auth=(USERNAME.replace(":", "%3A"), SECRET),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(names) <= set(body["handles"]) and body["totalCount"] == str(len(body["handles"]))
