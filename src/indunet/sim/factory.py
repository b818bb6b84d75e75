"""A running virtual factory: every device stepped once per interval, served over its protocol.

OPC UA devices share one server, Modbus devices sit behind gateways of a few units each (on
consecutive ports from ``modbus_base_port``; 0 takes free ports), MQTT devices connect out to
the broker. ``Factory.plan`` holds the actual endpoints once started.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from indunet.core import InvalidInput, NotFound
from indunet.devices import ThingModel, library_models
from indunet.sim.equipment import Equipment
from indunet.sim.faults import Fault, parse_fault
from indunet.sim.mirror import PcapWriter
from indunet.sim.modbus import ModbusGateway
from indunet.sim.mqtt import MqttDevice, Ticker
from indunet.sim.opcua import OpcUaServer
from indunet.sim.plan import FactoryPlan

_log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0


class Factory:
    """Simulated equipment for a plan; ``async with Factory(...)`` or ``start()``/``stop()``."""

    def __init__(
        self,
        plan: FactoryPlan,
        *,
        models: Iterable[ThingModel] | None = None,
        host: str = "127.0.0.1",
        mqtt_host: str | None = "127.0.0.1",
        mqtt_port: int = 11883,
        opcua_port: int = 4840,
        modbus_base_port: int = 5020,
        seed: int = 0,
        interval: float = 1.0,
        faults: Sequence[Fault | str] = (),
        mirror: Path | None = None,
    ) -> None:
        if not 0.01 <= interval <= 3600:
            raise InvalidInput(f"the step interval must be 0.01 s to 1 h, not {interval}")
        by_id = {m.id: m for m in (models if models is not None else library_models())}
        unknown = sorted({d.model_id for d in plan.devices} - by_id.keys())
        if unknown:
            raise InvalidInput(
                f"the plan uses models the factory does not know: {', '.join(unknown)}"
            )
        self.plan = plan
        self.host = host
        self.mqtt_host, self.mqtt_port = mqtt_host, mqtt_port
        self.opcua_port, self.modbus_base_port = opcua_port, modbus_base_port
        self.interval = interval
        self.mirror_path = mirror  # a pcap of the Modbus conversations, as a SPAN port gives
        self.mirror: PcapWriter | None = None
        self.equipment = {d.id: Equipment(d, by_id[d.model_id], seed) for d in plan.devices}
        for f in faults:
            fault = parse_fault(f) if isinstance(f, str) else f
            self.get(fault.device).schedule(fault)
        self.opcua: OpcUaServer | None = None
        self.gateways: list[ModbusGateway] = []
        self.mqtt: list[MqttDevice] = []
        self.ticker = Ticker()
        self.steps = 0
        self.late_steps = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._broken: set[str] = set()

    def get(self, device_id: str) -> Equipment:
        """One device's equipment."""
        eq = self.equipment.get(device_id)
        if eq is None:
            raise NotFound(f"the factory has no device {device_id!r}")
        return eq

    async def start(self, *, mqtt: bool = True) -> None:
        """Make the first values, open the servers, start stepping, connect the MQTT devices.

        With ``mqtt=False`` the MQTT devices wait for ``connect_mqtt()`` (e.g. until the
        platform knows their secrets).
        """
        now = math.floor(time.time() / self.interval) * self.interval
        self._step(now)
        try:
            await self._open()
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._run(now + self.interval), name="sim-steps"))
        if mqtt:
            self.connect_mqtt()

    def connect_mqtt(self) -> None:
        """Let the MQTT devices connect to the broker (once; they reconnect by themselves)."""
        if self.mqtt or not self.mqtt_host:
            return
        mqtt = [eq for eq in self.equipment.values() if eq.device.protocol == "mqtt"]
        for i, eq in enumerate(mqtt):
            phase = 0.8 * self.interval * i / len(mqtt)
            dev = MqttDevice(eq, self.mqtt_host, self.mqtt_port, self.ticker, phase=phase)
            self.mqtt.append(dev)
            self._tasks.append(asyncio.create_task(dev.run(), name=f"sim-mqtt-{eq.id}"))

    async def _open(self) -> None:
        opcua = [eq for eq in self.equipment.values() if eq.device.protocol == "opcua"]
        if opcua:
            self.opcua = OpcUaServer(opcua, self.host, self.opcua_port)
            await self.opcua.start()
        for i, group in enumerate(self.plan.modbus_units()):
            port = self.modbus_base_port + i if self.modbus_base_port else 0
            if self.mirror_path is not None and self.mirror is None:
                self.mirror = PcapWriter(self.mirror_path)
            equipment = [self.equipment[d.id] for d in group]
            gw = ModbusGateway(equipment, self.host, port, mirror=self.mirror)
            self.gateways.append(gw)
            await gw.start()
        self.plan = self.plan.bound(
            self.host,
            self.opcua.port if self.opcua else self.opcua_port,
            [g.port for g in self.gateways],
        )
        for d in self.plan.devices:
            self.equipment[d.id].device = d

    def _step(self, now: float) -> None:
        for eq in self.equipment.values():
            try:
                eq.tick(now, self.interval)
            except Exception:
                if eq.id not in self._broken:
                    self._broken.add(eq.id)
                    _log.exception("simulating %s failed", eq.id)
        self.steps += 1

    async def _run(self, next_t: float) -> None:
        while True:
            await asyncio.sleep(max(0.0, next_t - time.time()))
            self._step(next_t)
            if self.opcua is not None:
                await self.opcua.publish()
            self.ticker.fire()
            next_t += self.interval
            behind = time.time() - next_t
            if behind > self.interval:  # overloaded: skip steps rather than pile them up
                skipped = math.floor(behind / self.interval)
                self.late_steps += skipped
                next_t += skipped * self.interval

    async def stop(self) -> None:
        """Stop stepping, disconnect the MQTT devices and close the servers."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            if stuck:
                _log.warning("%d simulator tasks did not stop in %ss", len(stuck), STOP_TIMEOUT_S)
        self._tasks.clear()
        for gw in self.gateways:
            await gw.stop()
        if self.opcua is not None:
            await self.opcua.stop()
        if self.mirror is not None:
            self.mirror.close()
            self.mirror = None

    async def __aenter__(self) -> Factory:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def inject(self, fault: Fault | str) -> Fault:
        """Start a fault now (or ``at`` seconds from now); a bad fault is refused."""
        f = parse_fault(fault) if isinstance(fault, str) else fault
        self.get(f.device).inject(f, delay=f.at)
        return f

    def clear(self, device_id: str, kind: str | None = None) -> int:
        """End a device's faults (all, or of one kind); returns how many ended."""
        return self.get(device_id).faults.clear(kind)

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per device: its counters plus ``samples`` (what was published or served)."""
        return {
            eq.id: {**eq.counters.to_dict(), "samples": eq.samples, "online": eq.online}
            for eq in self.equipment.values()
        }

    def totals(self) -> dict[str, int]:
        """The counters summed over every device."""
        out: dict[str, int] = {}
        for row in self.counters().values():
            for k, v in row.items():
                if k != "online":
                    out[k] = out.get(k, 0) + int(v)
        return out
