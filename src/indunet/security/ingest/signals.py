"""The platform's own signals from the event bus: identifier resolutions, refused device
credentials and telemetry from unknown devices, as ``SecurityEvent``s of source ``platform``.

The subsystems that notice them publish batched signals (``core.signals``: one event per
type and process at most once a second, at most 1,000 records, ``left_out`` counting the
rest). This module subscribes by type name — it imports neither ``ids`` nor ``connect`` —
and reads each event's data as untrusted input: a record that does not read is counted
``bad`` and skipped, a whole event that does not read is counted ``bad`` once, and nothing
raises out of the subscriber.

| bus type | kind | observer | what the rules read |
| --- | --- | --- | --- |
| ``ids.resolutions`` | ``ids.resolve`` | ``ids`` | ``src_ip``, ``outcome`` (failure: not found), ``fields.handle`` |
| ``connect.auth_failures`` | ``auth.failure`` | the target | ``src_ip``, ``user``, ``fields.target`` (``mqtt``, ``device``, ``opcua``) |
| ``connect.unknown_devices`` | ``device.unknown`` | the way in | ``src_ip``, ``fields.device`` |

Each type is a source of its own (``platform <type>``) with the usual counters: ``read``
records, ``parsed`` events, ``bad`` records or events, ``dropped`` (records the producer left
out, plus what the hub had no room for: a bus handler never waits), ``duplicates`` (an event
delivered twice: ids are ``sig-<event id>-<n>``), ``submitted``. An auth failure naming a
device gets that device's enterprise (``enterprise_of``, read in a worker thread); an unknown
device the enterprise of the user who posted it, when the producer knew one.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from indunet.core import Event, EventBus
from indunet.core.signals import RECORDS_MAX
from indunet.devices import DeviceRegistry

from ..events import MAX_NAME, OUTCOMES, SecurityEvent
from ..hub import Hub
from .gate import Gate, SourceStats

log = logging.getLogger(__name__)
RESOLUTIONS = "ids.resolutions"
AUTH_FAILURES = "connect.auth_failures"
UNKNOWN_DEVICES = "connect.unknown_devices"
#: The bus types read, each with the one data version this module understands.
TYPES = {RESOLUTIONS: 1, AUTH_FAILURES: 1, UNKNOWN_DEVICES: 1}
MAX_HANDLE = 1_000
"""Characters of a handle taken (producers keep 512)."""
MAX_ENDPOINT = 500
"""Characters of an endpoint URL taken."""
#: Targets whose ``device`` names a registered device (its enterprise is looked up).
DEVICE_TARGETS = frozenset({"mqtt", "device"})
#: The application protocol of each way in.
_PROTOCOLS = {"udp": "handle", "tcp": "handle", "device": "http", "opcua": "opcua"}
_WORD = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_EVENT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_LATEST_TS = 4102444800  # 2100-01-01, as events.event_from_dict
AUTH_SEVERITY = 5
"""Severity of a refused login, as the audit log's ``login.failed`` (``ingest.platform``)."""
UNKNOWN_SEVERITY = 4

EnterpriseOf = Callable[[Collection[str]], Mapping[str, int]]
"""The enterprise of each device id given that names a registered device."""


class BadSignal(ValueError):
    """A signal event or record that does not read; the message names what."""


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> str:
    """An address in its normal form (``ValueError`` if it is none); cached: a batch's
    records mostly come from few clients, and parsing was most of the mapping's cost."""
    return str(ipaddress.ip_address(text))


def _ip(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return _address(value)
    except ValueError:
        raise BadSignal(f"src {str(value)[:60]!r} is not an IP address") from None


def _text(rec: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    value = rec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise BadSignal(f"{key} must be text of 1 to {limit:,} characters")
    return value


def _word(rec: Mapping[str, Any], key: str) -> str:
    value = rec.get(key)
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise BadSignal(f"{key} must be a short lower-case name")
    return value


def _whole(rec: Mapping[str, Any], key: str, low: int) -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadSignal(f"{key} must be a whole number from {low}")
    return value


def resolution(rec: Mapping[str, Any], ts: float, event_id: str) -> SecurityEvent:
    """``ids.resolve``: one resolution answered (``fields.handle``, ``via``, ``rc``)."""
    src = _ip(rec.get("src"))
    handle = _text(rec, "handle", MAX_HANDLE, required=True) or ""
    outcome = rec.get("outcome")
    if outcome not in OUTCOMES:
        raise BadSignal("outcome must be success, failure or unknown")
    via = _word(rec, "via")
    rc = _whole(rec, "rc", 0)
    return SecurityEvent(
        ts=ts,
        source="platform",
        kind="ids.resolve",
        observer="ids",
        protocol=_PROTOCOLS.get(via, "http"),
        action="resolve",
        outcome=outcome,
        src_ip=src,
        message=f"{src or 'an unknown address'} resolved {handle[:200]} ({via}): {outcome}",
        fields={"handle": handle, "via": via, "rc": rc},
        id=event_id,
    )


def auth_failure(rec: Mapping[str, Any], ts: float, event_id: str) -> SecurityEvent:
    """``auth.failure``: credentials refused (``fields.target``, ``device``, ``endpoint``)."""
    src = _ip(rec.get("src"))
    user = _text(rec, "user", MAX_NAME)
    device = _text(rec, "device", MAX_NAME)
    target = _word(rec, "target")
    endpoint = _text(rec, "endpoint", MAX_ENDPOINT)
    dst_ip, dst_port = _server(endpoint)
    where = f" at {endpoint}" if endpoint else ""
    return SecurityEvent(
        ts=ts,
        source="platform",
        kind="auth.failure",
        observer=target,
        protocol=_PROTOCOLS.get(target, target),
        action="login",
        outcome="failure",
        src_ip=src,
        dst_ip=dst_ip,
        dst_port=dst_port,
        user=user,
        severity=AUTH_SEVERITY,
        message=f"{target} login of {user or '(no user name)'!r}{where} refused"
        + (f" from {src}" if src else ""),
        fields={"target": target, "device": device, "endpoint": endpoint},
        id=event_id,
    )


def unknown_device(rec: Mapping[str, Any], ts: float, event_id: str) -> SecurityEvent:
    """``device.unknown``: telemetry for a device id nobody registered (``fields.device``)."""
    src = _ip(rec.get("src"))
    device = _text(rec, "device", MAX_NAME, required=True)
    via = _word(rec, "via")
    return SecurityEvent(
        ts=ts,
        source="platform",
        kind="device.unknown",
        enterprise_id=_whole(rec, "enterprise_id", 1),
        observer=via,
        protocol=via,
        action="telemetry",
        outcome="failure",
        src_ip=src,
        severity=UNKNOWN_SEVERITY,
        message=f"telemetry for unregistered device {device!r} over {via}"
        + (f" from {src}" if src else ""),
        fields={"device": device, "via": via},
        id=event_id,
    )


MAPPINGS: dict[str, Callable[[Mapping[str, Any], float, str], SecurityEvent]] = {
    RESOLUTIONS: resolution,
    AUTH_FAILURES: auth_failure,
    UNKNOWN_DEVICES: unknown_device,
}


def _server(endpoint: str | None) -> tuple[str | None, int | None]:
    """The address and port of an endpoint URL, when its host is an address."""
    if endpoint is None:
        return None, None
    try:
        parts = urlsplit(endpoint)
        port = parts.port
        address = str(ipaddress.ip_address(parts.hostname or ""))
    except ValueError:
        return None, None
    return address, port


def batch_of(event: Event) -> tuple[list[Any], int, float]:
    """An event's records, ``left_out`` and time; ``BadSignal`` when the envelope does not
    read as a signal batch of a version this module understands."""
    if TYPES.get(event.type) != event.version:
        raise BadSignal(f"{event.type} version {event.version} is not understood")
    if not _EVENT_ID.fullmatch(event.id):
        raise BadSignal("the event id must be 1 to 64 letters, digits, '-' or '_'")
    ts = event.time_ms / 1000
    if not 0 <= ts < _LATEST_TS:
        raise BadSignal("the event time is not a time before 2100")
    records, left = event.data.get("records"), event.data.get("left_out")
    if not isinstance(records, list) or len(records) > RECORDS_MAX:
        raise BadSignal(f"records must be a list of at most {RECORDS_MAX:,}")
    if isinstance(left, bool) or not isinstance(left, int) or left < 0:
        raise BadSignal("left_out must be a whole number from 0")
    return records, left, ts


def registry_enterprises(registry: DeviceRegistry) -> EnterpriseOf:
    """``EnterpriseOf`` from the device registry (memory first; call off the event loop)."""

    def of(device_ids: Collection[str]) -> dict[str, int]:
        found = ((d, registry.lookup(d)) for d in device_ids)
        return {d: device.enterprise_id for d, device in found if device is not None}

    return of


class PlatformSignals:
    """The hub's source of the platform's signals, subscribed to ``bus`` by type name."""

    def __init__(
        self,
        bus: EventBus,
        hub: Hub,
        stats: Mapping[str, SourceStats],
        enterprise_of: EnterpriseOf | None = None,
    ) -> None:
        unknown = set(stats) - set(TYPES)
        if unknown:
            raise ValueError(f"no signal mapping for {sorted(unknown)}")
        self.bus = bus
        self.hub = hub
        self.stats = dict(stats)
        self.gates = {name: Gate(s) for name, s in self.stats.items()}
        self.enterprise_of = enterprise_of
        self.running = False
        self._subscribed = False

    async def start(self) -> None:
        """Subscribe (once) and hand signals on from now on."""
        if not self._subscribed:
            for name in self.stats:
                self.bus.subscribe(name, self.on_event)
            self._subscribed = True
        self.running = True

    async def stop(self) -> None:
        """Ignore signals from now on (the bus keeps the subscription)."""
        self.running = False

    async def on_event(self, event: Event) -> None:
        """Bus handler: the event's records as security events on the hub (never raises,
        never waits for room: what the hub cannot take is counted ``dropped``)."""
        stats = self.stats.get(event.type)
        if stats is None or not self.running:
            return
        try:
            events = await self._events(event, stats)
            if not events:
                return
            fresh = self.gates[event.type].fresh(events)
            receipt = self.hub.offer(fresh)
            stats.submitted += receipt.accepted
            stats.duplicates += receipt.duplicates
            stats.dropped += receipt.dropped
        except Exception as exc:  # the subscriber goes on with the next event
            stats.bad += 1
            stats.last_error = f"{event.type} {event.id[:64]}: {exc}"[:300]
            log.exception("a %s signal could not be handled (counted)", event.type)

    async def _events(self, event: Event, stats: SourceStats) -> list[SecurityEvent]:
        try:
            records, left, ts = batch_of(event)
        except BadSignal as exc:
            stats.bad += 1
            stats.last_error = f"{event.type} {event.id[:64]}: {exc}"[:300]
            return []
        stats.read += len(records)
        stats.dropped += left
        make = MAPPINGS[event.type]
        events: list[SecurityEvent] = []
        for n, rec in enumerate(records):
            try:
                if not isinstance(rec, dict):
                    raise BadSignal("a record must be a JSON object")
                events.append(make(rec, ts, f"sig-{event.id}-{n}"))
            except BadSignal as exc:
                stats.bad += 1
                stats.last_error = f"{event.type} record {n}: {exc}"[:300]
        stats.parsed += len(events)
        if event.type == AUTH_FAILURES and self.enterprise_of is not None:
            events = await self._with_enterprises(events)
        return events

    async def _with_enterprises(self, events: list[SecurityEvent]) -> list[SecurityEvent]:
        """Auth failures naming a registered device, in that device's enterprise."""
        named = {
            e.fields["device"]
            for e in events
            if e.fields.get("device") and e.fields.get("target") in DEVICE_TARGETS
        }
        if not named or self.enterprise_of is None:
            return events
        found = await asyncio.to_thread(self.enterprise_of, named)
        return [
            replace(e, enterprise_id=found[e.fields["device"]])
            if e.fields.get("target") in DEVICE_TARGETS and e.fields.get("device") in found
            else e
            for e in events
        ]
