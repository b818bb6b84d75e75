"""The virtual factory's public API is what ``indunet.sim`` exports; this list pins it."""

from __future__ import annotations

from indunet import sim

SIM = [
    "ActiveReport",
    "BEHAVIOURS",
    "Behaviour",
    "Counters",
    "Equipment",
    "Factory",
    "FactoryPlan",
    "Fault",
    "Intruder",
    "ModbusGateway",
    "MqttDevice",
    "OpcUaServer",
    "PcapWriter",
    "PlatformUnreachable",
    "Registration",
    "Rule",
    "Signals",
    "SimDevice",
    "Ticker",
    "announce_active",
    "make_plan",
    "mix",
    "parse_fault",
    "protocol_of",
    "register",
]


def test_sim_exports_exactly_its_public_api() -> None:
    assert sorted(sim.__all__) == sorted(SIM)
    for name in SIM:
        assert getattr(sim, name) is not None
        assert getattr(sim, name).__doc__, f"{name} has no docstring"
