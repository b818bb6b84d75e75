"""Complaints over the API: anyone files one or looks up its state; operators handle them."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from indunet.core import InvalidInput, access, registration
from indunet.ids import complaints as ids_complaints
from indunet.ids import complaintstats
from indunet.ids.complaints import Complaint, ComplaintForm, ComplaintQuery, Status
from indunet.web.auth import client_address
from indunet.web.console.zones import valid_zone
from indunet.web.deps import MAX_DB_INT, PathId, StateDep, UserDep

router = APIRouter()
_LIKE_MAX = 100


class ComplaintIn(BaseModel):
    """A complaint: what it is about, the text, and how to reach the complainant."""

    model_config = ConfigDict(extra="forbid", strict=True)

    subject_kind: Literal["identifier", "prefix", "service"] = Field(
        description="what the complaint is about"
    )
    subject: str = Field(
        default="",
        max_length=ids_complaints.MAX_SUBJECT,
        description="the identifier or prefix; may be empty for the service",
    )
    text: str = Field(max_length=ids_complaints.MAX_TEXT, description="the complaint")
    contact: str = Field(max_length=registration.MAX_PERSON, description="the contact person")
    contact_phone: str = Field(default="", max_length=registration.MAX_PHONE)
    contact_email: str = Field(default="", max_length=registration.MAX_EMAIL)


class LookupIn(BaseModel):
    """A status lookup: the reference number and the phone or e-mail given when filing."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reference: str = Field(max_length=20, description="TS-XXXX-XXXX")
    contact: str = Field(max_length=254, description="the phone or e-mail given when filing")


class StepIn(BaseModel):
    """An operator's step; ``resolve`` and ``reject`` need a reply."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reply: str = Field(default="", max_length=ids_complaints.MAX_REPLY)


def _time(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def _status_json(s: Status) -> dict[str, Any]:
    return {
        "reference": s.reference,
        "state": s.state,
        "filed_at": _time(s.filed_at),
        "due_at": _time(s.due_at),
        "closed_at": _time(s.closed_at),
        "reply": s.reply,
    }


def complaint_json(c: Complaint, now: datetime) -> dict[str, Any]:
    """A complaint as operators read it."""
    return {
        "id": c.id,
        "reference": c.reference,
        "subject_kind": c.subject_kind,
        "subject": c.subject,
        "text": c.text,
        "contact": {"name": c.contact_name, "phone": c.contact_phone, "email": c.contact_email},
        "state": c.state,
        "overdue": c.overdue(now),
        "filed_at": _time(c.filed_at),
        "due_at": _time(c.due_at),
        "updated_at": _time(c.updated_at),
        "closed_at": _time(c.closed_at),
        "handler": c.handler,
        "reply": c.reply,
    }


@router.post(
    "/complaints",
    tags=["complaints"],
    status_code=201,
    responses={
        429: {"description": "too many complaints from this address; see Retry-After"},
        503: {"description": "too many complaints are open"},
    },
)
def file_complaint(body: ComplaintIn, request: Request, state: StateDep) -> dict[str, Any]:
    """File a complaint about an identifier, a prefix or the node's service. No credentials
    needed; throttled per address. The answer's reference number and the phone or e-mail
    given are what a status lookup needs."""
    filed = state.complaints.file(
        state.engine, ComplaintForm(**body.model_dump()), source=client_address(request)
    )
    return {
        "reference": filed.reference,
        "state": filed.state,
        "filed_at": _time(filed.filed_at),
        "due_at": _time(filed.due_at),
    }


@router.post(
    "/complaints/status",
    tags=["complaints"],
    responses={
        404: {"description": "no complaint with this reference and contact"},
        429: {"description": "too many failed lookups from this address"},
    },
)
def complaint_status(body: LookupIn, request: Request, state: StateDep) -> dict[str, Any]:
    """The state of a complaint (and the reply once it is closed), for its reference number
    and the phone or e-mail given when filing. A POST, so the contact stays out of URLs."""
    found = state.complaints.lookup(
        state.engine, body.reference, body.contact, source=client_address(request)
    )
    return _status_json(found)


@router.get("/complaints", tags=["complaints"])
def list_complaints(
    response: Response,
    state: StateDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=_LIKE_MAX)] = "",
    state_filter: Annotated[
        Literal["received", "in_progress", "resolved", "rejected"] | None,
        Query(alias="state"),
    ] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[dict[str, Any]]:
    """Complaints, newest first, for platform admins and regulators; ``X-Total-Count`` says
    how many match. ``q`` searches reference, subject, text and contact."""
    access.check_see(user, None, "complaints")
    text = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = ComplaintQuery(like=f"%{text}%" if text else None, state=state_filter, overdue=overdue)
    now = ids_complaints.utcnow()
    with state.engine.connect() as conn:
        found, total = ids_complaints.find(conn, user, query, now=now, offset=offset, limit=limit)
    response.headers["X-Total-Count"] = str(total)
    return [complaint_json(c, now) for c in found]


@router.get("/complaints/stats", tags=["complaints"])
def complaint_stats(state: StateDep, user: UserDep) -> dict[str, Any]:
    """Complaints per state, open and overdue, for platform admins and regulators."""
    access.check_see(user, None, "complaints")
    with state.engine.connect() as conn:
        counts = ids_complaints.counts(conn, user)
    return {
        "by_state": counts.by_state,
        "total": counts.total,
        "open": counts.open,
        "overdue": counts.overdue,
        "deadline_days": state.complaints.deadline_days,
    }


@router.get(
    "/complaints/stats/monthly",
    tags=["complaints"],
    responses={400: {"description": "an unknown time zone"}},
)
def complaint_stats_monthly(
    state: StateDep,
    user: UserDep,
    months: Annotated[int, Query(ge=1, le=complaintstats.MAX_MONTHS)] = (
        complaintstats.DEFAULT_MONTHS
    ),
    tz: Annotated[str, Query(max_length=64)] = "UTC",
) -> dict[str, Any]:
    """Per calendar month in ``tz`` (an IANA zone), oldest first: the complaints filed (by
    state, by category, still open past their deadline) and those closed (how many late, the
    median days from filing to closing). Platform admins and regulators."""
    access.check_see(user, None, "complaints")
    zone = valid_zone(tz)
    if zone is None:
        raise InvalidInput(
            f"unknown time zone {tz!r}", reason="complaint_stats_zone", params={"zone": tz}
        )
    with state.engine.connect() as conn:
        found = complaintstats.monthly(conn, user, months=months, zone=ZoneInfo(zone))
    return {
        "zone": zone,
        "deadline_days": state.complaints.deadline_days,
        "months": [dataclasses.asdict(m) for m in found],
    }


@router.get("/complaints/{complaint_id}", tags=["complaints"])
def get_complaint(complaint_id: PathId, state: StateDep, user: UserDep) -> dict[str, Any]:
    """One complaint, for platform admins and regulators."""
    with state.engine.connect() as conn:
        found = ids_complaints.get(conn, user, complaint_id)
    return complaint_json(found, ids_complaints.utcnow())


@router.post(
    "/complaints/{complaint_id}/{action}",
    tags=["complaints"],
    responses={409: {"description": "the complaint's state does not allow this step"}},
)
def step_complaint(
    complaint_id: PathId,
    action: Literal["start", "resolve", "reject"],
    state: StateDep,
    user: UserDep,
    body: StepIn | None = None,
) -> dict[str, Any]:
    """Start handling (``start``), or close with a reply (``resolve``, ``reject``); platform
    admins only."""
    reply = body.reply if body else ""
    with state.engine.begin() as conn:
        done = ids_complaints.step(conn, user, complaint_id, action, reply)
    return complaint_json(done, ids_complaints.utcnow())
