"""The virtual factory (虚拟工厂): simulated equipment speaking real industrial protocols.

``Factory``, ``ModbusGateway`` and ``OpcUaServer`` load pymodbus and asyncua on first use,
so the CLI does not pay for them on every command.
"""

from typing import TYPE_CHECKING

from indunet.core.lazy import lazy_names
from indunet.sim.active import ActiveReport, announce_active
from indunet.sim.behaviours import BEHAVIOURS, Behaviour, Rule
from indunet.sim.equipment import Counters, Equipment
from indunet.sim.faults import Fault, parse_fault
from indunet.sim.mqtt import MqttDevice, Ticker
from indunet.sim.plan import FactoryPlan, SimDevice, make_plan, mix, protocol_of
from indunet.sim.registration import PlatformUnreachable, Registration, register
from indunet.sim.signals import Signals

if TYPE_CHECKING:
    from indunet.sim.factory import Factory
    from indunet.sim.intruder import Intruder
    from indunet.sim.mirror import PcapWriter
    from indunet.sim.modbus import ModbusGateway
    from indunet.sim.opcua import OpcUaServer

__getattr__ = lazy_names(
    __name__,
    {
        "Factory": "indunet.sim.factory",
        "Intruder": "indunet.sim.intruder",
        "PcapWriter": "indunet.sim.mirror",
        "ModbusGateway": "indunet.sim.modbus",
        "OpcUaServer": "indunet.sim.opcua",
    },
)

__all__ = [
    "BEHAVIOURS",
    "ActiveReport",
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
