"""The console's sections, one per subsystem, and the pages of sections still to come."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from indunet.web.console.i18n import N_
from indunet.web.console.pages import render
from indunet.web.console.session import ConsoleUser


@dataclass(frozen=True, slots=True)
class Section:
    """A top-level navigation entry: where it lives and the catalogue key of its name."""

    path: str
    title: str
    intro: str
    ready: bool


SECTIONS = (
    Section("/ids", N_("nav.ids"), N_("ids.intro"), True),
    Section("/platform", N_("nav.platform"), N_("platform.intro"), True),
    Section("/security", N_("nav.security"), N_("coming.security"), False),
    Section("/monitoring", N_("nav.monitoring"), N_("coming.monitoring"), False),
)

#: The identifier section's own pages: path and catalogue key of the tab.
IDS_PAGES = (
    ("/ids/resolve", N_("ids.tab.resolve")),
    ("/ids/register", N_("ids.tab.register")),
    ("/ids/templates", N_("ids.tab.templates")),
    ("/ids/enterprises", N_("ids.tab.enterprises")),
    ("/ids/prefixes", N_("ids.tab.prefixes")),
    ("/ids/nodes", N_("ids.tab.nodes")),
)

#: The platform section's own pages: path and catalogue key of the tab.
PLATFORM_PAGES = (
    ("/platform", N_("platform.tab.overview")),
    ("/platform/devices", N_("platform.tab.devices")),
    ("/platform/alarms", N_("platform.tab.alarms")),
    ("/platform/models", N_("platform.tab.models")),
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> Response:
    """The console opens on identifier resolution."""
    return RedirectResponse("/ids/resolve", status_code=303)


@router.get("/ids")
def ids_home() -> Response:
    """The identifier section opens on resolution."""
    return RedirectResponse("/ids/resolve", status_code=303)


def _coming(section: Section) -> None:
    def page(request: Request, user: ConsoleUser) -> Response:
        return render(request, "coming.html", {"section": section})

    page.__doc__ = f"The {section.path[1:]} section (coming)."
    router.add_api_route(section.path, page, methods=["GET"], name=f"coming{section.path}")


for _section in SECTIONS:
    if not _section.ready:
        _coming(_section)
