"""The Handle protocol port is off by default and, with ``handle_port``, runs for the life of
the app (``indunet up``/``indunet node``), answering for the front node."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import typer
from tests.ids.wire import rfc_client as rfc

from indunet.cli import context
from indunet.core import Settings
from indunet.ids import OPERATOR
from indunet.ids.wire.service import endpoint
from indunet.web import build_state, create_app, open_database


def _free_udp_and_tcp_port() -> int:
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free port")


def test_off_by_default_and_only_where_clients_are_served(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.handle_port == 0
    engine = open_database(settings)
    try:
        state = build_state(settings, engine=engine)
        assert endpoint(state) is None
        state.settings = Settings(data_dir=tmp_path / "data", handle_port=2641, role="worker")
        assert endpoint(state) is None  # a scaled installation's workers answer no client
        state.settings = Settings(data_dir=tmp_path / "data", handle_port=2641, role="api")
        wire = endpoint(state)
        assert wire is not None and wire.server.port == 2641  # not bound: never started
    finally:
        engine.dispose()


def test_the_command_line_option_and_its_bounds() -> None:
    assert context.settings(handle_port=2641).handle_port == 2641
    with pytest.raises(typer.BadParameter, match="handle_port"):
        context.settings(handle_port=70_000)


async def test_the_app_serves_the_handle_port(tmp_path: Path) -> None:
    port = _free_udp_and_tcp_port()
    settings = Settings(data_dir=tmp_path / "data", port=8000, handle_port=port, mqtt_port=0)
    engine = open_database(settings)
    try:
        state = build_state(settings, engine=engine)
        url = [{"index": 1, "type": "URL", "data": "https://a.example.cn/x"}]
        await asyncio.to_thread(state.hierarchy.front.put, "88.100.1/X", url, OPERATOR)
        app = create_app(state)
        async with app.router.lifespan_context(app):
            request = rfc.resolution_request("88.100.1/X")
            (by_tcp,) = await asyncio.to_thread(rfc.ask_tcp, "127.0.0.1", port, request)
            by_udp = await asyncio.to_thread(rfc.ask_udp, "127.0.0.1", port, request)
            info = rfc.resolution_request("", op=rfc.OP_GET_SITE_INFO)
            site = await asyncio.to_thread(rfc.ask_udp, "127.0.0.1", port, info)
        assert by_tcp.rc == by_udp.rc == 1
        assert by_udp.values[0].data == b"https://a.example.cn/x"
        parsed = rfc.parse_site(site.site)
        assert parsed["attributes"]["path"] == "/nodes/88.100"  # type: ignore[index]
        (server,) = parsed["servers"]  # type: ignore[misc]
        assert (2, 0, port) in server["interfaces"] and (2, 1, port) in server["interfaces"]
        assert server["address"] == bytes(12) + bytes([127, 0, 0, 1])
    finally:
        engine.dispose()
