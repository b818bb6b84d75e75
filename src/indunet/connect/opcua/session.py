"""One OPC UA client session, shared by every device served through the same server settings.

The session's task connects (``Backoff`` between attempts, cut short by ``connect.probe``
when a refusing server starts accepting), subscribes every device's points
(one subscription per sampling interval, one monitored item per point), and waits for the
connection to be lost: asyncua's watchdog probes a quiet server, and a closed socket or a
bad subscription status is noticed at once. Then devices go offline, the client is thrown
away and a fresh one connects and re-subscribes. Data changes are batched: every
notification that arrived while the sink was busy goes in the next ``submit``. A connection
the server refuses for the identity it was given (``IDENTITY_REFUSED``) is noted in the
``refused`` signal, with the endpoint and the user name (``connect.events.AUTH_FAILURES``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaError

from indunet.connect.connector import DeviceLink, StatusSink
from indunet.connect.probe import wait_or_accepting
from indunet.core.backoff import Backoff
from indunet.core.signals import Signal
from indunet.devices import Point
from indunet.telemetry import BAD, GOOD, Overloaded, Sample, SampleSink, Value
from indunet.telemetry.checks import said

from .codec import monitored_item, quality, status_name, timestamp_ms, to_value
from .config import OpcUaSettings
from .security import apply_security

log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 60_000  # a session orphaned by a lost connection dies within a minute
MAX_BUFFER = 100_000  # samples waiting for the sink before new ones are dropped
#: Status codes of a server refusing the user identity (OPC UA Part 4, ActivateSession).
IDENTITY_REFUSED = frozenset(
    {
        "BadIdentityTokenInvalid",
        "BadIdentityTokenRejected",
        "BadUserAccessDenied",
        "BadUserSignatureInvalid",
    }
)


class Lost(Exception):
    """The connection to the server is gone."""


@dataclass(frozen=True)
class Binding:
    """A point of a device, at its filled-in node id."""

    point: Point
    node_id: str
    interval: float  # ms


@dataclass
class DeviceState:
    """What the session knows about one device."""

    link: DeviceLink
    bindings: list[Binding]
    online: bool | None = None
    handles: dict[float, list[int]] | None = None  # monitored item ids, once subscribed
    last: dict[str, Value] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)


@dataclass
class Stats:
    """Counters shared by every session of one connector."""

    notifications: int = 0
    dropped_samples: int = 0
    reconnects: int = 0
    errors: int = 0


class _Handler:
    """Receives one subscription's notifications (asyncua's handler protocol)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.items: dict[int, tuple[str, Binding]] = {}

    async def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        """A monitored value changed (or its status did)."""
        bound = self.items.get(data.monitored_item.ClientHandle)
        if bound is not None:
            await self.session.changed(bound[0], bound[1], val, data.monitored_item.Value)

    async def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        """The server ended the subscription (shutdown, timeout): treat as a lost connection."""
        if not status.Status.is_good():
            self.session.lose(f"subscription status {status.Status.name}")


class Session:
    """A client for one server and the devices read through it."""

    def __init__(
        self,
        settings: OpcUaSettings,
        sink: SampleSink,
        status: StatusSink,
        stats: Stats,
        *,
        refused: Signal | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.status = status
        self.stats = stats
        self.refused = refused
        self.devices: dict[str, DeviceState] = {}
        self.client: Client | None = None
        self.task: asyncio.Task[None] | None = None
        self.types: dict[str, ua.VariantType] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._subs: dict[float, tuple[Any, _Handler]] = {}
        self._retired: list[tuple[float, list[int]]] = []
        self._buffer: list[Sample] = []
        self._handle = 0
        self._backoff = Backoff()

    @property
    def up(self) -> bool:
        """True while a session with the server is active."""
        return self.client is not None and not self._lost.is_set()

    @property
    def monitored(self) -> int:
        """Monitored items currently created on the server."""
        return sum(len(h) for d in self.devices.values() if d.handles for h in d.handles.values())

    def start(self) -> None:
        """Run the session's task (idempotent)."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run(), name=f"opcua {self.settings.endpoint}")
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_loop(), name="opcua flush")

    def wake(self) -> None:
        """Subscribe newly added devices and drop removed ones."""
        self._changed.set()

    def lose(self, why: str) -> None:
        """Give up on the current connection (the task reconnects)."""
        if self.client is not None and not self._lost.is_set():
            log.info("opcua %s: %s", self.settings.endpoint, why)
        self._lost.set()
        self._changed.set()

    def retire(self, dev: DeviceState) -> None:
        """Forget a removed device's monitored items (deleted on the server when connected)."""
        if dev.handles:
            for interval, handles in dev.handles.items():
                self._retired.append((interval, handles))
        for _, handler in self._subs.values():
            for h in [h for h, (d, _) in handler.items.items() if d == dev.link.id]:
                del handler.items[h]
        dev.handles = None
        self.wake()

    async def close(self) -> None:
        """Stop the task, close the client and hand over what is still buffered."""
        for task in (self.task, self._flusher):
            if task is not None:
                await _cancel(task)
        self.task = self._flusher = None
        if self._buffer:
            await self._submit()

    # --- data changes -----------------------------------------------------------------

    async def changed(
        self, device_id: str, binding: Binding, raw: Any, dv: ua.DataValue | None
    ) -> None:
        """Turn one notification into a sample in the next batch."""
        dev = self.devices.get(device_id)
        if dev is None:
            return
        self.stats.notifications += 1
        point = binding.point
        q = quality(dv.StatusCode if dv is not None else None)
        value = to_value(point, raw)
        if value is None:
            if q == GOOD and raw is not None:
                await self.episode(
                    dev,
                    f"value:{point.name}",
                    f"OPC UA value of {binding.node_id} does not convert to {point.type}",
                    repr(raw)[:1000],
                    said("opcua_convert", node=str(binding.node_id), type=point.type),
                )
                return
            value = dev.last.get(point.name)  # a Bad status often carries no value
            if value is None:
                return
        else:
            dev.failing.discard(f"value:{point.name}")
            if q != BAD:
                dev.last[point.name] = value
        if len(self._buffer) >= MAX_BUFFER:
            self.stats.dropped_samples += 1
            return
        self._buffer.append(Sample(device_id, point.name, timestamp_ms(dv), value, q))
        self._ready.set()

    async def episode(
        self,
        dev: DeviceState,
        key: str,
        reason: str,
        payload: str,
        why: tuple[str, dict[str, str]],
    ) -> None:
        """A dead letter, once until the problem ``key`` goes away (``why``: its detail's
        name and parameters)."""
        if key in dev.failing:
            return
        dev.failing.add(key)
        try:
            await self.sink.reject(
                dev.link.id,
                source="opcua",
                reason=reason,
                payload=payload,
                why=why[0],
                params=why[1],
            )
        except Exception:
            self.stats.errors += 1
            log.exception("opcua: the sink refused a dead letter for %s", dev.link.id)

    async def _flush_loop(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            await self._submit()

    async def _submit(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            await self.sink.submit(batch, source="opcua")
        except Overloaded:
            self.stats.dropped_samples += len(batch)
        except Exception:
            self.stats.errors += 1
            self.stats.dropped_samples += len(batch)
            log.exception("opcua: the sink failed on %d samples", len(batch))

    # --- the connection ---------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            client = self._new_client()
            try:
                async with asyncio.timeout(self.settings.timeout * 2):
                    await self._open(client)
            except Exception as exc:
                self.stats.errors += 1
                why = status_name(exc)
                log.info("opcua %s: cannot connect: %s", self.settings.endpoint, why)
                if why in IDENTITY_REFUSED and self.refused is not None:
                    user, endpoint = self.settings.username, self.settings.endpoint
                    device = min(self.devices, default=None)
                    self.refused.add((None, user, device, "opcua", endpoint))
                self._all_offline()
                await self._close(client, lost=True)
                s = self.settings
                await wait_or_accepting(s.host, s.port, self._backoff.next())
                continue
            try:
                await self._serve(client)
            except Lost:
                pass
            except Exception as exc:
                self.stats.errors += 1
                log.warning(
                    "opcua %s: session failed: %s", self.settings.endpoint, status_name(exc)
                )
            finally:
                lost = self._lost.is_set()
                self._lost.set()
                self.client = None
                self._subs.clear()
                self._retired.clear()
                for dev in self.devices.values():
                    dev.handles = None
                self._all_offline()
                await self._close(client, lost=lost)
            self.stats.reconnects += 1
            await asyncio.sleep(self._backoff.next())

    def _new_client(self) -> Client:
        s = self.settings
        client = Client(s.endpoint, timeout=s.timeout, watchdog_intervall=s.watchdog_interval)
        client.session_timeout = SESSION_TIMEOUT_MS
        client.name = client.description = "Indunet"
        if s.username is not None:
            client.set_user(s.username)
        if s.password is not None:
            client.set_password(s.password)
        return client

    async def _open(self, client: Client) -> None:
        await apply_security(client, self.settings)
        await client.connect()

    async def _close(self, client: Client, *, lost: bool) -> None:
        bound = min(self.settings.timeout, 2.0)
        with contextlib.suppress(Exception):
            if lost:  # nothing to say to the server: stop asyncua's tasks and the socket
                async with asyncio.timeout(bound):
                    await client.close_session()
            else:
                async with asyncio.timeout(bound):
                    await client.disconnect()
        with contextlib.suppress(Exception):
            client.disconnect_socket()

    async def _serve(self, client: Client) -> None:
        self._lost.clear()

        async def on_lost(exc: Exception) -> None:
            self.lose(f"connection lost ({status_name(exc)})")

        client.connection_lost_callback = on_lost
        self.client = client
        first = True
        while True:
            self._changed.clear()
            await self._sync(client)
            if first:
                self._backoff.reset()
                first = False
            if self._lost.is_set():
                raise Lost
            await self._changed.wait()
            if self._lost.is_set():
                raise Lost

    async def _sync(self, client: Client) -> None:
        retired, self._retired = self._retired, []
        for interval, handles in retired:
            sub = self._subs.get(interval)
            if sub is not None and handles:
                with contextlib.suppress(UaError):
                    await sub[0].unsubscribe(handles)
        for dev in list(self.devices.values()):
            if dev.handles is None and self.devices.get(dev.link.id) is dev:
                await self._subscribe(client, dev)

    async def _subscribe(self, client: Client, dev: DeviceState) -> None:
        by_interval: dict[float, list[Binding]] = {}
        for b in dev.bindings:
            by_interval.setdefault(b.interval, []).append(b)
        handles: dict[float, list[int]] = {}
        refused: list[str] = []
        for interval, binds in sorted(by_interval.items()):
            if interval not in self._subs:
                handler = _Handler(self)
                self._subs[interval] = (
                    await client.create_subscription(interval, handler),
                    handler,
                )
            sub, handler = self._subs[interval]
            requests = []
            for b in binds:
                self._handle += 1
                handler.items[self._handle] = (dev.link.id, b)
                requests.append(monitored_item(b.node_id, b.interval, self._handle))
            results = await sub.create_monitored_items(requests)
            for b, req, result in zip(binds, requests, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    handler.items.pop(req.RequestedParameters.ClientHandle, None)
                    refused.append(f"{b.point.name} ({b.node_id}): {result.name}")
                else:
                    handles.setdefault(interval, []).append(int(result))
        dev.handles = handles
        if self.devices.get(dev.link.id) is not dev:  # removed while subscribing
            self.retire(dev)
            return
        if refused:
            await self.episode(
                dev,
                "monitor",
                "OPC UA server refused to monitor " + "; ".join(refused),
                "\n".join(refused),
                said("opcua_monitor_refused", nodes="; ".join(refused)),
            )
        else:
            dev.failing.discard("monitor")
        self.set_online(dev, bool(handles))

    def _all_offline(self) -> None:
        for dev in self.devices.values():
            self.set_online(dev, False)

    def set_online(self, dev: DeviceState, online: bool) -> None:
        """Report a change of the device's status."""
        if dev.online is online:
            return
        dev.online = online
        try:
            self.status.device_status(dev.link.id, online)
        except Exception:
            self.stats.errors += 1
            log.exception("opcua: the status sink failed for %s", dev.link.id)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it to end, without swallowing our own cancellation."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
