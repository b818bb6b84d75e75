"""The Handle protocol port as a service of the ids subsystem (off unless ``handle_port``)."""

from __future__ import annotations

import logging
from typing import Protocol

from indunet.core import Settings
from indunet.core.signals import Signal, Signals
from indunet.ids.events import RESOLUTIONS
from indunet.ids.node import Node
from indunet.ids.wire.ratelimit import ResponseRateLimit
from indunet.ids.wire.server import WireServer, WireService

log = logging.getLogger(__name__)


class WireEndpoint:
    """UDP and TCP on ``host:port`` answering for ``node`` (its site is ``site_url``)."""

    def __init__(
        self,
        node: Node,
        host: str,
        port: int,
        site_url: str,
        *,
        udp_rate: float = 20.0,
        resolutions: Signal | None = None,
    ) -> None:
        self.service = WireService(
            node,
            site_url=site_url,
            handle_port=port,
            rate_limit=ResponseRateLimit(udp_rate),
            resolutions=resolutions,
        )
        self.server = WireServer(self.service, host, port)

    async def start(self) -> None:
        """Bind both sockets; a port in use fails the start, as the HTTP port would."""
        await self.server.start()
        log.info("Handle protocol on %s:%s (UDP and TCP)", self.server.host, self.server.port)

    async def stop(self) -> None:
        """Close both sockets."""
        await self.server.stop()


class _Hierarchy(Protocol):
    @property
    def front(self) -> Node: ...

    @property
    def nodes(self) -> dict[str, Node]: ...


class _State(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def hierarchy(self) -> _Hierarchy: ...

    @property
    def signals(self) -> Signals: ...


#: Processes of a scaled installation that answer clients (the API role) or run everything.
SERVING_ROLES = ("all", "api")


def endpoint(state: _State) -> WireEndpoint | None:
    """The endpoint ``state``'s settings ask for, or ``None`` (``handle_port`` 0: off)."""
    s = state.settings
    if not s.handle_port or s.role not in SERVING_ROLES:
        return None
    node = state.hierarchy.front
    embedded = len(state.hierarchy.nodes) > 1  # its nodes' sites are <base>/nodes/<name>
    site = f"{s.base_url()}/nodes/{node.name}" if embedded else s.base_url()
    host = s.handle_host or s.host
    return WireEndpoint(
        node,
        host,
        s.handle_port,
        site,
        udp_rate=s.handle_udp_rate,
        resolutions=state.signals.of(RESOLUTIONS),
    )
