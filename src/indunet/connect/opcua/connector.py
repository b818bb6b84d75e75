"""The OPC UA connector: subscriptions for telemetry, writes and method calls for commands.

A device's ``DeviceLink.connection`` holds ``OpcUaSettings``; devices with equal settings
(several machines on one server, node ids differing by device id after
``ThingModel.fill``) share one client session. Every point with an ``OpcUaForm`` becomes a
monitored item; an action with an ``OpcUaForm`` names a method, called on its parent object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from indunet.connect.connector import CommandFailed, DeviceLink, Health, StatusSink
from indunet.connect.links import Links
from indunet.core import InvalidInput, NotFound
from indunet.core.signals import Signal
from indunet.devices import OpcUaForm, ThingModel
from indunet.telemetry import Sample, SampleSink, Value

from .codec import quality, status_name, timestamp_ms, to_value, to_variant
from .config import OpcUaSettings
from .session import Binding, DeviceState, Session, Stats


class OpcUaConnector:
    """OPC UA devices, read by subscription on the process's event loop."""

    protocol = "opcua"

    def __init__(self, sink: SampleSink, status: StatusSink, refused: Signal | None = None) -> None:
        self.sink = sink
        self.status = status
        self.refused = refused  # identities a server refused (``connect.events.AUTH_FAILURES``)
        self.stats = Stats()
        self._links: Links[OpcUaSettings, Session] = Links(self._session)

    async def start(self) -> None:
        """Begin connecting to every server of the devices added so far."""
        await self._links.start()

    async def stop(self) -> None:
        """Close every session."""
        await self._links.stop()

    def add(self, device: DeviceLink) -> None:
        """Serve ``device``; ``InvalidInput`` (and no change) for bad settings or node ids."""
        settings = OpcUaSettings.parse(device.connection)
        bindings = _bindings(device.id, device.model)
        if not bindings:
            raise InvalidInput(f"model {device.model.ref} has no point with an OPC UA form")
        self.remove(device.id)
        self._links.add(settings, device.id, DeviceState(device, bindings))

    def remove(self, device_id: str) -> None:
        """Stop serving ``device_id``; its session closes with its last device (``stop`` waits)."""
        removed = self._links.remove(device_id)
        if removed is not None and removed[0].devices:
            removed[0].retire(removed[1])

    async def read(self, device_id: str, points: Sequence[str] | None = None) -> list[Sample]:
        """Read the named points (default all) from the server now."""
        session, dev, client = self._connected(device_id)
        chosen = [b for b in dev.bindings if points is None or b.point.name in points]
        if points is not None and len(chosen) != len(set(points)):
            missing = set(points) - {b.point.name for b in chosen}
            raise InvalidInput(f"device {device_id} has no OPC UA point {sorted(missing)[0]}")
        try:
            async with asyncio.timeout(session.settings.timeout):
                values = await asyncio.gather(
                    *(
                        client.get_node(b.node_id).read_data_value(raise_on_bad_status=False)
                        for b in chosen
                    )
                )
        except (UaError, OSError, TimeoutError, ConnectionError) as exc:
            raise CommandFailed(
                f"device {device_id}: OPC UA read failed: {status_name(exc)}"
            ) from exc
        out = []
        for b, dv in zip(chosen, values, strict=True):
            value = to_value(b.point, dv.Value.Value if dv.Value is not None else None)
            if value is not None:
                out.append(
                    Sample(device_id, b.point.name, timestamp_ms(dv), value, quality(dv.StatusCode))
                )
        return out

    async def write(self, device_id: str, point: str, value: Value) -> None:
        """Write a point with the node's own data type; ``CommandFailed`` names the status."""
        session, dev, client = self._connected(device_id)
        node_id = _writable_node(dev, point, value)
        node = client.get_node(node_id)
        timeout = session.settings.timeout
        try:
            vtype = await _variant_type(session, client, node_id)
            variant = to_variant(value, vtype, f"node {node_id}")
            async with asyncio.timeout(timeout):
                await node.write_value(ua.DataValue(variant))
        except (UaError, OSError, TimeoutError, ConnectionError) as exc:
            raise CommandFailed(
                f"device {device_id}: OPC UA write to {node_id} failed: {status_name(exc)}"
            ) from exc

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """``InvalidInput`` when ``write`` would refuse ``value`` (by the node's data type).

        The type is read from the server once and cached; while disconnected only the
        model's checks apply (``write`` then fails with ``CommandFailed`` anyway).
        """
        session = self._links.get(device_id)
        if session is None:
            return  # not served: ``write`` says so
        node_id = _writable_node(session.devices[device_id], point, value)
        vtype = session.types.get(node_id)
        client = session.client
        if vtype is None and client is not None and session.up:
            try:
                vtype = await _variant_type(session, client, node_id)
            except (UaError, OSError, TimeoutError, ConnectionError):
                return  # the write will say what is wrong with the node
        if vtype is not None:
            to_variant(value, vtype, f"node {node_id}")

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Call the action's OPC UA method on its parent object; return its output."""
        session, dev, client = self._connected(device_id)
        act = dev.link.model.actions.get(action)
        if act is None:
            raise InvalidInput(f"device {device_id} has no action {action}")
        form = act.form(OpcUaForm)
        if form is None:
            raise CommandFailed(f"action {action} is not supported over OPC UA (no OPC UA form)")
        node_id = ThingModel.fill(form.node_id, device_id)
        method = client.get_node(node_id)
        timeout = session.settings.timeout
        try:
            async with asyncio.timeout(timeout):
                parent = await method.get_parent()
            if parent is None:
                raise CommandFailed(f"method {node_id} has no parent object to call it on")
            async with asyncio.timeout(timeout):
                args = await _arguments(client, method, payload, action)
            async with asyncio.timeout(timeout):
                result = await parent.call_method(method.nodeid, *args)
        except (UaError, OSError, TimeoutError, ConnectionError) as exc:
            raise CommandFailed(
                f"device {device_id}: OPC UA method {node_id} failed: {status_name(exc)}"
            ) from exc
        return _plain(result)

    def health(self) -> Health:
        """Devices online, reconnects, subscriptions and notification counters."""
        devices = [d for s in self._links for d in s.devices.values()]
        s = self.stats
        return Health(
            protocol=self.protocol,
            connected=sum(1 for d in devices if d.online),
            devices=len(devices),
            reconnects=s.reconnects,
            errors=s.errors,
            detail={
                "sessions": len(self._links),
                "sessions_up": sum(1 for x in self._links if x.up),
                "monitored_items": sum(x.monitored for x in self._links),
                "notifications": s.notifications,
                "dropped_samples": s.dropped_samples,
            },
        )

    def _session(self, settings: OpcUaSettings) -> Session:
        return Session(settings, self.sink, self.status, self.stats, refused=self.refused)

    def _connected(self, device_id: str) -> tuple[Session, DeviceState, Client]:
        session = self._links.get(device_id)
        if session is None:
            raise NotFound(f"device {device_id} is not served by the OPC UA connector")
        client = session.client
        if client is None or not session.up:
            raise CommandFailed(f"device {device_id}: not connected to {session.settings.endpoint}")
        return session, session.devices[device_id], client


def _writable_node(dev: DeviceState, point: str, value: Value) -> str:
    """The node id ``value`` is written to; ``InvalidInput`` if the point refuses it."""
    device_id = dev.link.id
    p = dev.link.model.points.get(point)
    if p is None:
        raise InvalidInput(f"device {device_id} has no point {point}")
    if not p.writable:
        raise InvalidInput(f"point {point} of device {device_id} is read-only")
    form = p.form(OpcUaForm)
    if form is None:
        raise InvalidInput(f"point {point} has no OPC UA form")
    if not isinstance(value, bool | str) and (
        (p.minimum is not None and value < p.minimum)
        or (p.maximum is not None and value > p.maximum)
    ):
        raise InvalidInput(
            f"{value!r} is outside the range {p.minimum}..{p.maximum} of point {point}"
        )
    return ThingModel.fill(form.node_id, device_id)


async def _variant_type(session: Session, client: Client, node_id: str) -> ua.VariantType:
    """The node's data type as a variant type, read once per session and cached."""
    vtype = session.types.get(node_id)
    if vtype is None:
        node = client.get_node(node_id)
        async with asyncio.timeout(session.settings.timeout):
            vtype = await node.read_data_type_as_variant_type()
        session.types[node_id] = vtype
    return vtype


def _bindings(device_id: str, model: ThingModel) -> list[Binding]:
    out = []
    for point in model.points.values():
        form = point.form(OpcUaForm)
        if form is None:
            continue
        node_id = ThingModel.fill(form.node_id, device_id)
        try:
            ua.NodeId.from_string(node_id)
        except (ValueError, UaError) as exc:
            raise InvalidInput(f"point {point.name}: {node_id!r} is not an OPC UA node id") from exc
        if not form.sampling_interval > 0:
            raise InvalidInput(f"point {point.name}: sampling interval must be positive")
        out.append(Binding(point, node_id, float(form.sampling_interval)))
    return out


async def _arguments(client: Client, method: Any, payload: Any, action: str) -> list[ua.Variant]:
    """The method's input arguments from ``payload``: a list, an object by name, or one value."""
    try:
        declared = await (await method.get_child("0:InputArguments")).read_value()
    except UaStatusCodeError:
        declared = []
    if not declared:
        if payload not in (None, {}, []):
            raise InvalidInput(f"action {action} takes no input")
        return []
    if isinstance(payload, dict):
        if any(not a.Name for a in declared):
            raise InvalidInput(f"action {action} takes its inputs as a list (they have no names)")
        missing = [a.Name for a in declared if a.Name not in payload]
        if missing:
            raise InvalidInput(f"action {action} needs input {missing[0]}")
        values = [payload[a.Name] for a in declared]
    elif isinstance(payload, list):
        values = payload
    else:
        values = [payload]
    if len(values) != len(declared):
        raise InvalidInput(f"action {action} takes {len(declared)} inputs, not {len(values)}")
    out = []
    for arg, value in zip(declared, values, strict=True):
        vtype = await data_type_to_variant_type(client.get_node(arg.DataType))
        out.append(to_variant(value, vtype, f"input {arg.Name} of action {action}"))
    return out


def _plain(result: Any) -> Any:
    """A method's output as JSON-friendly Python."""
    if isinstance(result, list):
        return [_plain(r) for r in result]
    if isinstance(result, ua.LocalizedText):
        return result.Text
    if result is None or isinstance(result, bool | int | float | str):
        return result
    return str(result)
