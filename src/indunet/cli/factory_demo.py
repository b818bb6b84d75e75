"""The demo's live factory: the virtual factory started with the platform, its devices registered.

``indunet demo`` runs the virtual factory in the same process as the platform (one asyncio
loop): CNC machines on an OPC UA server, compressors and power meters behind a Modbus TCP
gateway, excavators and an environment sensor publishing to the embedded MQTT endpoint. The
plan (ids and device secrets) is kept in the data directory, so a restarted demo finds the
same devices; their connections are refreshed because the servers take free ports. Two demo
rules and a scheduled bearing fault make an alarm appear within about a minute.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from indunet import core, devices, sim
from indunet.core import Conflict, NotFound
from indunet.web.platform import Platform

log = logging.getLogger(__name__)
PLAN_FILE = "demo-factory.json"
MIRROR_FILE = "mirror.pcap"
"""The Modbus conversations as a SPAN port would copy them, read by the demo's sensor."""
ACTOR = "demo"
FAULTS = (
    # cnc-0002's spindle bearing heats up from 5 s at 1 °C/s for 2 minutes, then cools down:
    # the bearing rule (above 80 °C for 10 s) raises an alarm within about a minute.
    "cnc-0002:bearing_drift@5s,rate=1,for=120s",
    "compressor-0002:vibration_spike@45s,for=60s",
    "meter-0002:offline@90s,for=30s",
)
INTRUDER_EVERY_S = 30.0
RULES = (
    {
        "name": "主轴轴承温度过高 Spindle bearing overheating",
        "model_id": "indunet:cnc-machine",
        "condition": "bearing_temp > 80",
        "clear_condition": "bearing_temp < 75",
        "duration_s": 10,
        "severity": "major",
        "message": "bearing {bearing_temp} °C",
    },
    {
        "name": "空压机电机过热 Compressor motor overheating",
        "model_id": "indunet:air-compressor",
        "condition": "motor_temp > 110",
        "duration_s": 30,
        "severity": "critical",
        "message": "motor {motor_temp} °C",
    },
)


class DemoFactory:
    """A platform hook: starts the virtual factory and registers its devices for one enterprise."""

    def __init__(self, data_dir: Path, enterprise_uscc: str) -> None:
        self.data_dir = data_dir
        self.enterprise_uscc = enterprise_uscc
        self.factory: sim.Factory | None = None
        self.intruder: sim.Intruder | None = None
        self.sensor: Any = None  # the built-in sensor, told the gateways' ports (free ones)

    def _plan(self) -> sim.FactoryPlan:
        path = self.data_dir / PLAN_FILE
        if path.exists():
            return sim.FactoryPlan.from_json(path.read_bytes())
        plan = sim.make_plan(devices.library_models(), None, seed=7)
        path.write_bytes(plan.to_json())
        path.chmod(0o600)  # device secrets
        return plan

    async def start(self, platform: Platform) -> None:
        """Open the equipment's servers, register the devices, then let MQTT devices connect."""
        s = platform.settings
        mqtt = platform.connectors.connectors["mqtt"]
        endpoint = getattr(mqtt, "endpoint", None)
        mqtt_port = endpoint.port if endpoint is not None else s.mqtt_port
        self.factory = sim.Factory(
            self._plan(),
            mqtt_host=s.mqtt_host if s.mqtt_url is None else None,
            mqtt_port=mqtt_port,
            opcua_port=0,
            modbus_base_port=0,
            seed=7,
            faults=FAULTS,
            mirror=self.data_dir / MIRROR_FILE,
        )
        await self.factory.start(mqtt=False)
        enterprise = self._register(platform, self.factory.plan)
        await self._rules(platform, enterprise)
        platform.sync_devices()
        self.factory.connect_mqtt()
        log.warning(
            "virtual factory: %d devices registered for enterprise %s",
            len(self.factory.plan.devices),
            self.enterprise_uscc,
        )
        for line in equipment_ports(self.factory):
            typer.echo(line)  # the banner's last lines: the ports the equipment opened
        # A misbehaving host sweeps and writes the Modbus gateways from an address that is not
        # the platform's: the security pages show it (docs/security/concepts.md, the demo).
        if self.sensor is not None:
            for gw in self.factory.gateways:
                self.sensor.decoder.serve(gw.port, "modbus")
        targets = [(self.factory.host, gw.port, len(gw.equipment)) for gw in self.factory.gateways]
        if targets:
            self.intruder = sim.Intruder(targets, every=INTRUDER_EVERY_S, first_after=15.0)
            await self.intruder.start()

    async def stop(self, platform: Platform) -> None:
        """Stop the intruder and the equipment."""
        if self.intruder is not None:
            await self.intruder.stop()
            self.intruder = None
        if self.factory is not None:
            await self.factory.stop()

    def _register(self, platform: Platform, plan: sim.FactoryPlan) -> int:
        with platform.engine.connect() as conn:
            enterprise = core.get_enterprise(conn, self.enterprise_uscc)
        for d in plan.devices:
            spec: dict[str, Any] = d.to_dict()
            try:
                current = platform.devices.get(d.id)
            except NotFound:
                platform.devices.create(enterprise.id, spec, actor=ACTOR)
                continue
            if current.connection != spec["connection"]:
                platform.devices.update(d.id, {"connection": spec["connection"]}, actor=ACTOR)
        return enterprise.id

    async def _rules(self, platform: Platform, enterprise_id: int) -> None:
        with platform.engine.connect() as conn:
            admin = core.get_user(conn, core.users.ADMIN_USERNAME)
        existing = {r.name for r in platform.rules.find(admin, enterprise_id=enterprise_id)}
        for spec in RULES:
            if spec["name"] in existing:
                continue
            try:
                await platform.rules.create(admin, {**spec, "enterprise_id": enterprise_id})
            except Conflict:
                continue


def equipment_ports(factory: sim.Factory) -> list[str]:
    """What the simulated equipment listens on, one line per server, for the demo's banner."""
    lines = []
    if factory.opcua is not None:
        count = sum(1 for d in factory.plan.devices if d.protocol == "opcua")
        lines.append(f"Simulated:    {factory.host}:{factory.opcua.port} OPC UA ({count} devices)")
    for gw in factory.gateways:
        lines.append(
            f"Simulated:    {factory.host}:{gw.port} Modbus TCP ({len(gw.equipment)} devices)"
        )
    mqtt = sum(1 for d in factory.plan.devices if d.protocol == "mqtt")
    if mqtt:
        lines.append(f"Simulated:    {mqtt} MQTT devices connect out to the MQTT endpoint")
    return lines


def watch_the_mirror(state: Any, demo: DemoFactory) -> None:
    """The demo's security side: the built-in sensor follows the factory's mirror (the
    settings name it before the state is built: ``mirror_settings``) for the demo enterprise,
    whose allowed Modbus master is the platform itself (127.0.0.1). The intruder's sweep and
    writes from 127.0.0.66 then raise alerts, which a case collects within a minute."""
    svc = state.services.get("security")
    if svc is None:
        return
    with state.engine.connect() as conn:
        enterprise = core.get_enterprise(conn, demo.enterprise_uscc)
        admin = core.get_user(conn, core.users.ADMIN_USERNAME)
    sensor = svc.part("sensor")
    if sensor is not None:
        sensor.enterprise_id = enterprise.id
        demo.sensor = sensor
    detection = svc.part("detection")
    if detection is not None and not detection.store.lists().get(enterprise.id, {}).get(
        "allowed_masters"
    ):
        detection.store.put_list(admin, enterprise.id, "allowed_masters", ["127.0.0.1"])


def mirror_settings(settings: Any) -> None:
    """Have the built-in sensor follow the factory's mirror, unless a sensor is configured."""
    if settings.sensor_iface is None and settings.sensor_follow is None:
        settings.sensor_follow = settings.data_dir / MIRROR_FILE
