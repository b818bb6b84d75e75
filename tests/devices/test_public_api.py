"""The devices subsystem's public API, pinned: changing it is a decision made on purpose."""

from __future__ import annotations

import inspect

from indunet import devices

DEVICES = [
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


def test_public_names_are_pinned() -> None:
    assert devices.__all__ == DEVICES


def test_every_public_name_exists_and_is_documented() -> None:
    for name in devices.__all__:
        obj = getattr(devices, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"devices.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    assert inspect.getdoc(member), f"devices.{name}.{attr} has no docstring"


def test_the_migrations_ship_with_the_package() -> None:
    assert (devices.MIGRATIONS / "d0001_devices.py").is_file()
