"""Complaint pages: the public form and status lookup (no login), and the operators' list,
statistics and handling (``ids.complaints``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, NotFound, User, access
from indunet.ids import complaints as ids_complaints
from indunet.ids import complaintstats
from indunet.ids.complaints import ComplaintForm, ComplaintQuery
from indunet.web.auth import client_address
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import error_text, page_zone, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser, MaybeUser
from indunet.web.deps import MAX_DB_INT, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: The public form's fields, in the order the page asks for them.
FIELDS = ("subject_kind", "subject", "text", "contact", "contact_phone", "contact_email")
#: What a form field may carry before the service's own, tighter bounds are checked.
FORM_MAX = 4000
#: Months the statistics charts may span.
SPANS = (6, 12, 24, complaintstats.MAX_MONTHS)


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)


def _form(
    request: Request,
    state: AppState,
    typed: dict[str, str],
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    ctx = {
        "typed": typed,
        "error": error,
        "kinds": ids_complaints.SUBJECT_KINDS,
        "days": state.complaints.deadline_days,
        "max_text": ids_complaints.MAX_TEXT,
    }
    return render(request, "complain.html", ctx, status=status)


@router.get("/complain")
def complain_page(
    request: Request, state: StateDep, user: MaybeUser, about: str = "", subject: str = ""
) -> Response:
    """The complaint form; ``about`` and ``subject`` fill it in (a link from a record)."""
    typed = dict.fromkeys(FIELDS, "")
    typed["subject_kind"] = about if about in ids_complaints.SUBJECT_KINDS else "identifier"
    typed["subject"] = subject[: ids_complaints.MAX_SUBJECT]
    return _form(request, state, typed)


@router.post("/complain")
def complain(
    request: Request,
    state: StateDep,
    user: MaybeUser,
    subject_kind: Annotated[str, Form(max_length=40)] = "",
    subject: Annotated[str, Form(max_length=FORM_MAX)] = "",
    text: Annotated[str, Form(max_length=FORM_MAX * 4)] = "",
    contact: Annotated[str, Form(max_length=FORM_MAX)] = "",
    contact_phone: Annotated[str, Form(max_length=FORM_MAX)] = "",
    contact_email: Annotated[str, Form(max_length=FORM_MAX)] = "",
) -> Response:
    """File; the page gives the reference number, or shows the form again with the reason
    (nothing is written then)."""
    typed = dict(
        zip(
            FIELDS,
            (subject_kind, subject, text, contact, contact_phone, contact_email),
            strict=True,
        )
    )
    try:
        filed = state.complaints.file(
            state.engine, ComplaintForm(**typed), source=client_address(request)
        )
    except IndunetError as exc:
        page = _form(request, state, typed, error=error_text(request, exc), status=exc.status)
        page.headers.update(exc.headers())
        return page
    return render(request, "complain_done.html", {"filed": filed})


@router.get("/complain/status")
def status_page(request: Request, user: MaybeUser, reference: str = "") -> Response:
    """The status lookup form."""
    return render(request, "complain_status.html", {"reference": reference[:20], "found": None})


@router.post("/complain/status")
def status_lookup(
    request: Request,
    state: StateDep,
    user: MaybeUser,
    reference: Annotated[str, Form(max_length=100)] = "",
    contact: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """The state of a complaint for its reference and the phone or e-mail given."""
    ctx: dict[str, object] = {"reference": reference[:20], "found": None}
    try:
        ctx["found"] = state.complaints.lookup(
            state.engine, reference, contact, source=client_address(request)
        )
    except IndunetError as exc:
        ctx["error"] = error_text(request, exc)
        page = render(request, "complain_status.html", ctx, status=exc.status)
        page.headers.update(exc.headers())
        return page
    return render(request, "complain_status.html", ctx)


def _list(
    request: Request, state: AppState, user: User
) -> tuple[PageOf[ids_complaints.Complaint], ids_complaints.Counts]:
    paging = paging_of(
        request, sorts=ids_complaints.SORTS, default_sort="filed_at", default_desc=True
    )
    wanted = request.query_params.get("state", "")
    query = ComplaintQuery(
        like=paging.like if paging.q else None,
        state=wanted if wanted in ids_complaints.STATES else None,
        overdue=request.query_params.get("overdue") == "1",
        sort=paging.sort,
        desc=paging.desc,
    )
    now = ids_complaints.utcnow()
    with state.engine.connect() as conn:
        items, total = ids_complaints.find(
            conn, user, query, now=now, offset=paging.offset, limit=paging.limit
        )
        counts = ids_complaints.counts(conn, user, now=now)
    return PageOf(items, total, paging), counts


@router.get("/ids/complaints")
def complaints_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Operators: the counts, then the list (search, state and overdue filters, paging).
    Everyone else: where to file a complaint and look one up."""
    if not access.sees_all(user):
        return render(request, "complaints.html", {"operator": False})
    result, counts = _list(request, state, user)
    ctx = {
        "operator": True,
        "result": result,
        "counts": counts,
        "states": ids_complaints.STATES,
        "state_filter": request.query_params.get("state", ""),
        "overdue_only": request.query_params.get("overdue") == "1",
        "now": ids_complaints.utcnow(),
        "days": state.complaints.deadline_days,
        **_charts(request, state, user),
    }
    return render(request, "complaints.html", ctx)


def _charts(request: Request, state: AppState, user: User) -> dict[str, Any]:
    """The monthly statistics the page draws (months in the page's zone) and their span."""
    asked = request.query_params.get("months", "")
    months = int(asked) if asked.isdigit() and int(asked) in SPANS else 12
    zone = page_zone(request)
    with state.engine.connect() as conn:
        found = complaintstats.monthly(conn, user, months=months, zone=zone.info)
    t = translator(locale_of(request))
    return {
        "months": months,
        "spans": SPANS,
        "chart": {
            "months": [m.month for m in found],
            # lists of [key, per month], in the workflow's order (a JSON object's keys are sorted)
            "by_state": [[s, [m.by_state[s] for m in found]] for s in ids_complaints.STATES],
            "by_kind": [[k, [m.by_kind[k] for m in found]] for k in ids_complaints.SUBJECT_KINDS],
            "overdue": [m.overdue for m in found],
            "closed": [m.closed for m in found],
            "closed_late": [m.closed_late for m in found],
            "median": [m.median_handling_days for m in found],
            "deadline": state.complaints.deadline_days,
            "text": {
                "state": {s: t("complaint.state." + s) for s in ids_complaints.STATES},
                "kind": {k: t("complaint.kind." + k) for k in ids_complaints.SUBJECT_KINDS},
                "overdue": t("complaints.count.overdue"),
                "closed": t("complaints.stats.closed"),
                "closed_late": t("complaints.stats.closed_late"),
                "median": t("complaints.stats.median"),
                "days": t("complaints.stats.days_axis"),
                "filed": t("complaints.stats.filed_axis"),
                "deadline": t("complaints.stats.deadline", days=state.complaints.deadline_days),
            },
        },
    }


def _complaint_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= MAX_DB_INT:
        raise NotFound(f"no complaint {text[:40]}")
    return int(text)


def _detail(
    request: Request,
    state: AppState,
    user: User,
    complaint_id: str,
    *,
    status: int = 200,
    **extra: object,
) -> Response:
    try:
        with state.engine.connect() as conn:
            found = ids_complaints.get(conn, user, _complaint_id(complaint_id))
    except NotFound:
        return _missing(request)
    ctx: dict[str, object] = {
        "c": found,
        "now": ids_complaints.utcnow(),
        "may_handle": access.can_change(user, None),
        "done": request.query_params.get("done", ""),
        "reply": "",
    }
    ctx.update(extra)
    return render(request, "complaint.html", ctx, status=status)


@router.get("/ids/complaints/{complaint_id}")
def complaint_page(
    request: Request, state: StateDep, user: ConsoleUser, complaint_id: str
) -> Response:
    """One complaint: what was filed, its state and deadline, and the operator's steps."""
    return _detail(request, state, user, complaint_id)


@router.post("/ids/complaints/{complaint_id}")
def complaint_step(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    complaint_id: str,
    action: Annotated[str, Form(max_length=20)] = "",
    reply: Annotated[str, Form(max_length=FORM_MAX * 4)] = "",
) -> Response:
    """Take a step (start, resolve, reject); the page shows the outcome or the reason."""
    try:
        cid = _complaint_id(complaint_id)
        with state.engine.begin() as conn:
            ids_complaints.step(conn, user, cid, action, reply)
    except NotFound:
        return _missing(request)
    except IndunetError as exc:
        return _detail(
            request,
            state,
            user,
            complaint_id,
            error=error_text(request, exc),
            reply=reply,
            status=exc.status,
        )
    return RedirectResponse(f"/ids/complaints/{cid}?done={action}", status_code=303)
