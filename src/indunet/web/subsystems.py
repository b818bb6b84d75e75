"""The subsystems this build of Indunet is made of, in start order: the composition root's list.

Adding a subsystem means one line here (its descriptor, ``core.plugins.Subsystem``) and
nothing else in ``web`` or ``cli``: migrations, API and console routers, console sections,
services, metrics and CLI groups are all taken from the descriptors
(docs/contributing/adding-a-subsystem.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indunet.apps.subsystem import SUBSYSTEM as APPS
from indunet.bus.subsystem import SUBSYSTEM as BUS
from indunet.connect.subsystem import SUBSYSTEM as CONNECT
from indunet.core.plugins import Page, Section, Subsystem
from indunet.core.subsystem import SUBSYSTEM as CORE
from indunet.devices.subsystem import SUBSYSTEM as DEVICES
from indunet.federation.subsystem import SUBSYSTEM as FEDERATION
from indunet.ids.subsystem import SUBSYSTEM as IDS
from indunet.notify.subsystem import SUBSYSTEM as NOTIFY
from indunet.regulation.subsystem import SUBSYSTEM as REGULATION
from indunet.security.subsystem import SUBSYSTEM as SECURITY
from indunet.telemetry.subsystem import SUBSYSTEM as TELEMETRY

#: The industrial platform: devices, telemetry and connectors wired into one set of services
#: (``web.platform.Platform``). Wiring concrete parts together is the composition root's job,
#: so this descriptor lives here rather than in one of the three packages.
PLATFORM = Subsystem(
    name="platform",
    summary="the industrial internet platform: devices, connectors and telemetry, wired",
    sections=(
        Section(
            "/platform",
            "nav.platform",
            "platform.intro",
            (
                Page("/platform", "platform.tab.overview"),
                Page("/platform/dashboards", "platform.tab.dashboards"),
                Page("/platform/devices", "platform.tab.devices"),
                Page("/platform/explore", "platform.tab.explore"),
                Page("/platform/alarms", "platform.tab.alarms"),
                Page("/platform/rules", "platform.tab.rules"),
                Page("/platform/models", "platform.tab.models"),
                Page("/platform/ingest", "platform.tab.ingest"),
                Page("/platform/notifications", "platform.tab.notifications"),
                Page("/platform/backbone", "platform.tab.backbone"),
            ),
        ),
    ),
    console=(
        "indunet.web.console.overview:router",
        "indunet.web.console.dashboards:router",
        "indunet.web.console.wall:router",
        "indunet.web.console.backbone:router",
    ),
    services="indunet.web.platform:from_state",
    metrics="indunet.web.api.metrics:platform_lines",
    role="platform",
)

SUBSYSTEMS: tuple[Subsystem, ...] = (
    CORE,
    IDS,
    DEVICES,
    TELEMETRY,
    CONNECT,
    BUS,
    PLATFORM,
    NOTIFY,
    SECURITY,
    FEDERATION,
    REGULATION,
    APPS,
)

#: Sections of subsystems still to come, announced in the console's navigation.
COMING = (Section("/monitoring", "nav.monitoring", "coming.monitoring"),)


def active(platform: bool) -> Iterator[Subsystem]:
    """The subsystems a process runs: all of them, or those of an identifier node only."""
    for s in SUBSYSTEMS:
        if platform or s.role == "always":
            yield s


def migration_dirs() -> list[Path]:
    """Every subsystem's Alembic version directory (core's is applied by ``core.migrate``)."""
    return [s.migrations for s in SUBSYSTEMS if s.migrations is not None]


def sections() -> tuple[Section, ...]:
    """The console's top navigation: every subsystem's sections, then those still to come,
    ordered by ``Section.order`` (administration comes last), else by subsystem order."""
    found = tuple(sec for s in SUBSYSTEMS for sec in s.sections) + COMING
    return tuple(sorted(found, key=lambda sec: sec.order))
