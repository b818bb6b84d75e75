"""Real-name review over the API: the enterprise's documents (the business licence, read by
its content), the review dossier an operator decides on, and the decision with its reason.

A self-registered applicant cannot log in before approval, so it reaches its own door with
HTTP Basic credentials (its admin's username and password, throttled like a login):
``PUT /registrations/licence`` and ``GET /registrations/status``. Everyone else uses tokens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from indunet import core
from indunet.core import AuthenticationFailed, Role, access, documents, registration
from indunet.core.enterprises import MAX_REASON
from indunet.web.api.registrations import check_open
from indunet.web.auth import client_address
from indunet.web.deps import PathId, StateDep, UserDep, require
from indunet.web.state import AppState

router = APIRouter()


class ReviewIn(BaseModel):
    """An operator's decision on an enterprise's real-name data."""

    model_config = ConfigDict(extra="forbid", strict=True)

    decision: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=MAX_REASON, description="needed to reject")


def document_json(info: documents.DocumentInfo | None) -> dict[str, Any] | None:
    """What is known of a document, without its content."""
    if info is None:
        return None
    return {
        "media_type": info.media_type,
        "size": info.size,
        "sha256": info.sha256,
        "uploaded_by": info.uploaded_by,
        "uploaded_at": info.uploaded_at.isoformat(),
    }


def dossier(state: AppState, enterprise_id: int) -> dict[str, Any]:
    """An enterprise's real-name data, contacts, documents and review, as a reviewer reads."""
    with state.engine.connect() as conn:
        ent = core.get_enterprise_by_id(conn, enterprise_id)
        licence = documents.info(conn, enterprise_id)
    return {
        "id": ent.id,
        "uscc": ent.uscc,
        "name": ent.name,
        "region": ent.region,
        "legal_representative": ent.legal_representative,
        "contact": ent.contact,
        "contact_phone": ent.contact_phone,
        "contact_email": ent.contact_email,
        "self_registered": ent.self_registered,
        "review_state": ent.review_state,
        "review_reason": ent.review_reason,
        "reviewed_by": ent.reviewed_by,
        "reviewed_at": ent.reviewed_at.isoformat() if ent.reviewed_at else None,
        "documents": {"licence": document_json(licence)},
    }


def _applicant(request: Request, state: AppState) -> core.User:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationFailed(
            "send the applicant's username and password as HTTP Basic credentials",
            reason="wrong_password",
        )
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed(
            "the Basic credentials are not valid base64 of user:password", reason="wrong_password"
        ) from None
    username, _, password = raw.partition(":")

    def check() -> core.User:
        with state.engine.connect() as conn:
            return registration.authenticate_applicant(conn, username, password)

    return state.logins.attempt(
        state.engine, username[:64], client_address(request), "applicant", check
    )


@router.put(
    "/registrations/licence",
    tags=["enterprises"],
    responses={413: {"description": "over 5 MiB"}, 400: {"description": "not PNG, JPEG or PDF"}},
)
async def submit_licence(request: Request, state: StateDep) -> dict[str, Any]:
    """The applicant's business licence (PNG, JPEG or PDF, at most 5 MiB, judged by its
    content), as the raw request body, with the applicant admin's Basic credentials. A
    rejected application goes back to review."""
    check_open(state)
    data = await request.body()  # bounded by the route's body limit (web.guards.limits)

    def submit() -> documents.DocumentInfo:
        user = _applicant(request, state)  # a password hash: off the event loop
        with state.engine.begin() as conn:
            return registration.submit_licence(conn, user, data)

    return {"licence": document_json(await asyncio.to_thread(submit))}


@router.get("/registrations/status", tags=["enterprises"])
def application_status(request: Request, state: StateDep) -> dict[str, Any]:
    """The applicant's review: state, the reviewer's reason, the documents received."""
    check_open(state)
    user = _applicant(request, state)
    assert user.enterprise_id is not None  # authenticate_applicant refuses users of none
    return dossier(state, user.enterprise_id)


@router.get("/enterprises/{enterprise_id}/review", tags=["enterprises"])
def review_dossier(enterprise_id: PathId, state: StateDep, user: UserDep) -> dict[str, Any]:
    """An enterprise's real-name data, contacts, documents and review state."""
    access.check_see(user, enterprise_id, f"enterprise {enterprise_id}")
    return dossier(state, enterprise_id)


@router.post("/enterprises/{enterprise_id}/review", tags=["enterprises"])
def decide(enterprise_id: PathId, body: ReviewIn, state: StateDep, user: UserDep) -> dict[str, Any]:
    """Approve or reject (platform admins); a rejection needs a reason, which the applicant
    reads at login and in its status."""
    access.check_see(user, enterprise_id, f"enterprise {enterprise_id}")
    require(user, Role.PLATFORM_ADMIN)
    with state.engine.begin() as conn:
        core.enterprises.review(
            conn,
            enterprise_id,
            approve=body.decision == "approve",
            reason=body.reason,
            actor=user.actor,
        )
    return dossier(state, enterprise_id)


@router.put("/enterprises/{enterprise_id}/licence", tags=["enterprises"])
async def put_licence(
    enterprise_id: PathId, request: Request, state: StateDep, user: UserDep
) -> dict[str, Any]:
    """Replace an enterprise's business licence (platform admins, its own admins)."""
    access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")
    data = await request.body()

    def store() -> documents.DocumentInfo:
        with state.engine.begin() as conn:
            core.get_enterprise_by_id(conn, enterprise_id)
            return documents.store(conn, enterprise_id, data, actor=user.actor)

    return {"licence": document_json(await asyncio.to_thread(store))}


@router.get(
    "/enterprises/{enterprise_id}/licence",
    tags=["enterprises"],
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "application/pdf": {}}}},
)
def get_licence(enterprise_id: PathId, state: StateDep, user: UserDep) -> Response:
    """The business licence, to its reviewers (platform admins) and the enterprise's admins
    only; sent as an attachment that no browser runs as a page."""
    access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")
    return licence_response(state, enterprise_id)


def licence_response(state: AppState, enterprise_id: int) -> Response:
    """The stored licence as a download: its sniffed type, never sniffed again by the
    browser, not cached, sandboxed."""
    with state.engine.connect() as conn:
        info, data = documents.content(conn, enterprise_id)
    return Response(
        data,
        media_type=info.media_type,
        headers={
            "Content-Disposition": f'inline; filename="licence-{enterprise_id}.{info.extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
        },
    )
