"""The apps subsystem's descriptor: its tables so far (the registry of installed apps,
subscriptions, usage). Routes, console pages and the service come with the invocation API
(issue 14; docs/apps/README.md)."""

from pathlib import Path

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="apps",
    summary="industrial apps and mechanism models: manifests, the sandbox, the registry",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=("indunet.apps.tables",),
    role="platform",
)
