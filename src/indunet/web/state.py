"""What the running app holds: settings, the database, the identifier nodes and the services
of every subsystem that runs in this process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from indunet.core import EventBus, InMemoryEventBus, Logins, Settings
from indunet.core.plugins import Service
from indunet.core.registration import Applications
from indunet.core.signals import Signals
from indunet.ids import Hierarchy
from indunet.ids.complaints import Complaints
from indunet.ids.sessions import Sessions
from indunet.web.platform import Platform
from indunet.web.streams import StreamSlots

if TYPE_CHECKING:
    from indunet.bus import Backbone, Invalidation


@dataclass
class AppState:
    """Shared by every request; built once by ``build_state``.

    ``services`` holds each subsystem's running service by the subsystem's name, in start
    order (``web.subsystems``). ``platform`` is the industrial platform's, typed, or None in
    a process that runs identifier nodes only.

    ``bus`` delivers every event to each process's subscribers: in-process in the embedded
    mode, over the backbone in the scaled mode (``bus.NatsEventBus``). Subscribers of
    ``bus_once`` handle each event once per installation (the notification dispatcher): in
    one process, the lead, of the scaled mode. ``backbone`` and ``invalidation`` exist in the
    scaled mode only; ``backbone_parts`` are started with the backbone's service.
    ``signals`` gathers what hot paths notice (resolutions, refused device credentials,
    unknown devices) and publishes it on ``bus`` once a second (``core.signals``).
    """

    settings: Settings
    engine: sa.Engine
    hierarchy: Hierarchy
    bus: EventBus = field(default_factory=InMemoryEventBus)
    logins: Logins = field(default_factory=Logins)  # failed logins throttled and audited
    applications: Applications = field(default_factory=Applications)  # self-registration door
    complaints: Complaints = field(default_factory=Complaints)  # the public complaints door
    handle_sessions: Sessions = field(default_factory=Sessions)  # Handle challenge-response
    streams: StreamSlots = field(default_factory=StreamSlots)  # open event streams, by user
    signals: Signals = field(default_factory=Signals)  # hot paths' records, batched to the bus
    services: dict[str, Service] = field(default_factory=dict)
    single_bus: EventBus | None = None  # the scaled mode's bus of once-handled events
    backbone: Backbone | None = None
    invalidation: Invalidation | None = None
    backbone_parts: list[Service] = field(default_factory=list)

    @property
    def bus_once(self) -> EventBus:
        """The bus whose subscribers handle each event once per installation."""
        return self.single_bus if self.single_bus is not None else self.bus

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
