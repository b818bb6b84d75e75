"""Subsystems as plug-ins: the one descriptor a subsystem contributes, and the service shape.

A subsystem (``ids``, ``devices``, ``telemetry``, ``connect``, later ``security``, ``apps``,
``monitor``…) describes itself once, in its own package, as a ``Subsystem``. The composition
root (``indunet.web.subsystems``) lists the descriptors and iterates over them: it applies
their migrations, mounts their API and console routers, shows their console sections, builds
and starts their services, adds their metrics and their CLI groups. Nothing central grows a
field or a line per subsystem.

The web and CLI parts are named as ``"module:attribute"`` references, not imported objects,
so that a subsystem's package never imports ``indunet.web`` or ``indunet.cli`` (the layers
contract) and the CLI starts without loading every router. ``load`` resolves a reference.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

Role = Literal["always", "platform"]
"""When a subsystem runs: in every process, or not on an identifier node (``indunet node``)."""


class Service(Protocol):
    """Something a subsystem runs for the life of the process."""

    async def start(self) -> None:
        """Start; the services of the subsystems listed before this one are running."""

    async def stop(self) -> None:
        """Stop and release what ``start`` took; called in the reverse order of starts."""


@dataclass(frozen=True, slots=True)
class Page:
    """A console tab: its path and the catalogue key of its label."""

    path: str
    label: str
    #: Shown only to overseers (platform admins and regulators): an authority's page.
    overseers_only: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    """A top-level console section: path, catalogue keys of name and intro, its tabs.

    A section with no tabs is announced as "coming" (its subsystem has not landed yet).
    """

    path: str
    title: str
    intro: str
    pages: tuple[Page, ...] = ()
    #: Where the section stands in the navigation (lower first; ties keep subsystem order).
    order: int = 50

    @property
    def ready(self) -> bool:
        """Whether the section has pages of its own."""
        return bool(self.pages)


@dataclass(frozen=True, slots=True)
class Subsystem:
    """What a subsystem plugs into the composition root, each part optional.

    - ``migrations``: its Alembic version directory (applied with every other's).
    - ``tables``: modules holding its tables; no other subsystem, ``web`` or ``cli`` imports
      them (``tests/web/test_subsystems.py`` checks the import contracts list them all).
    - ``api``: FastAPI routers mounted under ``/api/v1`` (``"module:router"``).
    - ``console``: console routers (pages, HTMX fragments), mounted at the root.
    - ``sections``: console sections it contributes to the top navigation.
    - ``services``: a factory ``(AppState) -> Service | None``; the service it returns is
      started with the app and reachable as ``state.services[name]``.
    - ``metrics``: a function ``(AppState) -> list[str]`` of Prometheus exposition lines.
    - ``mount``: a function ``(app, state) -> None`` for what routers cannot express (the
      Handle API's raw routes and its cache middleware).
    - ``cli``: ``(command name, "module:typer_app")`` pairs added to ``indunet``.
    - ``role``: when the subsystem runs: ``"always"``, or ``"platform"`` (not on a process
      that runs identifier nodes only, ``indunet node``).
    """

    name: str
    summary: str
    migrations: Path | None = None
    tables: tuple[str, ...] = ()
    api: tuple[str, ...] = ()
    console: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    services: str | None = None
    metrics: str | None = None
    mount: str | None = None
    cli: tuple[tuple[str, str], ...] = ()
    role: Role = "always"


def load(ref: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"a reference looks like 'package.module:attribute', not {ref!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def loader(ref: str) -> Callable[..., Any]:
    """``load`` for a callable reference, checked."""
    obj = load(ref)
    if not callable(obj):
        raise TypeError(f"{ref} is not callable")
    fn: Callable[..., Any] = obj
    return fn
