"""What the running app holds: settings, the database, the identifier nodes and the services
of every subsystem that runs in this process."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from indunet.core import InMemoryEventBus, Logins, Settings
from indunet.core.plugins import Service
from indunet.ids import Hierarchy
from indunet.web.platform import Platform


@dataclass
class AppState:
    """Shared by every request; built once by ``build_state``.

    ``services`` holds each subsystem's running service by the subsystem's name, in start
    order (``web.subsystems``). ``platform`` is the industrial platform's, typed, or None in
    a process that runs identifier nodes only.
    """

    settings: Settings
    engine: sa.Engine
    hierarchy: Hierarchy
    bus: InMemoryEventBus = field(default_factory=InMemoryEventBus)
    logins: Logins = field(default_factory=Logins)  # failed logins throttled and audited
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def platform(self) -> Platform | None:
        """The platform's services, when this process runs them."""
        svc = self.services.get("platform")
        return svc if isinstance(svc, Platform) else None

    @platform.setter
    def platform(self, value: Platform | None) -> None:
        if value is None:
            self.services.pop("platform", None)
        else:
            self.services["platform"] = value
