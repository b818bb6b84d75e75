"""The console's sections, taken from the subsystems' descriptors, and the pages of sections
still to come."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from indunet.core.plugins import Section
from indunet.web import subsystems
from indunet.web.console.pages import render
from indunet.web.console.session import ConsoleUser

#: Top navigation: every subsystem's sections (``web.subsystems``), then those to come.
SECTIONS: tuple[Section, ...] = subsystems.sections()


def pages_of(path: str) -> tuple[tuple[str, str], ...]:
    """The tabs of the section at ``path``: (path, catalogue key) pairs for the templates."""
    for section in SECTIONS:
        if section.path == path:
            return tuple((p.path, p.label) for p in section.pages)
    return ()


#: The identifier section's own pages: path and catalogue key of the tab.
IDS_PAGES = pages_of("/ids")

#: The platform section's own pages: path and catalogue key of the tab.
PLATFORM_PAGES = pages_of("/platform")

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
