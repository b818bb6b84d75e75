"""Devices (设备): models as WoT Thing Models (the data dictionary), the registry, credentials."""

from pathlib import Path

from indunet.devices import registers
from indunet.devices.bundled import library_documents, library_models
from indunet.devices.catalog import ModelRegistry
from indunet.devices.csvimport import ImportReport
from indunet.devices.device import DEVICE_ID, PROTOCOLS, Device, Protocol, Status
from indunet.devices.lifecycle import Gap, StatusChange, online_series, owners
from indunet.devices.models import (
    Action,
    DataType,
    Event,
    Form,
    ModbusForm,
    MqttForm,
    OpcUaForm,
    Point,
    ThingModel,
)
from indunet.devices.registry import DeviceRegistry
from indunet.devices.thingmodel import ModelInvalid, parse_model

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"

__all__ = [
    "DEVICE_ID",
    "MIGRATIONS",
    "PROTOCOLS",
    "Action",
    "DataType",
    "Device",
    "DeviceRegistry",
    "Event",
    "Form",
    "Gap",
    "ImportReport",
    "ModbusForm",
    "ModelInvalid",
    "ModelRegistry",
    "MqttForm",
    "OpcUaForm",
    "Point",
    "Protocol",
    "Status",
    "StatusChange",
    "ThingModel",
    "library_documents",
    "library_models",
    "online_series",
    "owners",
    "parse_model",
    "registers",
]
