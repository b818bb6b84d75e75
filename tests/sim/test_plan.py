"""Plans: the demo mix, scaled mixes, ids and secrets, endpoints once bound, JSON round trip."""

from __future__ import annotations

import pytest

from indunet.core import InvalidInput
from indunet.devices import ThingModel
from indunet.sim import FactoryPlan, make_plan, mix, protocol_of
from indunet.sim.plan import GATEWAY_CONNECTIONS, UNITS_PER_GATEWAY


def test_demo_mix_is_ten_machines(models: dict[str, ThingModel]) -> None:
    plan = make_plan(models.values())
    ids = [d.id for d in plan.devices]
    assert ids[:3] == ["cnc-0001", "cnc-0002", "cnc-0003"]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert {d.protocol for d in plan.by_protocol("opcua")} == {"opcua"}
    assert len(plan.by_protocol("opcua")) == 3
    assert len(plan.by_protocol("modbus")) == 4
    assert len(plan.by_protocol("mqtt")) == 3
    assert len({d.secret for d in plan.devices}) == 10
    assert all(len(d.secret) >= 32 for d in plan.devices)


def test_scaled_mix_adds_up(models: dict[str, ThingModel]) -> None:
    assert mix(1000) == {
        "indunet:cnc-machine": 200,
        "indunet:air-compressor": 300,
        "indunet:power-meter": 200,
        "indunet:excavator": 200,
        "indunet:env-sensor": 100,
    }
    for n in (1, 3, 7, 11, 999):
        assert sum(mix(n).values()) == n
    for n in (0, -5, 10**6):
        with pytest.raises(InvalidInput):
            mix(n)


def test_protocols_come_from_the_models(models: dict[str, ThingModel]) -> None:
    assert protocol_of(models["indunet:cnc-machine"]) == "opcua"
    assert protocol_of(models["indunet:power-meter"]) == "modbus"
    assert protocol_of(models["indunet:env-sensor"]) == "mqtt"


def test_bound_plan_fills_connections_and_splits_gateways(models: dict[str, ThingModel]) -> None:
    plan = make_plan(models.values(), 1000, secret_for={"cnc-0001": "given-secret-123456"})
    assert plan.devices[0].secret == "given-secret-123456"
    groups = plan.modbus_units()
    full, rest = divmod(500, UNITS_PER_GATEWAY)  # 500 Modbus devices in the mix
    assert [len(g) for g in groups] == [UNITS_PER_GATEWAY] * full + ([rest] if rest else [])
    assert 1 <= UNITS_PER_GATEWAY <= 247
    ports = [5020 + i for i in range(len(groups))]
    bound = plan.bound("127.0.0.1", 4840, ports)
    first, last = bound.by_protocol("modbus")[0], bound.by_protocol("modbus")[-1]
    assert first.connection == {
        "host": "127.0.0.1",
        "port": 5020,
        "unit": 1,
        "connections": GATEWAY_CONNECTIONS,
    }
    assert last.connection == {
        "host": "127.0.0.1",
        "port": ports[-1],
        "unit": rest or UNITS_PER_GATEWAY,
        "connections": GATEWAY_CONNECTIONS,
    }
    assert bound.devices[0].connection == {"endpoint": "opc.tcp://127.0.0.1:4840/indunet/sim"}
    assert bound.by_protocol("mqtt")[0].connection == {}
    with pytest.raises(InvalidInput):
        plan.bound("127.0.0.1", 4840, ports[:-1])


def test_plan_json_round_trip_and_bad_plans(models: dict[str, ThingModel]) -> None:
    plan = make_plan(models.values()).bound("127.0.0.1", 4840, [5020])
    again = FactoryPlan.from_json(plan.to_json())
    assert again == plan
    body = plan.devices[0].to_dict()
    assert set(body) == {
        "id",
        "name",
        "model",
        "protocol",
        "connection",
        "secret",
        "manufacturer",
        "serial",
    }
    for bad in (
        b"{",
        b"[]",
        b'{"devices": [{"id": "x"}]}',
        b'{"devices": [{"id": "x", "model_id": "m", "protocol": "can"}]}',
    ):
        with pytest.raises(InvalidInput):
            FactoryPlan.from_json(bad)
    twice = b'{"devices": [{"id": "x", "model_id": "m", "protocol": "mqtt"}, {"id": "x", "model_id": "m", "protocol": "mqtt"}]}'
    with pytest.raises(InvalidInput, match="twice"):
        FactoryPlan.from_json(twice)


def test_plan_needs_the_models_it_mixes(models: dict[str, ThingModel]) -> None:
    with pytest.raises(InvalidInput, match="models not available"):
        make_plan([models["indunet:cnc-machine"]])
