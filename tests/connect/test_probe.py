"""connect.probe: a reconnect wait ends when a refusing peer starts accepting, and only then."""

from __future__ import annotations

import asyncio
import socket

from indunet.connect.probe import wait_or_accepting


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _listen(port: int, seen: list[int]) -> asyncio.Server:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        writer.close()

    return await asyncio.start_server(accept, "127.0.0.1", port)


async def test_the_wait_ends_soon_after_a_refusing_peer_starts_listening() -> None:
    port = _free_port()
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.ensure_future(wait_or_accepting("127.0.0.1", port, 20.0, every=0.1))
    await asyncio.sleep(0.5)
    assert not waiting.done()  # refused: keeps waiting
    server = await _listen(port, [])
    try:
        assert await asyncio.wait_for(waiting, 5.0) is True
        assert loop.time() - started < 2.0
    finally:
        server.close()


async def test_a_peer_accepting_all_along_gets_the_full_delay_and_one_probe() -> None:
    port = _free_port()
    seen: list[int] = []
    server = await _listen(port, seen)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        assert await wait_or_accepting("127.0.0.1", port, 0.6, every=0.1) is False
    finally:
        server.close()
    assert loop.time() - started >= 0.55  # a handshake that failed is not retried early
    assert len(seen) <= 1
