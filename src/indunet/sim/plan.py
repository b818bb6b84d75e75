"""What a virtual factory runs: its devices, their models, protocols, endpoints and secrets.

The plan is what the platform needs to register the devices (``to_json``): the connection of
a Modbus device is its gateway's host, port and unit id, of an OPC UA device the server's
endpoint; MQTT devices connect out to the broker, so theirs is empty.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

from indunet.core import InvalidInput
from indunet.devices import ModbusForm, MqttForm, OpcUaForm, ThingModel

Protocol = Literal["opcua", "modbus", "mqtt"]
UNITS_PER_GATEWAY = 8  # one RS-485 line per gateway; at 1 Hz its ~24 reads/s fit a 115200-baud bus
GATEWAY_CONNECTIONS = 2
"""TCP connections the platform opens to each simulated gateway (its units spread over them)."""
OPCUA_PATH = "/indunet/sim"
# The demo's ten machines, and the shares of each model when scaling to N devices.
DEMO_MIX = {
    "indunet:cnc-machine": 3,
    "indunet:air-compressor": 2,
    "indunet:power-meter": 2,
    "indunet:excavator": 2,
    "indunet:env-sensor": 1,
}
SHARES = {
    "indunet:cnc-machine": 0.2,
    "indunet:air-compressor": 0.3,
    "indunet:power-meter": 0.2,
    "indunet:excavator": 0.2,
    "indunet:env-sensor": 0.1,
}
ID_PREFIX = {
    "indunet:cnc-machine": "cnc",
    "indunet:air-compressor": "compressor",
    "indunet:power-meter": "meter",
    "indunet:excavator": "excavator",
    "indunet:env-sensor": "env",
}
MANUFACTURER = "Indunet Virtual Factory"
MAX_DEVICES = 100_000


def protocol_of(model: ThingModel) -> Protocol:
    """The protocol a model's points are bound to (the first binding found, OPC UA first)."""
    forms = [f for p in model.points.values() for f in p.forms]
    for kind, name in ((OpcUaForm, "opcua"), (ModbusForm, "modbus"), (MqttForm, "mqtt")):
        if any(isinstance(f, kind) for f in forms):
            return name  # type: ignore[return-value]
    raise InvalidInput(f"{model.id} has no OPC UA, Modbus or MQTT binding to simulate")


@dataclass(frozen=True)
class SimDevice:
    """One simulated device as the platform registers it."""

    id: str
    model_id: str
    protocol: Protocol
    connection: dict[str, Any] = field(default_factory=dict)
    secret: str = ""
    name: str = ""
    manufacturer: str = MANUFACTURER
    serial: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The device as the platform's ``POST /api/v1/devices`` takes it (``model``: the id)."""
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model_id,
            "protocol": self.protocol,
            "connection": dict(self.connection),
            "secret": self.secret,
            "manufacturer": self.manufacturer,
            "serial": self.serial,
        }


@dataclass(frozen=True)
class FactoryPlan:
    """The devices of a virtual factory, in a stable order."""

    devices: tuple[SimDevice, ...]

    def by_protocol(self, protocol: Protocol) -> list[SimDevice]:
        """The devices speaking one protocol."""
        return [d for d in self.devices if d.protocol == protocol]

    def modbus_units(self) -> list[list[SimDevice]]:
        """Modbus devices grouped per gateway (``UNITS_PER_GATEWAY`` each), in plan order."""
        mb = self.by_protocol("modbus")
        return [mb[i : i + UNITS_PER_GATEWAY] for i in range(0, len(mb), UNITS_PER_GATEWAY)]

    def bound(self, host: str, opcua_port: int, modbus_ports: Sequence[int]) -> FactoryPlan:
        """The plan with every connection filled in for servers on these ports."""
        units = {
            d.id: (g, u + 1) for g, grp in enumerate(self.modbus_units()) for u, d in enumerate(grp)
        }
        if len(modbus_ports) < len(self.modbus_units()):
            raise InvalidInput(f"{len(self.modbus_units())} Modbus gateways need as many ports")
        out = []
        for d in self.devices:
            if d.protocol == "modbus":
                g, unit = units[d.id]
                conn: dict[str, Any] = {
                    "host": host,
                    "port": modbus_ports[g],
                    "unit": unit,
                    "connections": GATEWAY_CONNECTIONS,
                }
            elif d.protocol == "opcua":
                conn = {"endpoint": f"opc.tcp://{host}:{opcua_port}{OPCUA_PATH}"}
            else:
                conn = {}
            out.append(replace(d, connection=conn))
        return FactoryPlan(tuple(out))

    def to_json(self) -> bytes:
        """The plan as JSON: ``{"devices": [...]}``, each entry a registration body."""
        return orjson.dumps(
            {"devices": [d.to_dict() for d in self.devices]}, option=orjson.OPT_INDENT_2
        )

    @staticmethod
    def from_json(data: bytes | str) -> FactoryPlan:
        """A plan written by ``to_json`` (to restart a factory with the same ids and secrets)."""
        try:
            doc = orjson.loads(data)
            items = doc["devices"]
            devices = tuple(
                SimDevice(
                    id=str(d["id"]),
                    model_id=str(d["model"] if "model" in d else d["model_id"]),
                    protocol=d["protocol"],
                    connection=dict(d.get("connection") or {}),
                    secret=str(d.get("secret") or ""),
                    name=str(d.get("name") or d["id"]),
                    manufacturer=str(d.get("manufacturer") or MANUFACTURER),
                    serial=str(d.get("serial") or ""),
                )
                for d in items
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"not a factory plan: {exc}") from None
        bad = [d.protocol for d in devices if d.protocol not in ("opcua", "modbus", "mqtt")]
        if bad:
            raise InvalidInput(f"unknown protocol {bad[0]!r} in the plan")
        if len({d.id for d in devices}) != len(devices):
            raise InvalidInput("the plan lists a device id twice")
        return FactoryPlan(devices)


def mix(total: int | None, shares: Mapping[str, float] = SHARES) -> dict[str, int]:
    """How many devices of each model: the demo's ten, or ``total`` split by ``shares``.

    Largest remainders get the rounding, so the counts always add up to ``total``.
    """
    if total is None:
        return dict(DEMO_MIX)
    if not 1 <= total <= MAX_DEVICES:
        raise InvalidInput(f"the factory holds 1 to {MAX_DEVICES} devices, not {total}")
    exact = {m: total * s / sum(shares.values()) for m, s in shares.items()}
    counts = {m: math.floor(x) for m, x in exact.items()}
    rest = sorted(shares, key=lambda m: (counts[m] - exact[m], list(shares).index(m)))
    for m in rest[: total - sum(counts.values())]:
        counts[m] += 1
    return counts


def make_plan(
    models: Iterable[ThingModel],
    total: int | None = None,
    *,
    seed: int = 0,
    secret_for: Mapping[str, str] | None = None,
) -> FactoryPlan:
    """A plan of ``total`` devices (default: the demo's ten) of the given models.

    Ids are ``<kind>-0001`` …; secrets are fresh random tokens unless ``secret_for`` gives
    one. Connections are filled when the factory binds its servers (``FactoryPlan.bound``).
    """
    by_id = {m.id: m for m in models}
    counts = mix(total)
    missing = [m for m, n in counts.items() if n and m not in by_id]
    if missing:
        raise InvalidInput(f"models not available: {', '.join(missing)}")
    devices = []
    for model_id, n in counts.items():
        model = by_id[model_id]
        prefix = ID_PREFIX.get(model_id, model_id.split(":")[-1])
        title = model.title.get("en") or model_id
        for i in range(1, n + 1):
            dev_id = f"{prefix}-{i:04d}"
            devices.append(
                SimDevice(
                    id=dev_id,
                    model_id=model_id,
                    protocol=protocol_of(model),
                    secret=(secret_for or {}).get(dev_id) or secrets.token_urlsafe(24),
                    name=f"{title} {i}",
                    serial=f"VF{seed % 1000:03d}-{prefix[:3].upper()}-{i:06d}",
                )
            )
    return FactoryPlan(tuple(devices))
