"""What the running app holds: settings, the database, the identifier nodes and the platform."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from indunet.core import InMemoryEventBus, Logins, Settings
from indunet.ids import Hierarchy
from indunet.web.platform import Platform


@dataclass
class AppState:
    """Shared by every request; built once by ``create_app``."""

    settings: Settings
    engine: sa.Engine
    hierarchy: Hierarchy
    bus: InMemoryEventBus = field(default_factory=InMemoryEventBus)
    platform: Platform | None = None
    logins: Logins = field(default_factory=Logins)
