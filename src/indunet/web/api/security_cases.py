"""Alerts and cases over HTTP (``/api/v1/security/alerts``, ``/api/v1/security/cases``).

Lists are searched and paged on the server; times are ISO 8601 UTC. Every read and change is
checked by ``core.access`` in ``security.cases``: another enterprise's alert or case is 404,
exactly like a missing one; a regulator reads. Evidence is uploaded as the raw request body
(``POST …/evidence?name=…`` with its ``Content-Type``), at most 20 MiB, and downloaded as an
attachment of type ``application/octet-stream``. docs/security/cases.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from indunet.core import InvalidInput, NotFound
from indunet.security import cases as sc
from indunet.web.api.security_events import security_of
from indunet.web.deps import MAX_DB_INT, PathId, QueryId, StateDep, UserDep, current_user
from indunet.web.state import AppState

router = APIRouter(prefix="/security", tags=["security"])
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=100)]
Text = Annotated[str, Query(max_length=100)]
AlertId = Annotated[str, Query(max_length=32)]
Level = Annotated[int, Query(ge=0, le=15)]
Severity = Literal["low", "medium", "high", "critical"]
Tlp = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]
Pap = Literal["CLEAR", "GREEN", "AMBER", "RED"]
Status = Literal["new", "in_progress", "resolved", "closed"]
Disposition = Literal["true_positive", "false_positive", "authorised_activity", "test"]


def alert_store(state: AppState) -> sc.AlertStore:
    """The alert store of this process, or 404."""
    store = security_of(state).part("alerts")
    if not isinstance(store, sc.AlertStore):
        raise NotFound("this process keeps no security alerts")
    return store


def evidence_files(state: AppState) -> sc.EvidenceFiles:
    """The evidence files of this process, or 404."""
    files = alert_store(state).evidence
    if files is None:
        raise NotFound("this process keeps no evidence files")
    return files


def as_json(item: Any, **extra: Any) -> dict[str, Any]:
    """A dataclass as JSON: times in ISO 8601, tuples as lists."""
    out = asdict(item)
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, tuple):
            out[key] = list(value)
    return out | extra


# -- alerts -------------------------------------------------------------------------------


@router.get("/alerts")
def list_alerts(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    rule: Text = "",
    min_level: Level = 0,
    max_level: Level = 15,
    technique: Annotated[str, Query(max_length=16)] = "",
    ip: Annotated[str, Query(max_length=45)] = "",
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    case_id: QueryId = None,
    enterprise_id: QueryId = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Alerts the caller may see, newest first: search (rule, title, technique) and filters."""
    f = sc.AlertFilter(
        q=q,
        rule=rule,
        min_level=min_level,
        max_level=max_level,
        technique=technique,
        ip=ip,
        since=since,
        until=until,
        case_id=case_id,
        enterprise_id=enterprise_id,
    )
    store = alert_store(state)
    if case_id is not None:
        store.cases.get(user, case_id)  # another enterprise's case: 404, as a missing one
    items, total = sc.find_alerts(store.engine, user, f, offset=offset, limit=limit)
    return {"items": [as_json(a) for a in items], "total": total}


@router.get("/alerts/{alert_id}")
def get_alert(state: StateDep, user: UserDep, alert_id: str) -> dict[str, Any]:
    """One alert with its evidence events."""
    return as_json(sc.get_alert(alert_store(state).engine, user, alert_id[:32]))


@router.post("/alerts/{alert_id}/promote", status_code=201)
def promote_alert(state: StateDep, user: UserDep, alert_id: str) -> dict[str, Any]:
    """Make a case of the alert (409 if it is in one already)."""
    case_id = alert_store(state).cases.promote(user, alert_id[:32])
    return {"case_id": case_id}


# -- cases --------------------------------------------------------------------------------


class CaseIn(BaseModel):
    """A case opened by hand."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    severity: Severity = "medium"
    tlp: Tlp = "AMBER"
    pap: Pap = "AMBER"
    enterprise_id: int | None = Field(None, ge=1, le=MAX_DB_INT)


class CaseChange(BaseModel):
    """Fields an admin changes; those left out stay."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    severity: Severity | None = None
    tlp: Tlp | None = None
    pap: Pap | None = None
    assignee: str | None = Field(None, max_length=200, description="a username; '' for nobody")


class StatusIn(BaseModel):
    """A move of the case; resolving and closing need a disposition."""

    model_config = ConfigDict(extra="forbid")
    status: Status
    disposition: Disposition | None = None


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    assignee: str | None = Field(None, max_length=200)


class TaskDone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done: bool


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)


@router.get("/cases")
def list_cases(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    status: Annotated[str, Query(max_length=16, description="open, or a status")] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
    assignee: Annotated[str, Query(max_length=200)] = "",
    overdue: bool = False,
    enterprise_id: QueryId = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Cases the caller may see, newest first, with their SLA state."""
    f = sc.CaseFilter(
        status=status,
        severity=severity,
        assignee=assignee,
        overdue=overdue,
        q=q,
        enterprise_id=enterprise_id,
    )
    items, total = alert_store(state).cases.find(user, f, offset=offset, limit=limit)
    return {"items": [as_json(c) for c in items], "total": total}


@router.post("/cases", status_code=201)
def create_case(state: StateDep, user: UserDep, body: CaseIn) -> dict[str, Any]:
    """Open a case by hand (admins)."""
    cs = alert_store(state).cases
    case_id = cs.create(user, **body.model_dump())
    return as_json(cs.get(user, case_id))


@router.get("/cases/{case_id}")
def get_case(state: StateDep, user: UserDep, case_id: PathId) -> dict[str, Any]:
    """A case with its tasks, notes and evidence files."""
    store = alert_store(state)
    case = store.cases.get(user, case_id)
    files = store.evidence.list(user, case_id) if store.evidence else []
    return as_json(
        case,
        tasks=[as_json(t) for t in sc.tasks_of(store.cases, user, case_id)],
        notes=[as_json(n) for n in sc.notes_of(store.cases, user, case_id)],
        evidence=[as_json(e, stored=None) for e in files],
    )


@router.patch("/cases/{case_id}")
def change_case(
    state: StateDep, user: UserDep, case_id: PathId, body: CaseChange
) -> dict[str, Any]:
    """Change title, description, severity, TLP, PAP or assignee (admins)."""
    fields = body.model_dump(exclude_unset=True)
    return as_json(alert_store(state).cases.update(user, case_id, **fields))


@router.post("/cases/{case_id}/status")
def move_case(state: StateDep, user: UserDep, case_id: PathId, body: StatusIn) -> dict[str, Any]:
    """Acknowledge, resolve (a disposition required), close or reopen."""
    cs = alert_store(state).cases
    return as_json(cs.set_status(user, case_id, body.status, body.disposition))


@router.post("/cases/{case_id}/tasks", status_code=201)
def add_task(state: StateDep, user: UserDep, case_id: PathId, body: TaskIn) -> dict[str, Any]:
    """A task on the case."""
    return {"id": sc.add_task(alert_store(state).cases, user, case_id, body.title, body.assignee)}


@router.patch("/cases/{case_id}/tasks/{task_id}")
def tick_task(
    state: StateDep, user: UserDep, case_id: PathId, task_id: PathId, body: TaskDone
) -> dict[str, Any]:
    """Mark a task done or not."""
    return as_json(sc.set_task_done(alert_store(state).cases, user, case_id, task_id, body.done))


@router.post("/cases/{case_id}/notes", status_code=201)
def add_note(state: StateDep, user: UserDep, case_id: PathId, body: NoteIn) -> dict[str, Any]:
    """A note on the case."""
    return {"id": sc.add_note(alert_store(state).cases, user, case_id, body.text)}


@router.get("/cases/{case_id}/history")
def case_history(state: StateDep, user: UserDep, case_id: PathId) -> dict[str, Any]:
    """Every change of the case, oldest first: who, when, what, from, to."""
    return {"items": [as_json(h) for h in alert_store(state).cases.history(user, case_id)]}


@router.post(
    "/cases/{case_id}/evidence",
    status_code=201,
    responses={413: {"description": "the file is over 20 MiB"}},
)
async def upload_evidence(
    request: Request,
    state: StateDep,
    case_id: PathId,
    name: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """Attach the request body as an evidence file; its SHA-256 and size are returned."""
    files = evidence_files(state)
    user = await run_in_threadpool(current_user, request, state)
    kind = request.headers.get("content-type", "application/octet-stream")
    found = await files.upload(user, case_id, name, kind, whole_body(request))
    return as_json(found, stored=None)


async def whole_body(request: Request) -> AsyncIterator[bytes]:
    """The request's body in chunks; a body cut short (the client gone, or the body limit
    answered 413 while a guard replayed what came before) raises instead of ending, so that
    nothing half-received is kept."""
    cut = InvalidInput("the upload was cut short; send the file again", reason="evidence_cut")
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise cut from None
    if await request.is_disconnected():
        raise cut


@router.get(
    "/cases/{case_id}/evidence/{evidence_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_evidence(
    state: StateDep, user: UserDep, case_id: PathId, evidence_id: PathId
) -> StreamingResponse:
    """The evidence file, as an attachment (never shown inline)."""
    found, path = evidence_files(state).open(user, case_id, evidence_id)
    return StreamingResponse(
        _read(path),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "Content-Length": str(found.size),
            "X-Content-Type-Options": "nosniff",
            "X-Evidence-SHA256": found.sha256,
        },
    )


async def _read(path: Path) -> AsyncIterator[bytes]:
    """The file's bytes, read in worker threads 256 KiB at a time."""
    f = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, 256 * 1024):
            yield chunk
    finally:
        await asyncio.to_thread(f.close)
