"""An ``indunet up`` with an enterprise prefix allocated before it starts, and a pyhandle
client of it: what the pyhandle tests share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyhandle.handleclient import PyHandleClient
from tests.integration.servers import Server, group

from indunet import core, ids
from indunet.core import Settings
from indunet.web import build_state


def allocate_before_start(srv: Server, prefix: str, secret: str, *, uscc: str, name: str) -> None:
    """Give a new verified enterprise ``prefix`` (its key ``secret``) in ``srv``'s data
    directory, in this process, before the server starts."""
    state = build_state(Settings(data_dir=srv.data_dir, port=srv.port))
    try:
        with state.engine.begin() as conn:
            ent = core.create_enterprise(conn, uscc=uscc, name=name, actor="test", verified=True)
        ids.allocate(state.hierarchy.front, prefix, ent, actor="test", secret=secret)
    finally:
        state.engine.dispose()


@contextlib.contextmanager
def prefixed_server(
    base: Path,
    prefix: str,
    secret: str,
    *,
    uscc: str,
    name: str,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """``indunet up <args>`` with ``prefix`` allocated, stopped on exit."""
    with group(base) as g:
        srv = g.prepare("up", "up", *args, env=env)
        allocate_before_start(srv, prefix, secret, uscc=uscc, name=name)
        yield srv.start()


def pyhandle_client(server: Server, username: str, secret: str) -> Any:
    """pyhandle's REST client of ``server`` (a self-signed certificate is not checked)."""
    return PyHandleClient("rest").instantiate_with_username_and_password(
        server.url, username, secret, HTTPS_verify=False
    )
