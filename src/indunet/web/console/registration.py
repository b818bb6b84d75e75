"""The console's self-registration page: an enterprise applies, then waits for review.

Anonymous, like the login page; the service (``core.registration``) bounds every field,
throttles each address and caps the applications waiting. Off (404) with
``INDUNET_SELF_REGISTRATION=false``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from indunet import core
from indunet.core import IndunetError, User, documents, registration
from indunet.web.auth import client_address
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, render
from indunet.web.console.session import MaybeUser
from indunet.web.deps import StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: The form's fields, in the order the page asks for them (the password is never echoed).
FIELDS = (
    "name",
    "uscc",
    "region",
    "legal_representative",
    "contact",
    "contact_phone",
    "contact_email",
    "username",
)
#: What a form field may carry before the service's own, tighter bounds are checked.
FORM_MAX = 1000


def read_upload(upload: UploadFile | None) -> bytes | None:
    """The bytes of an uploaded document, at most one past ``documents.MAX_BYTES`` (so an
    oversize file is refused by the check without being held whole); ``None`` if no file
    was chosen. Its name and content type are ignored (the content is sniffed)."""
    if upload is None or not upload.filename:
        return None
    upload.file.seek(0)
    return upload.file.read(documents.MAX_BYTES + 1)


def is_open(state: AppState) -> bool:
    """Whether enterprises may apply on this installation."""
    return state.settings.self_registration


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)


def _form(
    request: Request, typed: dict[str, str], *, error: str = "", status: int = 200
) -> Response:
    return render(request, "apply.html", {"typed": typed, "error": error}, status=status)


@router.get("/register")
def register_page(request: Request, state: StateDep, user: MaybeUser) -> Response:
    """The application form."""
    if not is_open(state):
        return _missing(request)
    return _form(request, dict.fromkeys(FIELDS, ""))


@router.post("/register")
def register(
    request: Request,
    state: StateDep,
    user: MaybeUser,
    name: Annotated[str, Form(max_length=FORM_MAX)] = "",
    uscc: Annotated[str, Form(max_length=FORM_MAX)] = "",
    region: Annotated[str, Form(max_length=FORM_MAX)] = "",
    legal_representative: Annotated[str, Form(max_length=FORM_MAX)] = "",
    contact: Annotated[str, Form(max_length=FORM_MAX)] = "",
    contact_phone: Annotated[str, Form(max_length=FORM_MAX)] = "",
    contact_email: Annotated[str, Form(max_length=FORM_MAX)] = "",
    username: Annotated[str, Form(max_length=FORM_MAX)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    confirm: Annotated[str, Form(max_length=2048)] = "",
    licence: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Apply; the page says the application awaits review, or shows the form again with
    the reason (nothing is written then)."""
    if not is_open(state):
        return _missing(request)
    typed = dict(
        zip(
            FIELDS,
            (
                name,
                uscc,
                region,
                legal_representative,
                contact,
                contact_phone,
                contact_email,
                username,
            ),
            strict=True,
        )
    )
    try:
        if password != confirm:
            raise FormError(N_("apply.mismatch"))
        applied = state.applications.apply(
            state.engine,
            registration.Application(
                name=name,
                uscc=uscc,
                region=region,
                legal_representative=legal_representative,
                contact=contact,
                contact_phone=contact_phone,
                contact_email=contact_email,
                username=username,
                password=password,
                licence=read_upload(licence),
            ),
            source=client_address(request),
        )
    except FormError as exc:
        return _form(request, typed, error=error_text(request, exc), status=400)
    except IndunetError as exc:
        page = _form(request, typed, error=error_text(request, exc), status=exc.status)
        page.headers.update(exc.headers())
        return page
    return render(request, "apply_done.html", {"applied": applied})


@router.get("/register/licence")
def licence_page(request: Request, state: StateDep, user: MaybeUser) -> Response:
    """The applicant's form to send (or send again) its business licence."""
    if not is_open(state):
        return _missing(request)
    return render(request, "apply_licence.html", {"username": ""})


@router.post("/register/licence")
def send_licence(
    request: Request,
    state: StateDep,
    user: MaybeUser,
    username: Annotated[str, Form(max_length=FORM_MAX)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    licence: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Keep the licence of the applicant whose admin credentials these are; a rejected
    application goes back to review. The credentials are throttled like a login."""
    if not is_open(state):
        return _missing(request)
    data = read_upload(licence)
    try:
        if data is None:
            raise core.InvalidInput("choose the licence file to send", reason="document_empty")

        def check() -> User:
            with state.engine.connect() as conn:
                return registration.authenticate_applicant(conn, username, password)

        applicant = state.logins.attempt(
            state.engine, username[:64], client_address(request), "applicant", check
        )
        with state.engine.begin() as conn:
            kept = registration.submit_licence(conn, applicant, data)
    except IndunetError as exc:
        ctx = {"username": username, "error": error_text(request, exc)}
        page = render(request, "apply_licence.html", ctx, status=exc.status)
        page.headers.update(exc.headers())
        return page
    return render(request, "apply_licence.html", {"username": username, "kept": kept})
