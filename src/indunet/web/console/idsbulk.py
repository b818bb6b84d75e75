"""Bulk identifier registration from an uploaded file: the job runs in the background while
its page shows a progress bar (HTMX polling), then a downloadable error report in the
reader's language; past jobs are listed with search, a status filter and paging.

The uploaded file is kept under ``<data_dir>/bulk/`` while its job runs, so a job that a
restart interrupted can be resumed from its page (``ids.bulk`` resumes at the first
uncommitted batch); it is deleted when the job is done.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from indunet.core import IndunetError, InvalidInput, NotFound, PermissionDenied, User, access
from indunet.ids import Principal, bulk
from indunet.ids.bulkfiles import SUFFIXES, upload_name
from indunet.ids.bulkjobs import (
    RUNNING,
    SORTS,
    STATUSES,
    BulkJob,
    Job,
    page_jobs,
    visible_job,
)
from indunet.web import bulkrun
from indunet.web.auth import principal_for_user
from indunet.web.console.i18n import locale_of, translator
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import MAX_DB_INT, StateDep
from indunet.web.state import AppState

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
#: The largest file the console takes (the API takes up to 64 MiB).
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
#: Rows per committed batch: small enough for the progress bar to move.
BATCH = 200
#: Error rows shown on the job's page (the report has them all).
SHOWN_ERRORS = 50
_CHUNK = 1024 * 1024
#: Jobs this process is running now, by id.
_running = bulkrun.running
upload_dir = bulkrun.upload_dir
_kept = bulkrun.kept_file
_prepare = bulkrun.prepare
#: A "running" job that no task here runs and that has not moved for this long was
#: interrupted (one started over the API runs in its request and saves every batch).
STALE_S = 120.0


def check_may_import(user: User) -> None:
    """Regulators read only; everyone else registers within their own rights."""
    if not access.can_change(user, user.enterprise_id, users_too=True):
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not register identifiers",
            reason="bulk_not_allowed",
        )


async def _save(upload: UploadFile, target: Path) -> None:
    """Copy the upload to ``target``, refusing it past ``MAX_UPLOAD_BYTES``."""
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise InvalidInput(
                    f"the file is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB",
                    reason="bulk_file_too_large",
                    params={"mib": MAX_UPLOAD_BYTES // (1024 * 1024)},
                )
            await asyncio.to_thread(out.write, chunk)
    if size == 0:
        raise InvalidInput("the file is empty", reason="bulk_file_empty")


def start(
    state: AppState, principal: Principal, job: Job, path: Path, name: str, overwrite: bool
) -> None:
    """Run ``job`` in the background with batches small enough for the bar to move."""
    bulkrun.start(state, principal, job, path, name, overwrite, batch_size=BATCH)


def job_id_of(text: str) -> int:
    """A path's job id, or ``NotFound``."""
    if not text.isdigit() or not 0 < int(text) <= MAX_DB_INT:
        raise NotFound(f"no bulk import job {text[:40]}")
    return int(text)


def _list(request: Request, state: AppState, user: User) -> PageOf[BulkJob]:
    paging = paging_of(request, sorts=SORTS, default_sort="id", default_desc=True)
    wanted = request.query_params.get("status", "")
    items, total = page_jobs(
        state.engine,
        enterprise_id=None if access.sees_all(user) else (user.enterprise_id or -1),
        like=paging.like if paging.q else None,
        status=wanted if wanted in STATUSES else None,
        sort=paging.sort,
        desc=paging.desc,
        offset=paging.offset,
        limit=paging.limit,
    )
    return PageOf(items, total, paging)


def _page(
    request: Request, state: AppState, user: User, *, status: int = 200, **extra: object
) -> Response:
    result = _list(request, state, user)
    ctx: dict[str, object] = {
        "result": result,
        "interrupted_ids": {j.id for j in result.items if is_interrupted(j)},
        "statuses": STATUSES,
        "status_filter": request.query_params.get("status", ""),
        "may_import": access.can_change(user, user.enterprise_id, users_too=True),
        "max_mib": MAX_UPLOAD_BYTES // (1024 * 1024),
        "suffixes": ", ".join(SUFFIXES),
    }
    ctx.update(extra)
    return render(request, "idsbulk.html", ctx, status=status)


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)


@router.get("/ids/bulk")
def bulk_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """The upload form and the past jobs."""
    return _page(request, state, user)


@router.post("/ids/bulk")
async def upload(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    file: Annotated[UploadFile | None, File()] = None,
    overwrite: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Take a CSV or JSON Lines file, start its job and go to the job's page."""
    tmp: Path | None = None
    try:
        check_may_import(user)
        if file is None or not file.filename:
            raise InvalidInput("choose a file to upload", reason="bulk_file_missing")
        name = upload_name(file.filename)
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise InvalidInput(
                f"the file must end in {', '.join(SUFFIXES)}, not {suffix or '(nothing)'}",
                reason="bulk_file_kind",
                params={"name": name[:100], "suffixes": ", ".join(SUFFIXES)},
            )
        await asyncio.to_thread(upload_dir(state).mkdir, parents=True, exist_ok=True)
        tmp = upload_dir(state) / f"upload-{uuid.uuid4().hex}{suffix}"
        await _save(file, tmp)
        principal, job, kept = await run_in_threadpool(_prepare, state, user, tmp, name)
        tmp = None
    except IndunetError as exc:
        if tmp is not None:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
        text, status = error_text(request, exc), exc.status
        return await run_in_threadpool(
            lambda: _page(request, state, user, status=status, error=text)
        )
    start(state, principal, job, kept, name, overwrite in ("1", "on", "true"))
    return RedirectResponse(f"/ids/bulk/{job.id}", status_code=303)


def _job_context(request: Request, state: AppState, user: User, job_id: str) -> dict[str, object]:
    job = visible_job(state.engine, user, job_id_of(job_id))
    shown = [
        (
            line,
            handle,
            _reason_text(request, message, *job.reasons[i]) if i < len(job.reasons) else message,
        )
        for i, (line, handle, message) in enumerate(job.errors[:SHOWN_ERRORS])
    ]
    interrupted = is_interrupted(job)
    return {
        "job": job,
        "shown": shown,
        "interrupted": interrupted,
        "may_resume": interrupted and job.actor == user.actor and _kept(state, job.id) is not None,
    }


def is_interrupted(job: BulkJob) -> bool:
    """Whether ``job`` says running but nothing runs it (see ``STALE_S``)."""
    if job.status != RUNNING or job.id in _running:
        return False
    moved = job.updated_at if job.updated_at.tzinfo else job.updated_at.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moved).total_seconds() >= STALE_S


def _reason_text(request: Request, message: str, reason: str, params: dict[str, object]) -> str:
    error = SimpleNamespace(message=message, reason=reason or None, params=params)
    return error_text(request, error)  # type: ignore[arg-type]


@router.get("/ids/bulk/{job_id}")
def job_page(request: Request, state: StateDep, user: ConsoleUser, job_id: str) -> Response:
    """A job: its progress (polled while it runs), counts and first errors."""
    try:
        ctx = _job_context(request, state, user, job_id)
    except NotFound:
        return _missing(request)
    return render(request, "idsbulk_job.html", ctx)


@router.get("/ids/bulk/{job_id}/progress")
def job_progress(request: Request, state: StateDep, user: ConsoleUser, job_id: str) -> Response:
    """The progress part of the job's page (what HTMX polls); the whole page otherwise."""
    try:
        ctx = _job_context(request, state, user, job_id)
    except NotFound:
        return _missing(request)
    return render(
        request, "_idsbulk_progress.html" if is_htmx(request) else "idsbulk_job.html", ctx
    )


def _resume(
    request: Request, state: AppState, user: User, job_id: str
) -> tuple[dict[str, object], tuple[Principal, Job, Path, str] | None]:
    ctx = _job_context(request, state, user, job_id)
    job = ctx["job"]
    assert isinstance(job, BulkJob)
    path = _kept(state, job.id)
    if not ctx["may_resume"] or path is None:
        ctx["error"] = translator(locale_of(request))("ops.bulk.cannot_resume")
        return ctx, None
    principal = principal_for_user(state.engine, user)
    again = bulk.begin(
        state.hierarchy.front, path, principal, source=job.source, enterprise_id=job.enterprise_id
    )
    return ctx, (principal, again, path, job.source)


@router.post("/ids/bulk/{job_id}/resume")
async def resume(request: Request, state: StateDep, user: ConsoleUser, job_id: str) -> Response:
    """Resume an interrupted job from its first uncommitted batch (its starter only)."""
    try:
        ctx, ready = await run_in_threadpool(_resume, request, state, user, job_id)
    except NotFound:
        return _missing(request)
    if ready is None:
        return render(request, "idsbulk_job.html", ctx, status=409)
    principal, job, path, name = ready
    start(state, principal, job, path, name, False)
    return RedirectResponse(f"/ids/bulk/{job.id}", status_code=303)


@router.get("/ids/bulk/{job_id}/errors.csv")
def error_report(request: Request, state: StateDep, user: ConsoleUser, job_id: str) -> Response:
    """Every failed row: line, identifier and reason in the reader's language (CSV, UTF-8 with
    a byte-order mark so spreadsheet programs read the Chinese)."""
    try:
        job = visible_job(state.engine, user, job_id_of(job_id))
    except NotFound:
        return _missing(request)
    t = translator(locale_of(request))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t("ops.bulk.col.line"), t("ops.bulk.col.handle"), t("ops.bulk.col.reason")])
    for i, (line, handle, message) in enumerate(job.errors):
        reason, params = job.reasons[i] if i < len(job.reasons) else ("", {})
        writer.writerow(
            [line, _cell(handle), _cell(_reason_text(request, message, reason, params))]
        )
    body = "\ufeff" + out.getvalue()
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="bulk-{job.id}-errors.csv"',
            "Cache-Control": "no-store",
        },
    )


def _cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
