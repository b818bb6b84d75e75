"""The OPC UA server, read, written and called with asyncua's own client over loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.ua.uaerrors import BadCommunicationError, BadOutOfRange, BadUserAccessDenied

from indunet.devices import OpcUaForm, ThingModel
from indunet.sim import Equipment, OpcUaServer, make_plan

# One server for the module: building the standard address space takes seconds.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served(models: dict[str, ThingModel]) -> AsyncIterator[tuple[OpcUaServer, Client]]:
    plan = make_plan(models.values())
    eqs = [Equipment(d, models[d.model_id], seed=2) for d in plan.by_protocol("opcua")]
    for i in range(120):
        for eq in eqs:
            eq.tick(time.time() - 120 + i)
    server = OpcUaServer(eqs)
    async with asyncio.timeout(30):
        await server.start()
        await server.publish()
    client = Client(server.endpoint, timeout=5)
    try:
        async with asyncio.timeout(15):
            await client.connect()
        yield server, client
    finally:
        async with asyncio.timeout(15):
            await client.disconnect()
            await server.stop()


async def test_reads_at_the_model_node_ids(served: tuple[OpcUaServer, Client]) -> None:
    server, client = served
    async with asyncio.timeout(20):
        assert (await client.get_namespace_array())[2] == "urn:indunet:sim"
        for m in server.machines:
            eq = m.eq
            for name, point in eq.model.points.items():
                form = point.form(OpcUaForm)
                assert form is not None
                node = client.get_node(eq.model.fill(form.node_id, eq.id))
                dv = await node.read_data_value()
                assert dv.StatusCode is not None and dv.StatusCode.is_good()
                value = dv.Value.Value if dv.Value else None
                assert (
                    value == pytest.approx(eq.values[name])
                    if point.type == "number"
                    else value == eq.values[name]
                )
                assert dv.SourceTimestamp is not None
                assert abs(dv.SourceTimestamp.timestamp() * 1000 - eq.ts_ms) < 1
        speed = client.get_node("ns=2;s=cnc-0001.SpindleSpeed")
        assert (await speed.read_data_type_as_variant_type()) == ua.VariantType.Double

        # each step: changed values get the step's time, unchanged ones keep theirs
        m = server.machines[0]
        old = {n: await client.get_node(i).read_data_value() for n, i in m.nodes.items()}
        previous = dict(m.eq.values)
        for eq in (x.eq for x in server.machines):
            eq.tick(time.time() + 1)
        await server.publish()
        for name, node_id in m.nodes.items():
            dv = await client.get_node(node_id).read_data_value()
            if m.eq.values[name] != previous[name]:
                assert dv.SourceTimestamp > old[name].SourceTimestamp, name
                assert abs(dv.SourceTimestamp.timestamp() * 1000 - m.eq.ts_ms) < 1
            else:
                assert dv.SourceTimestamp == old[name].SourceTimestamp, name


async def test_writes_methods_and_going_offline(served: tuple[OpcUaServer, Client]) -> None:
    server, client = served
    eq = server.machines[0].eq  # cnc-0001
    override = client.get_node("ns=2;s=cnc-0001.FeedOverride")
    async with asyncio.timeout(30):
        await override.write_value(ua.DataValue(ua.Variant(120, ua.VariantType.Int64)))
        assert eq.values["feed_override"] == 120
        assert eq.signals.process.setpoints["feed_override"] == 120
        with pytest.raises(BadOutOfRange):
            await override.write_value(ua.DataValue(ua.Variant(400, ua.VariantType.Int64)))
        with pytest.raises(BadUserAccessDenied):
            await client.get_node("ns=2;s=cnc-0001.SpindleSpeed").write_value(
                ua.DataValue(ua.Variant(1.0, ua.VariantType.Double))
            )
        await server.publish()
        assert await override.read_value() == 120  # the refused writes changed nothing

        machine = client.get_node("ns=2;s=cnc-0001")
        out = await machine.call_method(ua.NodeId.from_string("ns=2;s=cnc-0001.Stop"))
        assert json.loads(out) == {"state": "stopped"}
        eq.tick(time.time())
        assert eq.values["running"] is False

        eq.online = False
        await server.publish()
        dv = await override.read_data_value(raise_on_bad_status=False)
        assert dv.StatusCode == ua.StatusCode(ua.StatusCodes.BadCommunicationError)
        with pytest.raises(BadCommunicationError):
            await machine.call_method(ua.NodeId.from_string("ns=2;s=cnc-0001.Start"))
        other = await client.get_node("ns=2;s=cnc-0002.SpindleSpeed").read_data_value()
        assert other.StatusCode.is_good()  # only that machine dropped off

        eq.online = True
        eq.tick(time.time())
        await server.publish()
        back = await override.read_data_value()
        assert back.StatusCode.is_good() and back.Value.Value == 120
