"""Simulated OPC UA machines: one asyncua server hosting every device bound to OPC UA.

Each device is an object ``ns=<idx>;s=<device id>`` under Objects, with one variable per point
at exactly the node id its model declares (``ns=2;s=cnc-0001.SpindleSpeed``) and one method per
action that has an OPC UA form. Namespaces are registered so that the indexes the models use
exist (the first one, index 2, is ``urn:indunet:sim``). Variables change at most once per
step, with the step's time as source timestamp; a value that did not change is not written
again (its source timestamp stays that of the change, as OPC UA intends). Writable variables take client writes, checked
against the model (a value out of range gets ``BadOutOfRange``, a wrong type
``BadTypeMismatch``; nothing changes). A device off the network has every variable at
``BadCommunicationError`` (its methods and writes fail the same way) until it is back.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from indunet.core import Conflict, IndunetError, InvalidInput
from indunet.devices import OpcUaForm, ThingModel
from indunet.sim.equipment import Equipment
from indunet.sim.plan import OPCUA_PATH
from indunet.sim.signals import Value

NAMESPACE = "urn:indunet:sim"
_VARIANT = {
    "number": ua.VariantType.Double,
    "integer": ua.VariantType.Int64,
    "boolean": ua.VariantType.Boolean,
    "string": ua.VariantType.String,
}


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


_GOOD = _status(StatusCodes.Good)
_OFFLINE = _status(StatusCodes.BadCommunicationError)


def free_port(host: str) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _node_ids(model: ThingModel, device_id: str) -> dict[str, ua.NodeId]:
    out = {}
    for name, point in model.points.items():
        form = point.form(OpcUaForm)
        if form is not None:
            out[name] = ua.NodeId.from_string(model.fill(form.node_id, device_id))
    return out


class _Machine:
    """One device's nodes and the glue between client writes and the equipment."""

    def __init__(self, eq: Equipment) -> None:
        self.eq = eq
        self.nodes = _node_ids(eq.model, eq.id)
        self.types = {n: _VARIANT[eq.model.points[n].type] for n in self.nodes}
        self.shown_online = True
        self.shown: dict[str, Value] = {}  # what each variable holds now
        self.mine: ua.DataValue | None = None  # the value the factory itself is writing

    def setter(self, name: str) -> Any:
        def take(node: Any, attr: AttributeIds, value: ua.DataValue) -> None:
            if value is not self.mine and not (value.StatusCode and value.StatusCode.is_bad()):
                if not self.eq.online:
                    raise UaStatusCodeError(StatusCodes.BadCommunicationError)  # type: ignore[no-untyped-call]
                try:
                    self.eq.write(name, value.Value.Value if value.Value else None)
                except InvalidInput:
                    raise UaStatusCodeError(StatusCodes.BadOutOfRange) from None  # type: ignore[no-untyped-call]
            attval = node.attributes[attr]
            attval.value = value
            attval.value_callback = None

        return take

    def method(self, action: str) -> Any:
        async def call(parent: ua.NodeId, *args: ua.Variant) -> Any:
            if not self.eq.online:
                return _status(StatusCodes.BadCommunicationError)
            payload = args[0].Value if args else None
            try:
                result = self.eq.invoke(action, payload)
            except Conflict:
                return _status(StatusCodes.BadInvalidState)
            except IndunetError:
                return _status(StatusCodes.BadInvalidArgument)
            return [ua.Variant(json.dumps(result, ensure_ascii=False), ua.VariantType.String)]

        return call


class OpcUaServer:
    """An OPC UA server for the given devices; ``publish()`` pushes their latest values."""

    def __init__(
        self, equipment: Sequence[Equipment], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host = host
        self.port = port
        self.machines = [_Machine(eq) for eq in equipment]
        self._server: Server | None = None

    @property
    def endpoint(self) -> str:
        """``opc.tcp://host:port/indunet/sim``."""
        return f"opc.tcp://{self.host}:{self.port}{OPCUA_PATH}"

    async def start(self) -> None:
        """Build the address space and listen (port 0: a free port, then kept in ``port``)."""
        if self.port == 0:
            self.port = free_port(self.host)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Indunet virtual factory")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        await self._ensure_namespaces(server)
        for m in self.machines:
            await self._add(server, m)
        try:
            await server.start()
        except OSError as exc:
            raise Conflict(f"cannot listen for OPC UA on {self.host}:{self.port}: {exc}") from None
        self._server = server

    async def _ensure_namespaces(self, server: Server) -> None:
        wanted = {n.NamespaceIndex for m in self.machines for n in m.nodes.values()}
        top = max(wanted, default=2)
        names = await server.get_namespace_array()
        while len(names) <= top:
            idx = len(names)
            await server.register_namespace(NAMESPACE if idx == 2 else f"{NAMESPACE}:ns{idx}")
            names = await server.get_namespace_array()

    async def _add(self, server: Server, m: _Machine) -> None:
        eq = m.eq
        ns = next(iter(m.nodes.values())).NamespaceIndex if m.nodes else 2
        obj = await server.nodes.objects.add_object(
            ua.NodeId(ua.String(eq.id), ua.Int16(ns)), ua.QualifiedName(eq.id, ns)
        )
        for name, node_id in m.nodes.items():
            ident = str(node_id.Identifier)
            browse = (
                ident.removeprefix(f"{eq.id}.") if isinstance(node_id.Identifier, str) else name
            )
            value = eq.values.get(name)
            var = await obj.add_variable(
                node_id,
                ua.QualifiedName(browse, node_id.NamespaceIndex),
                _initial(value, m.types[name]),
                m.types[name],
            )
            if eq.model.points[name].writable:
                await var.set_writable()
                server.set_attribute_value_setter(node_id, m.setter(name))
        for action_name, action in eq.model.actions.items():
            form = action.form(OpcUaForm)
            if form is None:
                continue
            node_id = ua.NodeId.from_string(eq.model.fill(form.node_id, eq.id))
            inputs = _input_types(action.input)
            ident = str(node_id.Identifier).removeprefix(f"{eq.id}.")
            await obj.add_method(
                node_id,
                ua.QualifiedName(ident, node_id.NamespaceIndex),
                m.method(action_name),
                inputs,
                [ua.VariantType.String],
            )

    async def publish(self) -> None:
        """Write every device's latest values (or its bad status, once, when it went away)."""
        server = self._server
        if server is None:
            return
        for m in self.machines:
            eq = m.eq
            if not eq.online:
                if m.shown_online:
                    m.shown_online, m.shown = False, {}
                    for node_id in m.nodes.values():
                        await server.write_attribute_value(
                            node_id, ua.DataValue(StatusCode=_OFFLINE)
                        )
                continue
            m.shown_online = True
            ts = ua.DateTime.fromtimestamp(eq.ts_ms / 1000, UTC)
            for name, node_id in m.nodes.items():
                value = eq.values.get(name)
                if value is None or (name in m.shown and m.shown[name] == value):
                    continue  # unchanged: the source timestamp stays that of the change
                m.shown[name] = value
                dv = ua.DataValue(
                    Value=ua.Variant(_initial(value, m.types[name]), m.types[name]),
                    StatusCode=_GOOD,
                    SourceTimestamp=ts,
                    ServerTimestamp=ts,
                )
                m.mine = dv
                await server.write_attribute_value(node_id, dv)
            m.mine = None

    async def stop(self) -> None:
        """Stop listening and drop every session."""
        if self._server is not None:
            await self._server.stop()
            self._server = None


def _initial(value: Value | None, vtype: ua.VariantType) -> Any:
    if vtype == ua.VariantType.Double:
        return float(value) if isinstance(value, int | float) else 0.0
    if vtype == ua.VariantType.Int64:
        return int(value) if isinstance(value, int | float) else 0
    if vtype == ua.VariantType.Boolean:
        return bool(value)
    return "" if value is None else str(value)


def _input_types(schema: dict[str, Any] | None) -> list[ua.VariantType]:
    if not schema or "type" not in schema:
        return []
    vtype = _VARIANT.get(str(schema["type"]))
    if vtype is None:
        raise InvalidInput(f"an OPC UA method cannot take a {schema['type']} input")
    return [vtype]
