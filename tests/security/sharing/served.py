"""An Indunet app served by uvicorn on a loopback port, in a thread of the test process, so
that synchronous clients (taxii2-client) talk real HTTP to it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from tests.integration.servers import free_port

from indunet.web import AppState, create_app


@contextlib.contextmanager
def served(state: AppState) -> Iterator[str]:
    """The app of ``state`` listening on 127.0.0.1; its base URL. Stopped on exit."""
    port = free_port()
    config = uvicorn.Config(
        create_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
