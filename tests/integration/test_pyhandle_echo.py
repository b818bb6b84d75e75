"""pyhandle 1.5.0, unchanged, reads handles in another case or Unicode form than they were
registered in (it insists the answer's ``handle`` is what it asked for), and filters by type."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.prefixes import prefixed_server, pyhandle_client
from tests.integration.servers import Server

from indunet import core

PREFIX = "88.100.1"
USERNAME = f"300:0.NA/{PREFIX}"
SECRET = "pyhandle-echo-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("pyhandle-echo")
    uscc = core.make_uscc("91350100M0003000")
    with prefixed_server(base, PREFIX, SECRET, uscc=uscc, name="福州示例泵业有限公司") as srv:
        yield srv


@pytest.fixture
def client(server: Server) -> Any:
    return pyhandle_client(server, USERNAME, SECRET)


def test_a_handle_is_read_in_another_case_than_registered(client: Any) -> None:
    client.register_handle(f"{PREFIX}/PH-1", "https://example.com/ph-1")
    for asked in (f"{PREFIX}/ph-1", f"{PREFIX}/Ph-1", f"{PREFIX}/PH-1"):
        record = client.retrieve_handle_record_json(asked)  # raises if "handle" differs
        assert record["handle"] == asked
        assert client.get_value_from_handle(asked, "URL") == "https://example.com/ph-1"


def test_a_handle_is_read_in_another_unicode_form_than_registered(client: Any) -> None:
    nfc = unicodedata.normalize("NFC", f"{PREFIX}/泵-café-1")
    nfd = unicodedata.normalize("NFD", nfc)
    client.register_handle(nfc, "https://example.com/cafe")
    record = client.retrieve_handle_record_json(nfd)
    assert record["handle"] == nfd
    assert client.get_value_from_handle(nfd, "URL") == "https://example.com/cafe"


def test_type_filters_and_subtypes_through_pyhandle(client: Any) -> None:
    handle = f"{PREFIX}/PH-MIRRORS-1"
    client.register_handle_json(
        handle,
        [
            {"index": 1, "type": "URL", "data": "https://example.com/primary"},
            {"index": 2, "type": "URL.mirror", "data": "https://mirror.example.com/m"},
            {"index": 3, "type": "EMAIL", "data": "ops@example.com"},
        ],
    )

    def types(*wanted: str) -> list[str]:
        record = client.retrieve_handle_record_json(handle, type=list(wanted))
        return sorted(v["type"] for v in record["values"])

    assert types("url") == ["URL"]
    assert types("URL.") == ["URL", "URL.mirror"]
    assert types("email", "url.mirror") == ["EMAIL", "URL.mirror"]
    assert client.get_value_from_handle(handle, "URL.mirror") == "https://mirror.example.com/m"
