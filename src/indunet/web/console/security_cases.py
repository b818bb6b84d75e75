"""Console pages of alerts and cases: ``/security/alerts`` (search, filters, paging, an
alert's evidence and techniques, promote) and ``/security/cases`` (SLA badges, the overdue
filter, a case's tasks, notes, evidence files, history and actions).

``security.cases`` decides who may see and change what (``core.access``); these routes parse
forms, call it in worker threads, and show refusals in the reader's language.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, Role, User, access
from indunet.security import cases as sc
from indunet.web.api.security_cases import alert_store, evidence_files
from indunet.web.api.security_cases import download_evidence as _download
from indunet.web.console import fleet
from indunet.web.console.pages import error_text
from indunet.web.console.pages import render as page
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.security_text import case_titles, rule_titles
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    """``pages.render`` with ``rule_title`` (an alert's title in the reader's language)."""
    state = request.app.state.indunet
    ctx = {
        **(context or {}),
        "rule_title": rule_titles(request, state),
        "case_title": case_titles(request, state),
    }
    return page(request, name, ctx, status=status)


ALERTS = "/security/alerts"
CASES = "/security/cases"
MAX_FIELD = 20_000
_CHUNK = 256 * 1024


def _store(state: AppState) -> sc.AlertStore:
    try:
        return alert_store(state)
    except IndunetError:
        raise fleet.NoPlatform() from None


def _int(text: str | None, low: int, high: int) -> int | None:
    if not text or not text.strip().isdigit() or len(text) > 6:
        return None
    return max(low, min(high, int(text)))


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    text = value if isinstance(value, str) else ""
    if len(text) > MAX_FIELD:
        raise InvalidInput(
            f"{name} is too long",
            reason="case_text_long",
            params={"field": name, "limit": str(MAX_FIELD)},
        )
    return text


# -- alerts -------------------------------------------------------------------------------


@router.get(ALERTS)
def alerts_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Alerts the user may see, newest first: search, level, technique, IP; paged."""
    store = _store(state)
    paging = paging_of(request)
    qp = request.query_params
    filters = {
        "min_level": _int(qp.get("min_level"), 0, 15) or 0,
        "technique": qp.get("technique", "")[:16].strip(),
        "ip": qp.get("ip", "")[:45].strip(),
    }
    f = sc.AlertFilter(q=paging.q, **filters)  # type: ignore[arg-type]
    error = None
    try:
        items, total = sc.find_alerts(
            store.engine, user, f, offset=paging.offset, limit=paging.limit
        )
    except IndunetError as exc:
        items, total, error = [], 0, error_text(request, exc)
    names = fleet.enterprise_names(state, user, [a.enterprise_id for a in items])
    ctx = {"result": PageOf(items, total, paging), "filters": filters, "names": names}
    return render(request, "security_alerts.html", ctx | {"error": error})


def _alert_context(state: AppState, user: User, alert_id: str) -> dict[str, Any]:
    store = _store(state)
    found = sc.get_alert(store.engine, user, alert_id[:32])
    return {
        "alert": found,
        "may_promote": found.case_id is None
        and access.can_change(user, found.enterprise_id, users_too=True),
    }


@router.get(f"{ALERTS}/{{alert_id}}")
def alert_page(request: Request, state: StateDep, user: ConsoleUser, alert_id: str) -> Response:
    """One alert: its rule, observables, techniques (linked to ATT&CK) and evidence events."""
    return render(request, "security_alert.html", _alert_context(state, user, alert_id))


@router.post(f"{ALERTS}/{{alert_id}}/promote")
async def promote(request: Request, state: StateDep, user: ConsoleUser, alert_id: str) -> Response:
    """Make a case of the alert and open it."""
    store = _store(state)
    try:
        case_id = await run_in_threadpool(store.cases.promote, user, alert_id[:32])
    except IndunetError as exc:
        ctx = await run_in_threadpool(_alert_context, state, user, alert_id)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_alert.html", ctx, status=exc.status)
    return RedirectResponse(f"{CASES}/{case_id}", status_code=303)


# -- cases --------------------------------------------------------------------------------


@router.get(CASES)
def cases_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """Cases the user may see, newest first, with SLA badges; status, severity and overdue
    filters; paged."""
    store = _store(state)
    paging = paging_of(request)
    qp = request.query_params
    status = qp.get("status", "open")
    status = status if status in ("open", "all", *sc.STATUSES) else "open"
    severity = qp.get("severity", "")
    severity = severity if severity in sc.SEVERITIES else ""
    overdue = qp.get("overdue") == "1"
    mine = qp.get("mine") == "1"
    f = sc.CaseFilter(
        status="" if status == "all" else status,
        severity=severity,
        overdue=overdue,
        assignee=user.username if mine else "",
        q=paging.q,
    )
    items, total = store.cases.find(user, f, offset=paging.offset, limit=paging.limit)
    names = fleet.enterprise_names(state, user, [c.enterprise_id for c in items])
    ctx = {
        "result": PageOf(items, total, paging),
        "filters": {"status": status, "severity": severity, "overdue": overdue, "mine": mine},
        "statuses": sc.STATUSES,
        "severities": sc.SEVERITIES,
        "names": names,
    }
    return render(request, "security_cases.html", ctx)


def _case_context(state: AppState, user: User, case_id: int) -> dict[str, Any]:
    store = _store(state)
    case = store.cases.get(user, case_id)
    alerts, _ = sc.find_alerts(store.engine, user, sc.AlertFilter(case_id=case_id), limit=50)
    return {
        "case": case,
        "tasks": sc.tasks_of(store.cases, user, case_id),
        "notes": sc.notes_of(store.cases, user, case_id),
        "evidence": store.evidence.list(user, case_id) if store.evidence else [],
        "history": store.cases.history(user, case_id),
        "alerts": alerts,
        "may_work": access.can_change(user, case.enterprise_id, users_too=True),
        "may_admin": access.can_change(user, case.enterprise_id),
        "severities": sc.SEVERITIES,
        "tlps": sc.TLPS,
        "paps": sc.PAPS,
        "dispositions": sc.DISPOSITIONS,
        "max_evidence_mib": sc.MAX_EVIDENCE // (1024 * 1024),
        "platform_admin": user.role is Role.PLATFORM_ADMIN,
    }


@router.get(f"{CASES}/{{case_id}}")
def case_page(request: Request, state: StateDep, user: ConsoleUser, case_id: PathId) -> Response:
    """One case: details, SLA, actions, tasks, notes, evidence files, alerts and history."""
    return render(request, "security_case.html", _case_context(state, user, case_id))


async def _act(request: Request, state: AppState, user: User, case_id: int, do: Any) -> Response:
    """Run ``do`` (in a worker thread); back to the case page, or the page with the refusal."""
    try:
        await run_in_threadpool(do)
    except IndunetError as exc:
        ctx = await run_in_threadpool(_case_context, state, user, case_id)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_case.html", ctx, status=exc.status)
    return RedirectResponse(f"{CASES}/{case_id}", status_code=303)


@router.post(f"{CASES}/{{case_id}}/status")
async def case_status(
    request: Request, state: StateDep, user: ConsoleUser, case_id: PathId
) -> Response:
    """Acknowledge, resolve (with a disposition), close or reopen."""
    form = await request.form()
    status, disposition = _text(form, "status"), _text(form, "disposition") or None
    cs = _store(state).cases
    return await _act(
        request, state, user, case_id, lambda: cs.set_status(user, case_id, status, disposition)
    )


@router.post(f"{CASES}/{{case_id}}")
async def case_update(
    request: Request, state: StateDep, user: ConsoleUser, case_id: PathId
) -> Response:
    """Change title, description, severity, TLP, PAP and assignee (admins)."""
    form = await request.form()
    cs = _store(state).cases
    shown = case_titles(request, state)

    def do() -> None:
        fields = {k: _text(form, k) for k in sc.store.ADMIN_FIELDS if k in form}
        # the form shows a rule-made case's title in the reader's language: sent back as
        # shown, it is no new title (the case keeps its rule's title in every language)
        if "title" in fields and fields["title"] == shown(cs.get(user, case_id)):
            del fields["title"]
        cs.update(user, case_id, **fields)

    return await _act(request, state, user, case_id, do)


@router.post(f"{CASES}/{{case_id}}/tasks")
async def case_task(
    request: Request, state: StateDep, user: ConsoleUser, case_id: PathId
) -> Response:
    """Add a task."""
    form = await request.form()
    cs = _store(state).cases

    def do() -> None:
        sc.add_task(cs, user, case_id, _text(form, "title"), _text(form, "assignee") or None)

    return await _act(request, state, user, case_id, do)


@router.post(f"{CASES}/{{case_id}}/tasks/{{task_id}}")
async def case_task_done(
    request: Request, state: StateDep, user: ConsoleUser, case_id: PathId, task_id: PathId
) -> Response:
    """Tick a task done, or not."""
    form = await request.form()
    done = _text(form, "done") == "1"
    cs = _store(state).cases
    return await _act(
        request, state, user, case_id, lambda: sc.set_task_done(cs, user, case_id, task_id, done)
    )


@router.post(f"{CASES}/{{case_id}}/notes")
async def case_note(
    request: Request, state: StateDep, user: ConsoleUser, case_id: PathId
) -> Response:
    """Add a note."""
    form = await request.form()
    cs = _store(state).cases
    return await _act(
        request, state, user, case_id, lambda: sc.add_note(cs, user, case_id, _text(form, "text"))
    )


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_CHUNK):
        yield chunk


@router.post(f"{CASES}/{{case_id}}/evidence")
async def case_evidence(
    request: Request, state: StateDep, user: ConsoleUser, case_id: PathId
) -> Response:
    """Attach an uploaded file as evidence (hashed while it is copied, at most 20 MiB)."""
    files = evidence_files(state)
    try:
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a file", reason="evidence_empty")
        kind = upload.content_type or "application/octet-stream"
        await files.upload(user, case_id, upload.filename, kind, _chunks(upload))
    except IndunetError as exc:
        ctx = await run_in_threadpool(_case_context, state, user, case_id)
        ctx["error"] = error_text(request, exc)
        return render(request, "security_case.html", ctx, status=exc.status)
    return RedirectResponse(f"{CASES}/{case_id}#evidence", status_code=303)


@router.get(f"{CASES}/{{case_id}}/evidence/{{evidence_id}}")
def case_evidence_file(
    state: StateDep, user: ConsoleUser, case_id: PathId, evidence_id: PathId
) -> Response:
    """An evidence file, as an attachment (never shown inline)."""
    return _download(state, user, case_id, evidence_id)
