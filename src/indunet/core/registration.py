"""Enterprise self-registration: an enterprise applies with its real-name data and first admin.

``apply`` writes, in the caller's one transaction, an enterprise in review state pending
(``self_registered``, not verified) and its first user, an enterprise admin. That user is
refused at login (``users.EnterpriseNotApproved``, 403 ``enterprise_pending_review``) until
a platform admin approves the enterprise with ``enterprises.review``; after a rejection the
login names the reviewer's reason (``enterprise_rejected``).

Anyone may apply, so every input is bounded and ``Applications`` guards the door: at most
``PER_SOURCE`` applications an hour from one address (429 with ``Retry-After``), and at most
``MAX_PENDING`` applications waiting for review (503). Every refusal writes nothing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa

from indunet.core import audit, documents
from indunet.core.enterprises import (
    PENDING,
    REJECTED,
    Enterprise,
    create_enterprise,
    get_enterprise_by_id,
)
from indunet.core.errors import AuthenticationFailed, Conflict, IndunetError, InvalidInput
from indunet.core.passwords import check_password
from indunet.core.tables import enterprises, users
from indunet.core.throttle import Backoff, Throttle
from indunet.core.uscc import validate_uscc
from indunet.core.users import (
    EnterpriseNotApproved,
    Role,
    User,
    authenticate,
    check_username,
    create_user,
)

#: Applications one source address may send an hour (accepted or refused as duplicates).
PER_SOURCE = 5
#: Applications waiting for review at most; then new ones are refused until some are reviewed.
MAX_PENDING = 10_000
#: Bounds of the contact fields (the enterprise's name, USCC and region keep their own).
MAX_PERSON, MAX_PHONE, MAX_EMAIL = 100, 32, 254
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{4,30}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Application:
    """What an applicant sends: the enterprise's real-name data and its first admin."""

    name: str
    uscc: str
    contact: str  # the contact person
    username: str
    password: str
    region: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    legal_representative: str = ""  # 法定代表人, as on the business licence
    licence: bytes | None = None  # the business licence (``core.documents``), if sent with it


@dataclass(frozen=True, slots=True)
class Applied:
    """An accepted application: the enterprise (pending review) and its first admin."""

    enterprise: Enterprise
    admin: User


class TooManyApplications(IndunetError):
    """This address sent ``PER_SOURCE`` applications within the hour; retry later."""

    code = "too_many_applications"
    status = 429

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            f"too many applications from this address; try again in {self.retry_after} s",
            reason="too_many_applications",
            params={"seconds": self.retry_after},
            detail={"retry_after": self.retry_after},
        )

    def headers(self) -> dict[str, str]:
        """The ``Retry-After`` header for HTTP answers."""
        return {"Retry-After": str(self.retry_after)}


class ApplicationsFull(IndunetError):
    """``MAX_PENDING`` applications wait for review; no more are taken until some are."""

    code = "applications_full"
    status = 503

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} applications are waiting for review; try again later",
            reason="applications_full",
            params={"max": limit},
        )


def _bounded(value: str, limit: int, field_name: str, *, needed: bool = False) -> str:
    text = value.strip()
    if len(text) > limit or (needed and not text):
        raise InvalidInput(
            f"{field_name} must have {'1' if needed else '0'} to {limit} characters",
            reason="application_field_length",
            params={"field": field_name, "min": int(needed), "max": limit},
        )
    return text


def check_contact(person: str, phone: str, email: str) -> tuple[str, str, str]:
    """The contact person, phone and e-mail, trimmed; a person and a phone or an e-mail are
    needed, each well formed (a phone of digits, spaces, ``+``, ``-`` and brackets)."""
    person = _bounded(person, MAX_PERSON, "contact", needed=True)
    phone = _bounded(phone, MAX_PHONE, "contact_phone")
    email = _bounded(email, MAX_EMAIL, "contact_email")
    if not phone and not email:
        raise InvalidInput(
            "give a contact phone or e-mail the reviewer can reach", reason="contact_needed"
        )
    if phone and not _PHONE.fullmatch(phone):
        raise InvalidInput(f"{phone!r} is not a phone number", reason="contact_phone_invalid")
    if email and not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email!r} is not an e-mail address", reason="contact_email_invalid")
    return person, phone, email


def pending_count(conn: sa.Connection) -> int:
    """How many self-registered enterprises wait for review."""
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(enterprises)
            .where(enterprises.c.self_registered.is_(True))
            .where(enterprises.c.review_state == PENDING)
        ).scalar_one()
    )


def apply(
    conn: sa.Connection, form: Application, *, source: str, max_pending: int = MAX_PENDING
) -> Applied:
    """Create a pending enterprise and its first admin from ``form``, in ``conn``'s one
    transaction; audited as ``enterprise.apply`` by ``source:<address>``.

    Every rule is checked before anything is written: the fields (400), the password rules
    (400 ``weak_password``), a USCC or username taken (409 ``enterprise_exists`` or
    ``user_exists``), the cap on pending applications (503 ``applications_full``).
    """
    person, phone, email = check_contact(form.contact, form.contact_phone, form.contact_email)
    legal = _bounded(form.legal_representative, MAX_PERSON, "legal_representative")
    if form.licence is not None:
        documents.check(form.licence)
    validate_uscc(form.uscc)
    username = check_username(form.username)
    check_password(form.password, username)
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        raise Conflict(
            f"user {username!r} already exists", reason="user_exists", params={"username": username}
        )
    if pending_count(conn) >= max_pending:
        raise ApplicationsFull(max_pending)
    actor = f"source:{source[:100]}"
    try:
        ent = create_enterprise(
            conn,
            uscc=form.uscc,
            name=form.name,
            actor=actor,
            contact=person,
            legal_representative=legal,
            region=form.region,
            contact_phone=phone,
            contact_email=email,
            self_registered=True,
        )
        admin = create_user(
            conn,
            username=username,
            password=form.password,
            role=Role.ENTERPRISE_ADMIN,
            actor=actor,
            enterprise_id=ent.id,
        )
    except sa.exc.IntegrityError:  # the same USCC or username applied at the same moment
        raise Conflict(
            "another application took this USCC or username just now",
            reason="application_conflict",
        ) from None
    if form.licence is not None:
        documents.store(conn, ent.id, form.licence, actor=actor)
    audit.record(
        conn,
        actor,
        "enterprise.apply",
        f"enterprise:{ent.uscc}",
        {"name": ent.name, "username": username},
        enterprise_id=ent.id,
    )
    return Applied(ent, admin)


def source_key(source: str) -> tuple[str, str]:
    """Throttle key of an applicant's address."""
    return ("apply", source[:100])


@dataclass
class Applications:
    """The door anonymous applications come through: per-source throttle and pending cap.

    Applications are handled one at a time in a process (each costs one scrypt hash), which
    also makes the per-source count exact under parallel requests."""

    throttle: Throttle = field(
        default_factory=lambda: Throttle(
            {"apply": Backoff(free=PER_SOURCE - 1, base=_HOUR, cap=_HOUR, forget_after=_HOUR)}
        )
    )
    max_pending: int = MAX_PENDING
    _one_at_a_time: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, engine: sa.Engine, form: Application, *, source: str) -> Applied:
        """``apply`` for an address, refused with 429 while it has used its hourly share.

        Accepted applications and those refused as duplicates count against the address
        (duplicates tell whether a USCC or username is known); malformed ones do not.
        """
        key = source_key(source)
        with self._one_at_a_time:  # so parallel requests cannot pass the count together
            wait = self.throttle.retry_after(key)
            if wait > 0:
                raise TooManyApplications(wait)
            try:
                with engine.begin() as conn:
                    applied = apply(conn, form, source=source, max_pending=self.max_pending)
            except Conflict:
                self.throttle.failed(key)
                raise
            self.throttle.failed(key)
            return applied


# -- the applicant's own door: documents and the review state ---------------------------


def authenticate_applicant(conn: sa.Connection, username: str, password: str) -> User:
    """The admin of a self-registered enterprise by username and password, whether or not
    the enterprise is approved yet (a pending or rejected applicant submits its documents
    and reads the review here, though it cannot log in). Any other account is refused as a
    wrong password would be (401), so this door opens nothing else."""
    try:
        user = authenticate(conn, username, password)
    except EnterpriseNotApproved as held:
        if held.user is None:
            raise
        user = held.user
    ent = get_enterprise_by_id(conn, user.enterprise_id) if user.enterprise_id else None
    if ent is None or not ent.self_registered or user.role is not Role.ENTERPRISE_ADMIN:
        raise AuthenticationFailed("wrong username or password", reason="wrong_password")
    return user


def submit_licence(conn: sa.Connection, user: User, data: bytes) -> documents.DocumentInfo:
    """Keep ``data`` as the business licence of ``user``'s enterprise; an enterprise that was
    rejected goes back to review (``enterprise.resubmit``), with the old reason kept in the
    audit log."""
    if user.enterprise_id is None:
        raise AuthenticationFailed("wrong username or password", reason="wrong_password")
    kept = documents.store(conn, user.enterprise_id, data, actor=user.actor)
    ent = get_enterprise_by_id(conn, user.enterprise_id)
    if ent.review_state == REJECTED:
        conn.execute(
            enterprises.update()
            .where(enterprises.c.id == ent.id)
            .values(review_state=PENDING, verified=False)
        )
        audit.record(
            conn,
            user.actor,
            "enterprise.resubmit",
            f"enterprise:{ent.uscc}",
            {"rejected_for": ent.review_reason},
            enterprise_id=ent.id,
        )
    return kept
