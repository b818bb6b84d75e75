"""The web console (控制台): server-rendered pages, zh-CN by default, English one click away."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from indunet.core.plugins import load
from indunet.web import subsystems
from indunet.web.console import fleet, sections, session
from indunet.web.console.pages import STATIC_DIR, STATIC_URL, templates
from indunet.web.state import AppState

#: The console's own routers (login, navigation); subsystems bring their pages.
ROUTERS = (session.router, sections.router)


def mount(app: FastAPI, state: AppState) -> None:
    """Add the console's pages and static files to ``app``."""
    templates.env.globals.update(
        sections=sections.SECTIONS,
        ids_pages=sections.IDS_PAGES,
        platform_pages=sections.PLATFORM_PAGES,
        status_keys=fleet.STATUS_KEYS,
    )
    for router in ROUTERS:
        app.include_router(router)
    for sub in subsystems.SUBSYSTEMS:
        for ref in sub.console:
            app.include_router(load(ref))
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(session.LoginRequired, session.login_redirect)
    app.add_exception_handler(fleet.NoPlatform, fleet.no_platform_page)


__all__ = ["mount"]
