"""Enterprise self-registration over the API: anyone may apply; a platform admin reviews."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from indunet.core import NotFound, passwords, registration
from indunet.web.auth import client_address
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter()


class ApplicationIn(BaseModel):
    """An enterprise's application: its real-name data, a contact, and its first admin."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(max_length=200, description="the enterprise's registered name")
    uscc: str = Field(max_length=40, description="unified social credit code, 18 characters")
    region: str = Field(default="", max_length=100)
    legal_representative: str = Field(
        default="", max_length=registration.MAX_PERSON, description="法定代表人, as on the licence"
    )
    contact: str = Field(max_length=registration.MAX_PERSON, description="the contact person")
    contact_phone: str = Field(default="", max_length=registration.MAX_PHONE)
    contact_email: str = Field(default="", max_length=registration.MAX_EMAIL)
    username: str = Field(max_length=64, description="the enterprise admin's username")
    password: str = Field(max_length=passwords.MAX_LENGTH, description="the admin's password")


def check_open(state: AppState) -> None:
    """404 unless self-registration is on (``INDUNET_SELF_REGISTRATION``)."""
    if not state.settings.self_registration:
        raise NotFound("self-registration is off on this installation")


@router.post(
    "/registrations",
    tags=["enterprises"],
    status_code=201,
    responses={
        409: {"description": "the USCC or the username is taken"},
        429: {"description": "too many applications from this address; see Retry-After"},
        503: {"description": "too many applications wait for review"},
    },
)
def apply(body: ApplicationIn, request: Request, state: StateDep) -> dict[str, Any]:
    """Apply for an account: the enterprise waits for review (``pending``) and its admin can
    log in once a platform admin approves it. No credentials needed; throttled per address.
    The business licence follows with ``PUT /api/v1/registrations/licence``."""
    check_open(state)
    applied = state.applications.apply(
        state.engine,
        registration.Application(**body.model_dump()),
        source=client_address(request),
    )
    ent = applied.enterprise
    return {
        "enterprise": {
            "id": ent.id,
            "uscc": ent.uscc,
            "name": ent.name,
            "review_state": ent.review_state,
        },
        "username": applied.admin.username,
        "role": applied.admin.role.value,
    }
