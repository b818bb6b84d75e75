"""The device dictionary's descriptor: models and the device registry."""

from pathlib import Path

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="devices",
    summary="device models (Thing Models, the data dictionary) and the device registry",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.devices.tables",),
    api=("indunet.web.api.models:router", "indunet.web.api.devices:router"),
    console=("indunet.web.console.devices:router", "indunet.web.console.models:router"),
    cli=(("device", "indunet.cli.devices:device_app"), ("model", "indunet.cli.devices:model_app")),
    role="platform",
)
