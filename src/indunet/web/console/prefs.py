"""A person's display preferences: the time zone every page prints in (the language switch is
in ``session``), and the browser's ``/favicon.ico``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from indunet.web.console.pages import STATIC_URL, page_zone, render
from indunet.web.console.session import MaybeUser, safe_next
from indunet.web.console.zones import COMMON_ZONES, TZ_COOKIE, valid_zone

router = APIRouter(include_in_schema=False)


@router.get("/tz")
def choose_zone(
    request: Request, user: MaybeUser, next: str = "/", zone: str | None = None
) -> Response:
    """Without ``zone``: the chooser. With a known IANA ``zone``: remember it and go back;
    an unknown one shows the chooser again with the problem named (400)."""
    if zone is None:
        return render(request, "zone.html", {"next": safe_next(next), "zones": COMMON_ZONES})
    chosen = valid_zone(zone.strip())
    if chosen is None:
        ctx = {"next": safe_next(next), "zones": COMMON_ZONES, "bad": zone[:64]}
        return render(request, "zone.html", ctx, status=400)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(TZ_COOKIE, chosen, max_age=365 * 86_400, samesite="lax", path="/")
    return response


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for ``/favicon.ico`` whatever the page says; the icon is an SVG."""
    return RedirectResponse(f"{STATIC_URL}/favicon.svg", status_code=301)


__all__ = ["page_zone", "router"]
