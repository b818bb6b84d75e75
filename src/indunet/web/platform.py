"""The platform's running parts, wired together: registries, store, pipeline, connectors.

Built once per process by ``build_platform`` and held by ``AppState.platform``. Routes reach
the services through ``deps.PlatformDep``. Fields are filled in by each subsystem's wiring
below; ``start``/``stop`` run in the app's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from indunet import ids
from indunet.core import EventBus, Settings


@dataclass
class Platform:
    """Services of the industrial platform for one process."""

    settings: Settings
    engine: sa.Engine
    bus: EventBus
    models: Any = None  # devices.ModelRegistry
    devices: Any = None  # devices.DeviceRegistry
    store: Any = None  # telemetry.TimeSeriesStore
    pipeline: Any = None  # telemetry.Pipeline
    rules: Any = None  # telemetry.RuleEngine
    alarms: Any = None  # telemetry.Alarms
    commands: Any = None  # telemetry.Commands
    connectors: Any = None  # connect.ConnectorManager
    tasks: list[Any] = field(default_factory=list)

    async def start(self) -> None:
        """Start the pipeline and the connectors."""

    async def stop(self) -> None:
        """Stop connectors first, then drain the pipeline, then close the store."""


def build_platform(
    settings: Settings, engine: sa.Engine, bus: EventBus, hierarchy: ids.Hierarchy
) -> Platform:
    """Construct every platform service; nothing runs until ``Platform.start``."""
    platform = Platform(settings=settings, engine=engine, bus=bus)
    # --- devices (models, registry with identifiers) ---
    # --- telemetry (store, pipeline, rules, alarms, commands) ---
    # --- connectors ---
    return platform
