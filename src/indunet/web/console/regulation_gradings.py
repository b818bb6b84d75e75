"""定级核查 in the console: the review queue (state filter, submitted by default; search by
enterprise name or USCC; paged on the server) and one grading's page: the questionnaire
answers with their scoring, the comments history, the evidence files, and the review form
(confirm at the proposed level or another with a comment; return with comments) that calls
``Regulation.review_grading``. A refused review shows its reason in the reader's language and
changes nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, NotFound, User, access
from indunet.regulation.views import gradings_page
from indunet.web.console.i18n import locale_of
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.regulation_pages import (
    GRADING_STATES,
    grading_view,
    overseer,
    region_name,
    service,
)
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: Gradings have no "none" state (that is an enterprise with no grading yet).
STATES = tuple(s for s in GRADING_STATES if s != "none")
DECISIONS = ("confirm", "return")
MAX_COMMENT = 4000  # a form field's bound; the service allows 2,000 and says so


@router.get("/regulation/gradings")
def gradings_list(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The review queue: gradings in one state (``submitted`` unless asked; ``all``: every
    state), searched and paged."""
    overseer(user, "the review queue")
    paging = paging_of(request)
    asked = request.query_params.get("state", "submitted")
    chosen = asked if asked in STATES else "" if asked == "all" else "submitted"
    svc = service(state)
    with svc.engine.connect() as conn:
        rows, total = gradings_page(
            conn, state=chosen, q=paging.q, offset=paging.offset, limit=paging.limit
        )
    ctx = {
        "result": PageOf(rows, total, paging),
        "chosen": chosen or "all",
        "states": STATES,
        "region_name": region_name,
    }
    return render(request, "regulation_gradings.html", ctx)


def _page(
    request: Request,
    state: AppState,
    user: User,
    grading_id: str,
    *,
    status: int = 200,
    error: str = "",
    typed: dict[str, str] | None = None,
) -> Response:
    svc = service(state)
    g = svc.grading(user, grading_id[:32])  # another tenant's: 404 first
    overseer(user, "a grading's review page")
    locale = locale_of(request)
    found = svc.enterprise(user, g["uscc"])
    ent = found["enterprise"]
    ctx = {
        "g": g,
        "gv": grading_view(state, g, ent["etype"], locale),
        "ent": ent,
        "may_review": g["state"] == "submitted" and access.sees_all(user),
        "region_name": region_name,
        "error": error,
        "typed": typed or {"decision": "confirm", "level": str(g["proposed"]), "comment": ""},
        "done": request.query_params.get("done", ""),
    }
    return render(request, "regulation_grading.html", ctx, status=status)


@router.get("/regulation/gradings/{grading_id}")
def grading_page(request: Request, state: StateDep, user: ConsoleUser, grading_id: str) -> Response:
    """One grading with its answers, scoring, comments, evidence and the review form."""
    return _page(request, state, user, grading_id)


@router.post("/regulation/gradings/{grading_id}/review")
def review(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    grading_id: str,
    decision: Annotated[str, Form(max_length=20)] = "",
    level: Annotated[str, Form(max_length=4)] = "",
    comment: Annotated[str, Form(max_length=MAX_COMMENT)] = "",
) -> Response:
    """Confirm (at the level chosen) or return the grading; the page again with the reason
    when the service refuses (nothing changed)."""
    typed = {"decision": decision, "level": level, "comment": comment}
    chosen = int(level) if level.isdigit() else None
    try:
        service(state).review_grading(user, grading_id[:32], decision, comment, chosen)
    except NotFound:
        raise
    except IndunetError as exc:
        if not access.sees_all(user):
            raise
        return _page(
            request,
            state,
            user,
            grading_id,
            status=exc.status,
            error=error_text(request, exc),
            typed=typed,
        )
    return RedirectResponse(
        f"/regulation/gradings/{grading_id[:32]}?done={decision}", status_code=303
    )
