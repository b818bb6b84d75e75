"""Real OPC UA traffic (asyncua client and server, SecurityPolicy None, through a recording
relay) written to a pcap with awkward segmentation, decoded into service transactions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncua import Client, Server, ua
from tests.security.sensor.wire import Conversation, Relay, frames, write_pcap

from indunet.security.sensor.decode import Decoder, read_file

APP_URI = "urn:indunet:test:sensor-plant"


async def _double(parent: object, x: ua.Variant) -> list[ua.Variant]:
    return [ua.Variant(x.Value * 2, ua.VariantType.Int64)]


async def _record() -> list[Conversation]:
    server = Server()
    await server.init()
    await server.set_application_uri(APP_URI)
    server.set_endpoint("opc.tcp://127.0.0.1:0/sensor/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:indunet:sensor")
    obj = await server.nodes.objects.add_object(ua.NodeId("Press", ns), "Press")
    speed = await obj.add_variable(ua.NodeId("Press.Speed", ns), "Speed", 1200.5)
    await speed.set_writable()
    await obj.add_method(
        ua.NodeId("Press.Double", ns), "Double", _double, [ua.VariantType.Int64],
        [ua.VariantType.Int64],
    )  # fmt: skip
    await server.start()
    port = server.bserver.port
    try:
        async with Relay(port) as relay:
            client = Client(f"opc.tcp://127.0.0.1:{relay.port}/sensor/", timeout=10)
            await client.connect()
            await client.get_endpoints()
            node = client.get_node(ua.NodeId("Press.Speed", ns))
            assert await node.read_value() == 1200.5
            await node.write_value(ua.DataValue(ua.Variant(1500.25, ua.VariantType.Double)))
            press = client.get_node(ua.NodeId("Press", ns))
            assert await press.call_method(ua.NodeId("Press.Double", ns), 21) == 42
            await client.get_node(ua.NodeId(2261, 0)).read_value()  # BuildInfo.ProductName
            await client.disconnect()
            await asyncio.sleep(0.2)
        return relay.conversations
    finally:
        await server.stop()


def test_real_opcua_session_decodes_services(tmp_path: Path) -> None:
    conversations = asyncio.run(_record())
    pcap = write_pcap(tmp_path / "opcua.pcap", frames(conversations, 4840, seed=11))
    dec = Decoder()
    txs = list(read_file(pcap, dec))
    names = [t.function_name for t in txs]
    assert names[:3] == ["Hello", "OpenSecureChannelRequest", "CreateSessionRequest"]
    for name in ("ActivateSessionRequest", "GetEndpointsRequest", "ReadRequest",
                 "WriteRequest", "CallRequest", "CloseSessionRequest",
                 "CloseSecureChannelRequest"):  # fmt: skip
        assert name in names, (name, names)
    assert txs[0].details["endpoint_url"].endswith("/sensor/")
    assert txs[1].details["security_policy"].endswith("#None")
    assert txs[1].details["security_mode"] == "None"
    by = {}
    for t in txs:
        by.setdefault(t.function_name, []).append(t)
    (activate,) = by["ActivateSessionRequest"]
    assert activate.details["identity_token"] == "anonymous"
    assert "details_incomplete" not in activate.details
    ep = by["GetEndpointsRequest"][0]
    assert ep.details["server"]["application_uri"] == APP_URI
    assert ep.details["endpoints"][0]["security_policy"].endswith("#None")
    reads = by["ReadRequest"]
    speed_read = next(t for t in reads if t.details["nodes"] == ["ns=2;s=Press.Speed"])
    assert speed_read.values == [1200.5] and not speed_read.write
    build = next(t for t in reads if t.details["nodes"] == ["i=2261"])
    assert build.details["build_info"]["ProductName"]
    (write,) = by["WriteRequest"]
    assert write.write and write.status == "ok"
    assert write.details["nodes"] == ["ns=2;s=Press.Speed"] and write.values == [1500.25]
    (call,) = by["CallRequest"]
    assert call.write and call.function == 712
    assert call.details["calls"][0]["method"] == "ns=2;s=Press.Double"
    assert call.details["calls"][0]["arguments"] == [21]
    assert call.details["outputs"] == [[42]]
    assert all(t.status == "ok" for t in txs if t.function_name != "CloseSecureChannelRequest")
    assert dec.stats.malformed == {}
    assert dec.stats.by_protocol["opcua"] > 20
