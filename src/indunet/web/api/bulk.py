"""Bulk registration over the native API: upload a CSV or JSON Lines file, follow its job.

``POST /api/v1/bulk`` checks the file as a whole (format, header, size), starts its job and
answers ``202`` at once with the job's id and a ``Location`` to poll; the rows are registered
in the background, batch by batch, and ``GET /api/v1/bulk/{id}`` says how far it got
(``done`` of ``total``, ``percent``, ``status``); ``GET /api/v1/bulk/{id}/events`` streams
the same as Server-Sent Events until the job ends (bounded in time and in streams per user,
``web.streams``). ``wait=true`` answers when the import has finished, with its report, as the
endpoint did before jobs ran in the background.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from indunet import ids
from indunet.core import NotFound, User
from indunet.ids import bulk as ids_bulk
from indunet.ids.bulkfiles import upload_name
from indunet.ids.bulkjobs import DONE, Job, announce_finished, get_job, visible_job
from indunet.web import bulkrun
from indunet.web.deps import PathId, StateDep, UserDep
from indunet.web.state import AppState
from indunet.web.streams import EventStream, comment, event

router = APIRouter(tags=["identifiers"])
#: Rows per committed batch of an API job: the unit its progress moves by.
BATCH = 2000


def _stage(state: AppState, upload: UploadFile) -> tuple[Path, str]:
    """Copy the upload under the data directory (blocking); its path and its file name."""
    name = upload_name(upload.filename)
    suffix = Path(name).suffix.lower()[:16]  # the kind is checked by ``prepare``
    folder = bulkrun.upload_dir(state)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload-{uuid.uuid4().hex}{suffix}"
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return path, name


def _prepare(
    state: AppState, user: User, upload: UploadFile
) -> tuple[ids.Principal, Job, Path, str]:
    path, name = _stage(state, upload)
    try:
        principal, job, kept = bulkrun.prepare(state, user, path, name)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return principal, job, kept, name


@router.post("/bulk", status_code=202)
async def bulk_import(
    state: StateDep,
    user: UserDep,
    file: Annotated[UploadFile, File(description="a .csv, .jsonl or .ndjson file")],
    overwrite: Annotated[bool, Form()] = False,
    wait: Annotated[bool, Form(description="answer when the import has finished")] = False,
) -> JSONResponse:
    """Start registering the identifiers of an uploaded file: 202 with the job to poll (or,
    with ``wait``, 200 with the report; bad rows are listed with line numbers)."""
    principal, job, kept, name = await run_in_threadpool(_prepare, state, user, file)
    if wait:
        report: ids.BulkReport = await run_in_threadpool(
            ids_bulk.run,
            state.hierarchy.front,
            kept,
            principal,
            job,
            overwrite=overwrite,
            source=name,
        )
        await asyncio.to_thread(kept.unlink, missing_ok=True)
        await announce_finished(state.engine, state.bus, report.job_id)
        return JSONResponse(report.to_json())
    bulkrun.start(state, principal, job, kept, name, overwrite, batch_size=BATCH)
    where = f"/api/v1/bulk/{job.id}"
    body = {
        "job_id": job.id,
        "status": "running",
        "total": job.total,
        "done": job.done,
        "job": where,
    }
    return JSONResponse(body, status_code=202, headers={"Location": where})


@router.get("/bulk/{job_id}")
def bulk_job(job_id: PathId, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Where a bulk import stands (``status``, ``done`` of ``total`` rows, ``percent``,
    counts, next line, errors): for its starter, its enterprise's users and overseers;
    another's job is not found, like any other."""
    return visible_job(state.engine, user, job_id).to_json()


async def _progress(state: AppState, job_id: int) -> AsyncIterator[bytes]:
    """``progress`` events as the job's counts change, ``done`` when it ends (then the stream
    ends), ``timeout`` after ``StreamLimits.max_s``; a comment when idle for a while."""
    limits = state.streams.limits
    started = last_sent = time.monotonic()
    last: dict[str, Any] | None = None
    while True:
        try:
            job = await asyncio.to_thread(get_job, state.engine, job_id, with_errors=False)
        except NotFound:  # removed meanwhile
            yield event("gone", {"job_id": job_id})
            return
        now, body = time.monotonic(), job.progress()
        if job.status == DONE:
            yield event("done", body, event_id=str(job.done))
            return
        if body != last:
            last, last_sent = body, now
            yield event("progress", body, event_id=str(job.done))
        elif now - last_sent >= limits.keepalive_s:
            last_sent = now
            yield comment("waiting")
        if now - started >= limits.max_s:
            yield event("timeout", body)
            return
        await asyncio.sleep(limits.poll_s)


@router.get(
    "/bulk/{job_id}/events",
    status_code=200,
    response_class=EventStream,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the job's progress events"},
        429: {"description": "this user has as many streams open as allowed; see Retry-After"},
    },
)
async def bulk_job_events(job_id: PathId, state: StateDep, user: UserDep) -> EventStream:
    """The job's progress as Server-Sent Events: ``progress`` (``done`` of ``total`` rows,
    ``percent``, counts) whenever it moves, then ``done`` with the final counts, and the
    stream ends; after ``max_s`` seconds it ends with ``timeout`` (open a new one). Each user
    may hold a few streams at once (429 ``too_many_streams`` beyond)."""
    await asyncio.to_thread(visible_job, state.engine, user, job_id, with_errors=False)
    state.streams.take(user.actor)
    limits = state.streams.limits
    return EventStream(_progress(state, job_id), state.streams, user.actor, limits.retry_ms)
