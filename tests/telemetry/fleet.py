"""Stand-ins shared by the rule, alarm and command tests: a press model and a device directory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from indunet import core
from indunet.core import InMemoryEventBus, NotFound
from indunet.devices import Action, Point, ThingModel

PRESS = ThingModel(
    id="test:press",
    version="1.1.0",
    title={"en": "Hydraulic press", "zh": "液压机"},
    points={
        "bearing_temp": Point("bearing_temp", "number", unit="°C", minimum=-40, maximum=200),
        "motor_current": Point("motor_current", "number", unit="A"),
        "running": Point("running", "boolean"),
        "vibration": Point("vibration", "number", unit="mm/s"),
        "speed_setpoint": Point(
            "speed_setpoint", "integer", unit="rpm", minimum=0, maximum=3000, writable=True
        ),
        "pressure_limit": Point("pressure_limit", "number", minimum=0.5, maximum=25, writable=True),
        "enabled": Point("enabled", "boolean", writable=True),
        "recipe": Point("recipe", "string", writable=True),
    },
    actions={
        "reset": Action("reset"),
        "move_to": Action(
            "move_to",
            input={
                "type": "object",
                "properties": {"x": {"type": "number", "minimum": 0}},
                "required": ["x"],
                "additionalProperties": False,
            },
        ),
    },
)
OLD_PRESS = ThingModel(  # an older version without the vibration sensor
    id="test:press",
    version="1.0.0",
    title=PRESS.title,
    points={k: p for k, p in PRESS.points.items() if k != "vibration"},
)


@dataclass(frozen=True)
class Dev:
    """What the services need of a device."""

    id: str
    enterprise_id: int


class Fleet:
    """A device directory in memory (the shape of ``devices.DeviceRegistry``)."""

    def __init__(self) -> None:
        self.devices: dict[str, tuple[Dev, ThingModel]] = {}

    def add(self, device_id: str, enterprise_id: int, model: ThingModel = PRESS) -> None:
        self.devices[device_id] = (Dev(device_id, enterprise_id), model)

    def lookup(self, device_id: str) -> Dev | None:
        found = self.devices.get(device_id)
        return found[0] if found else None

    def model_of(self, device_id: str) -> ThingModel | None:
        found = self.devices.get(device_id)
        return found[1] if found else None

    def model(self, model_id: str, enterprise_id: int = 0) -> ThingModel:
        if model_id != PRESS.id:
            raise NotFound(f"no model {model_id!r}")
        return PRESS


class Recorder:
    """Collects events from the bus."""

    def __init__(self, bus: InMemoryEventBus, *topics: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        for topic in topics:
            bus.subscribe(topic, self.handle)

    async def handle(self, event: core.Event) -> None:
        assert event.source == "telemetry" and event.version == 1
        self.events.append((event.type, dict(event.data)))

    def topics(self) -> list[str]:
        return [t for t, _ in self.events]


def make_user(
    _engine: sa.Engine, username: str, role: core.Role, enterprise_id: int | None = None
) -> core.User:
    """A user as the services see one (the services never read the users table)."""
    return core.User(
        id=sum(map(ord, username)), username=username, role=role, enterprise_id=enterprise_id
    )


def other_enterprise(engine: sa.Engine) -> core.Enterprise:
    with engine.begin() as conn:
        return core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="北京其他公司", actor="test"
        )


def audit_actions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [e.action for e in core.audit.entries(conn, limit=1000)]
