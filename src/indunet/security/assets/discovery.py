"""Passive asset discovery: a hub subscriber that learns hosts from the events it sees.

Every event with addresses names hosts; an ``ot.transaction`` says more: the destination
answers an industrial protocol on a port (a server: a PLC, an RTU…), the source asks (a
client; one that writes is an HMI, one that downloads programs or stops a controller an
engineering workstation), and an answer's identification details (``identify``) name the
vendor, model and firmware. What is learnt is gathered in memory per host (bounded:
``MAX_PENDING`` hosts; when full the handler flushes before taking more, which holds the hub
back rather than dropping anything) and written every ``FLUSH_S`` seconds in one
transaction off the event loop.

A MAC seen with more than ``ROUTER_IPS`` addresses is a router's (traffic from beyond it
carries its MAC) and is not attached to any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from indunet.security.events import SecurityEvent

from .identify import identify
from .observe import Observation
from .store import Assets

log = logging.getLogger(__name__)
FLUSH_S = 5.0
MAX_PENDING = 10_000
ROUTER_IPS = 4
MACS_REMEMBERED = 20_000
#: Ports on which an answering host is an industrial server, and the ATT&CK type it likely is.
SERVER_PORTS = {502: "modbus", 102: "s7comm", 44818: "enip", 20000: "dnp3", 4840: "opcua"}
SERVER_TYPE = {"modbus": "A0003", "s7comm": "A0003", "enip": "A0003", "dnp3": "A0004"}
_ENGINEERING = ("download", "upload", "stop", "start", "program", "firmware", "run")


@dataclass
class Host:
    """What was learnt of one host since the last flush."""

    enterprise_id: int | None
    ip: str
    macs: set[str] = field(default_factory=set)
    protocols: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    role: str = ""
    asset_type: str = ""
    identified: dict[str, Any] = field(default_factory=dict)
    peers: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    last: float = 0.0

    def observations(self) -> list[Observation]:
        at = datetime.fromtimestamp(self.last, UTC)
        values: dict[str, Any] = {"ips": [self.ip]}
        if self.macs:
            values["macs"] = sorted(self.macs)[:4]
        for name, got in (("protocols", self.protocols), ("accounts", self.accounts)):
            if got:
                values[name] = sorted(got)[:16]
        if self.ports:
            values["ports"] = sorted(self.ports)[:64]
        if self.role:
            values["role"] = self.role
        if self.asset_type:
            values["asset_type"] = self.asset_type
        peers = [
            p | {"last": datetime.fromtimestamp(p["last"], UTC).isoformat()}
            for p in self.peers.values()
        ]
        out = [Observation(self.enterprise_id, "observation", values, at, peers, seen=True)]
        if self.identified:
            ident = dict(self.identified) | {"ips": [self.ip]}
            out.append(Observation(self.enterprise_id, "identification", ident, at))
        return out


@dataclass
class DiscoveryStats:
    events: int = 0
    hosts_written: int = 0
    new_assets: int = 0
    flush_failures: int = 0


@functools.lru_cache(maxsize=65_536)
def _host_ip(value: str | None) -> str | None:
    """A host's address as text, or None for none, multicast, broadcast (cached: the same
    few hundred addresses come again and again)."""
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if ip.is_multicast or ip.is_unspecified or str(ip).endswith(".255"):
        return None
    return str(ip)


class Discovery:
    """The subscriber (``handle``) and its flush loop (``start``/``stop``)."""

    def __init__(self, store: Assets, flush_s: float = FLUSH_S, max_pending: int = MAX_PENDING):
        self.store = store
        self.flush_s = flush_s
        self.max_pending = max_pending
        self.stats = DiscoveryStats()
        self._pending: dict[tuple[int | None, str], Host] = {}
        self._mac_ips: OrderedDict[str, set[str]] = OrderedDict()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="security-assets-discovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    async def handle(self, events: Sequence[SecurityEvent]) -> None:
        """The hub subscriber."""
        for e in events:
            if len(self._pending) >= self.max_pending:
                await self.flush()
            self._learn(e)
        self.stats.events += len(events)

    async def flush(self) -> int:
        """Write what was learnt; return the number of hosts written. A failure is logged
        and counted, and those hosts are learnt again from later traffic."""
        async with self._lock:
            hosts, self._pending = list(self._pending.values()), {}
            if not hosts:
                return 0
            observations = [o for h in hosts for o in h.observations()]
            try:
                new = await asyncio.to_thread(self.store.observe, observations)
            except Exception:
                self.stats.flush_failures += 1
                log.exception("asset discovery could not write %d hosts", len(hosts))
                return 0
            self.stats.hosts_written += len(hosts)
            self.stats.new_assets += new
            return len(hosts)

    # -- learning --------------------------------------------------------------------------
    def _host(self, eid: int | None, ip: str, ts: float) -> Host:
        key = (eid, ip)
        host = self._pending.get(key)
        if host is None:
            host = self._pending[key] = Host(eid, ip)
        host.last = max(host.last, ts)
        return host

    def _mac(self, host: Host, mac: str | None) -> None:
        if not mac or mac == "ff:ff:ff:ff:ff:ff":
            return
        ips = self._mac_ips.get(mac)
        if ips is None:
            ips = self._mac_ips[mac] = set()
            while len(self._mac_ips) > MACS_REMEMBERED:
                self._mac_ips.popitem(last=False)
        else:
            self._mac_ips.move_to_end(mac)
        if len(ips) <= ROUTER_IPS:
            ips.add(host.ip)
        if len(ips) <= ROUTER_IPS:
            host.macs.add(mac)
        else:
            host.macs.discard(mac)

    def _learn(self, e: SecurityEvent) -> None:
        src, dst = _host_ip(e.src_ip), _host_ip(e.dst_ip)
        eid = e.enterprise_id
        server = self._host(eid, dst, e.ts) if dst else None
        client = self._host(eid, src, e.ts) if src else None
        if server is not None:
            self._mac(server, e.dst_mac)
        if client is not None:
            self._mac(client, e.src_mac)
        if e.user and server is not None and e.kind.startswith("auth."):
            server.accounts.add(e.user[:64])
        if e.kind != "ot.transaction" or server is None:
            return
        proto = (e.protocol or "").lower()[:32]
        if proto:
            server.protocols.add(proto)
            if client is not None:
                client.protocols.add(proto)
        if e.dst_port and (e.dst_port in SERVER_PORTS or proto):
            server.ports.add(e.dst_port)
        server.role = "server"
        server.asset_type = SERVER_TYPE.get(proto) or SERVER_TYPE.get(
            SERVER_PORTS.get(e.dst_port or 0, ""), server.asset_type
        )
        fields = e.fields if isinstance(e.fields, Mapping) else {}
        if client is not None:
            client.role = client.role or "client"
            action = (e.action or "").lower()
            if any(w in action for w in _ENGINEERING) and fields.get("write"):
                client.asset_type = "A0001"
            elif fields.get("write") is True and client.asset_type != "A0001":
                client.asset_type = "A0002"
            self._peer(server, client.ip, proto, e.dst_port, "in")
            self._peer(client, server.ip, proto, e.dst_port, "out")
        unit = fields.get("unit") if proto == "dnp3" and e.dst_port == 20000 else None
        found = identify(proto, fields.get("details"), unit)
        if found:
            numbers = server.identified.get("model_numbers", []) + found.pop("model_numbers", [])
            server.identified.update(found)
            if numbers:
                server.identified["model_numbers"] = list(dict.fromkeys(numbers))[:8]

    def _peer(self, host: Host, ip: str, proto: str, port: int | None, way: str) -> None:
        key = (ip, proto, port, way)
        peer = host.peers.get(key)
        last = host.last
        if peer is None:
            if len(host.peers) >= 50:
                return
            host.peers[key] = {
                "ip": ip,
                "protocol": proto,
                "port": port,
                "dir": way,
                "count": 1,
                "last": last,
            }
        else:
            peer["count"] += 1
            peer["last"] = last
