"""Devices (设备): models as WoT Thing Models (the data dictionary), the registry, credentials."""

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

__all__ = [
    "Action",
    "DataType",
    "Event",
    "Form",
    "ModbusForm",
    "MqttForm",
    "OpcUaForm",
    "Point",
    "ThingModel",
]
