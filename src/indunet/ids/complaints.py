"""Complaints (投诉) about an identifier, a prefix or the node's service, and their handling.

Anyone may file one (``Complaints.file``: the console's public form and ``POST
/api/v1/complaints``) with a contact person and a phone or an e-mail; the answer is a
reference number (``TS-XXXX-XXXX``), the only thing the complainant keeps. With it and the
same phone or e-mail they may look up the state (``Complaints.lookup``), nothing more.

Operators handle complaints: ``received`` → ``in_progress`` → ``resolved`` or ``rejected``, a
reply being needed to close (a complaint may be closed straight from ``received``). Each
complaint is due ``deadline_days`` days after it was filed (``DEADLINE_DAYS`` unless the
operator set ``INDUNET_COMPLAINT_DEADLINE_DAYS``); an open one past that is *overdue*. The due
date is fixed when filing (the complainant is told it), so changing the setting moves only the
deadlines of complaints filed afterwards. Complaints belong to no enterprise, so by the one access rule (``core.access``)
platform admins and regulators see them all, only platform admins change them, and nobody
else sees any. Filing, each step and each closing are audited.

Anyone may file, so every field is bounded and the door is guarded: ``PER_SOURCE`` complaints
an hour from one address (429 with ``Retry-After``), ``MAX_OPEN`` open complaints at most
(503), and failed status lookups throttled per address like logins.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, IndunetError, InvalidInput, NotFound, User, access, audit
from indunet.core.paged import page_of_rows
from indunet.core.registration import check_contact
from indunet.core.throttle import Backoff, Throttle
from indunet.ids.complainttables import complaints

#: What a complaint is about.
SUBJECT_KINDS = ("identifier", "prefix", "service")
RECEIVED, IN_PROGRESS, RESOLVED, REJECTED = "received", "in_progress", "resolved", "rejected"
STATES = (RECEIVED, IN_PROGRESS, RESOLVED, REJECTED)
OPEN_STATES = (RECEIVED, IN_PROGRESS)
#: Days from filing to the deadline (calendar days), unless the setting says otherwise.
DEADLINE_DAYS = 15
#: Bounds of the complaint's text, its subject and the operator's reply.
MAX_TEXT, MAX_SUBJECT, MAX_REPLY = 2000, 400, 2000
#: Complaints one source address may file an hour.
PER_SOURCE = 5
#: Open complaints at most; then new ones are refused until some are closed.
MAX_OPEN = 10_000
#: Sort keys of the operators' list.
SORTS = ("filed_at", "due_at", "state", "subject_kind")
_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
_REFERENCE = re.compile(r"TS-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}")
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class ComplaintForm:
    """What a complainant sends."""

    subject_kind: str
    subject: str
    text: str
    contact: str  # the contact person
    contact_phone: str = ""
    contact_email: str = ""


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint as operators see it."""

    id: int
    reference: str
    subject_kind: str
    subject: str
    contact_name: str
    contact_phone: str
    contact_email: str
    text: str
    state: str
    filed_at: datetime
    due_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    handler: str
    reply: str

    @property
    def is_open(self) -> bool:
        """Whether it still waits for handling."""
        return self.state in OPEN_STATES

    def overdue(self, now: datetime) -> bool:
        """Whether it is open past its deadline at ``now``."""
        return self.is_open and _aware(self.due_at) < now


@dataclass(frozen=True, slots=True)
class Status:
    """What a complainant may learn: the state, the dates and, once closed, the reply."""

    reference: str
    state: str
    filed_at: datetime
    due_at: datetime
    closed_at: datetime | None
    reply: str


@dataclass(frozen=True, slots=True)
class Counts:
    """Complaints per state and how many open ones are overdue."""

    by_state: dict[str, int]
    overdue: int

    @property
    def total(self) -> int:
        """Every complaint."""
        return sum(self.by_state.values())

    @property
    def open(self) -> int:
        """Complaints not closed yet."""
        return sum(self.by_state.get(s, 0) for s in OPEN_STATES)


class TooManyComplaints(IndunetError):
    """This address filed ``PER_SOURCE`` complaints within the hour; retry later."""

    code = "too_many_complaints"
    status = 429

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            f"too many complaints from this address; try again in {self.retry_after} s",
            reason="too_many_complaints",
            params={"seconds": self.retry_after},
            detail={"retry_after": self.retry_after},
        )

    def headers(self) -> dict[str, str]:
        """The ``Retry-After`` header for HTTP answers."""
        return {"Retry-After": str(self.retry_after)}


class TooManyLookups(TooManyComplaints):
    """This address made too many failed status lookups; retry later."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        IndunetError.__init__(
            self,
            f"too many failed status lookups; try again in {self.retry_after} s",
            reason="too_many_lookups",
            params={"seconds": self.retry_after},
            detail={"retry_after": self.retry_after},
        )


class ComplaintsFull(IndunetError):
    """``MAX_OPEN`` complaints are open; no more are taken until some are closed."""

    code = "complaints_full"
    status = 503

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} complaints are open; try again later",
            reason="complaints_full",
            params={"max": limit},
        )


def utcnow() -> datetime:
    """Now, in UTC (one clock for deadlines and overdue flags)."""
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _text(value: str, limit: int, field_name: str, *, needed: bool) -> str:
    text = value.strip()
    if len(text) > limit or (needed and not text):
        raise InvalidInput(
            f"{field_name} must have {int(needed)} to {limit} characters",
            reason="complaint_field_length",
            params={"field": field_name, "min": int(needed), "max": limit},
        )
    if any(ord(ch) < 32 and ch not in "\n\t\r" for ch in text):
        raise InvalidInput(
            f"{field_name} contains control characters",
            reason="complaint_field_control",
            params={"field": field_name},
        )
    return text


def check_form(form: ComplaintForm) -> ComplaintForm:
    """The form with every field trimmed and checked, or ``InvalidInput`` naming the field."""
    if form.subject_kind not in SUBJECT_KINDS:
        raise InvalidInput(
            f"a complaint is about one of {', '.join(SUBJECT_KINDS)}, not {form.subject_kind!r}",
            reason="complaint_subject_kind",
            params={"kinds": ", ".join(SUBJECT_KINDS)},
        )
    subject = _text(form.subject, MAX_SUBJECT, "subject", needed=form.subject_kind != "service")
    text = _text(form.text, MAX_TEXT, "text", needed=True)
    person, phone, email = check_contact(form.contact, form.contact_phone, form.contact_email)
    return ComplaintForm(form.subject_kind, subject, text, person, phone, email)


def new_reference() -> str:
    """A reference number: ``TS-`` and two groups of four unambiguous characters (40 bits)."""
    chars = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"TS-{chars[:4]}-{chars[4:]}"


def _complaint(row: Any) -> Complaint:
    m = row._mapping if hasattr(row, "_mapping") else row
    return Complaint(
        id=m["id"],
        reference=m["reference"],
        subject_kind=m["subject_kind"],
        subject=m["subject"],
        contact_name=m["contact_name"],
        contact_phone=m["contact_phone"],
        contact_email=m["contact_email"],
        text=m["text"],
        state=m["state"],
        filed_at=_aware(m["filed_at"]),
        due_at=_aware(m["due_at"]),
        updated_at=_aware(m["updated_at"]),
        closed_at=_aware(m["closed_at"]) if m["closed_at"] else None,
        handler=m["handler"],
        reply=m["reply"],
    )


def open_count(conn: sa.Connection) -> int:
    """How many complaints are open."""
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(complaints)
            .where(complaints.c.state.in_(OPEN_STATES))
        ).scalar_one()
    )


def file(
    conn: sa.Connection,
    form: ComplaintForm,
    *,
    source: str,
    now: datetime | None = None,
    max_open: int = MAX_OPEN,
    deadline_days: int = DEADLINE_DAYS,
) -> Complaint:
    """Write a complaint (state ``received``, due ``deadline_days`` days on), audited as
    ``complaint.file`` by ``source:<address>``; nothing is written when a rule refuses it."""
    form = check_form(form)
    if open_count(conn) >= max_open:
        raise ComplaintsFull(max_open)
    now = now or datetime.now(UTC)
    for _ in range(5):  # 40 random bits: a clash is rare, five in a row is not going to happen
        reference = new_reference()
        taken = conn.execute(
            sa.select(complaints.c.id).where(complaints.c.reference == reference)
        ).first()
        if taken is None:
            break
    else:  # pragma: no cover - needs five clashes of 40 random bits
        raise Conflict("no free reference number; try again", reason="complaint_conflict")
    values = {
        "reference": reference,
        "subject_kind": form.subject_kind,
        "subject": form.subject,
        "contact_name": form.contact,
        "contact_phone": form.contact_phone,
        "contact_email": form.contact_email,
        "text": form.text,
        "state": RECEIVED,
        "filed_at": now,
        "due_at": now + timedelta(days=deadline_days),
        "updated_at": now,
        "closed_at": None,
        "handler": "",
        "reply": "",
    }
    key = conn.execute(complaints.insert().values(**values)).inserted_primary_key
    assert key is not None
    new_id = key[0]
    audit.record(
        conn,
        f"source:{source[:100]}",
        "complaint.file",
        f"complaint:{reference}",
        {"subject_kind": form.subject_kind, "subject": form.subject},
        enterprise_id=None,
    )
    return _complaint({"id": new_id, **values})


def _what(complaint_id: int) -> str:
    return f"complaint {complaint_id}"


def get(conn: sa.Connection, user: User, complaint_id: int) -> Complaint:
    """One complaint, for a user who may see complaints (else ``NotFound``, like a missing
    one)."""
    access.check_see(user, None, _what(complaint_id))
    row = conn.execute(sa.select(complaints).where(complaints.c.id == complaint_id)).first()
    if row is None:
        raise NotFound(f"no {_what(complaint_id)}")
    return _complaint(row)


@dataclass(frozen=True, slots=True)
class ComplaintQuery:
    """Filters of the operators' list."""

    like: str | None = None  # an SQL LIKE pattern over reference, subject, text and contact
    state: str | None = None
    overdue: bool = False
    sort: str = "filed_at"
    desc: bool = True


def find(
    conn: sa.Connection,
    user: User,
    query: ComplaintQuery,
    *,
    now: datetime | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Complaint], int]:
    """One page of complaints and how many match; nothing for users who may not see them."""
    if not access.sees_all(user):
        return [], 0
    now = now or datetime.now(UTC)
    c = complaints.c
    where: list[sa.ColumnElement[bool]] = []
    if query.state in STATES:
        where.append(c.state == query.state)
    if query.overdue:
        where.extend([c.state.in_(OPEN_STATES), c.due_at < now])
    if query.like:
        where.append(
            sa.or_(
                *(
                    col.like(query.like, escape="\\")
                    for col in (c.reference, c.subject, c.text, c.contact_name, c.contact_email)
                )
            )
        )
    sort = getattr(c, query.sort if query.sort in SORTS else "filed_at")
    order = [sort.desc() if query.desc else sort.asc(), c.id.desc()]
    rows, total = page_of_rows(
        conn,
        complaints,
        list(complaints.c),
        where,
        order,
        offset=offset,
        limit=limit,
        scan=bool(query.like),
    )
    return [_complaint(r) for r in rows], total


def counts(conn: sa.Connection, user: User, *, now: datetime | None = None) -> Counts:
    """Complaints per state and the overdue ones (zeros for users who may not see them)."""
    by_state = dict.fromkeys(STATES, 0)
    if not access.sees_all(user):
        return Counts(by_state, 0)
    now = now or datetime.now(UTC)
    c = complaints.c
    for state, n in conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state)):
        by_state[state] = int(n)
    overdue = conn.execute(
        sa.select(sa.func.count())
        .select_from(complaints)
        .where(c.state.in_(OPEN_STATES), c.due_at < now)
    ).scalar_one()
    return Counts(by_state, int(overdue))


#: The steps an operator may take from each state.
STEPS = {
    "start": ((RECEIVED,), IN_PROGRESS),
    "resolve": ((RECEIVED, IN_PROGRESS), RESOLVED),
    "reject": ((RECEIVED, IN_PROGRESS), REJECTED),
}


def step(
    conn: sa.Connection,
    user: User,
    complaint_id: int,
    action: str,
    reply: str = "",
    *,
    now: datetime | None = None,
) -> Complaint:
    """Take ``action`` (``start``, ``resolve``, ``reject``) on a complaint; closing needs a
    reply. A platform admin only; a step the state does not allow is 409
    ``complaint_state``. Audited as ``complaint.<action>``."""
    if action not in STEPS:
        raise InvalidInput(
            f"unknown step {action[:40]!r}", reason="complaint_step", params={"step": action[:40]}
        )
    access.check_change(user, None, _what(complaint_id))
    current = get(conn, user, complaint_id)
    allowed, target = STEPS[action]
    if current.state not in allowed:
        raise Conflict(
            f"complaint {current.reference} is {current.state}; it cannot be {target} now",
            reason="complaint_state",
            params={"reference": current.reference, "state": current.state, "to": target},
        )
    closing = target in (RESOLVED, REJECTED)
    text = _text(reply, MAX_REPLY, "reply", needed=closing) if closing else current.reply
    now = now or datetime.now(UTC)
    changes: dict[str, Any] = {
        "state": target,
        "updated_at": now,
        "handler": user.username,
        "reply": text,
    }
    if closing:
        changes["closed_at"] = now
    done = conn.execute(
        complaints.update()
        .where(complaints.c.id == complaint_id, complaints.c.state == current.state)
        .values(**changes)
    )
    if done.rowcount != 1:  # another operator moved it meanwhile
        raise Conflict(
            f"complaint {current.reference} changed meanwhile; reload it",
            reason="complaint_changed",
            params={"reference": current.reference},
        )
    audit.record(  # each action spelled out, so the audit-name scan of the tests sees it
        conn,
        user.actor,
        "complaint.start"
        if action == "start"
        else "complaint.resolve"
        if action == "resolve"
        else "complaint.reject",
        f"complaint:{current.reference}",
        {"from": current.state, "to": target, "overdue": current.overdue(now)},
        enterprise_id=None,
    )
    return get(conn, user, complaint_id)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def contact_matches(complaint: Complaint, contact: str) -> bool:
    """Whether ``contact`` is the complaint's e-mail (any case) or phone (digits compared)."""
    given = contact.strip()
    if not given:
        return False
    ok = False
    if complaint.contact_email:
        ok |= hmac.compare_digest(
            given.casefold().encode(), complaint.contact_email.casefold().encode()
        )
    if complaint.contact_phone and _digits(given):
        ok |= hmac.compare_digest(
            _digits(given).encode(), _digits(complaint.contact_phone).encode()
        )
    return ok


def lookup(conn: sa.Connection, reference: str, contact: str) -> Status:
    """The status of the complaint with ``reference`` whose phone or e-mail is ``contact``;
    any mismatch is ``NotFound`` (``complaint_not_found``), never telling which part."""
    ref = reference.strip().upper()[:20]
    missing = NotFound("no complaint with this reference and contact", reason="complaint_not_found")
    if not _REFERENCE.fullmatch(ref) or len(contact) > 254:
        raise missing
    row = conn.execute(sa.select(complaints).where(complaints.c.reference == ref)).first()
    if row is None:
        raise missing
    found = _complaint(row)
    if not contact_matches(found, contact):
        raise missing
    return Status(
        found.reference,
        found.state,
        found.filed_at,
        found.due_at,
        found.closed_at,
        found.reply if not found.is_open else "",
    )


def source_key(source: str) -> tuple[str, str]:
    """Throttle key of a complainant's address."""
    return ("complain", source[:100])


def lookup_key(source: str) -> tuple[str, str]:
    """Throttle key of an address's failed status lookups."""
    return ("lookup", source[:100])


@dataclass
class Complaints:
    """The door anonymous complaints and lookups come through: per-source throttles, open cap."""

    throttle: Throttle = field(
        default_factory=lambda: Throttle(
            {
                "complain": Backoff(free=PER_SOURCE - 1, base=_HOUR, cap=_HOUR, forget_after=_HOUR),
                "lookup": Backoff(free=10, base=1.0, cap=900.0, forget_after=_HOUR),
            }
        )
    )
    max_open: int = MAX_OPEN
    deadline_days: int = DEADLINE_DAYS  # the node's setting (``complaint_deadline_days``)
    _one_at_a_time: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def file(self, engine: sa.Engine, form: ComplaintForm, *, source: str) -> Complaint:
        """``file`` for an address, refused with 429 once it filed its hourly share.
        Malformed complaints do not count against the address."""
        key = source_key(source)
        with self._one_at_a_time:  # so parallel requests cannot pass the count together
            wait = self.throttle.retry_after(key)
            if wait > 0:
                raise TooManyComplaints(wait)
            with engine.begin() as conn:
                filed = file(
                    conn,
                    form,
                    source=source,
                    max_open=self.max_open,
                    deadline_days=self.deadline_days,
                )
            self.throttle.failed(key)
            return filed

    def lookup(self, engine: sa.Engine, reference: str, contact: str, *, source: str) -> Status:
        """``lookup`` for an address; after ten failed ones it waits (429, doubling)."""
        key = lookup_key(source)
        wait = self.throttle.retry_after(key)
        if wait > 0:
            raise TooManyLookups(wait)
        try:
            with engine.connect() as conn:
                return lookup(conn, reference, contact)
        except NotFound:
            self.throttle.failed(key)
            raise
