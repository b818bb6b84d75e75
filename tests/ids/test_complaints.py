"""Complaints (ids.complaints): filing with bounded fields, the handling workflow with its
deadline, who sees what, the status lookup by reference and contact, and the door's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import Conflict, InvalidInput, NotFound, PermissionDenied, Role
from indunet.ids import complaints as cp
from indunet.ids.complaints import ComplaintForm, ComplaintQuery

FORM = ComplaintForm(
    subject_kind="identifier",
    subject="88.100.1/PH-1",
    text="这个标识解析到的网址打不开。",
    contact="张三",
    contact_phone="0592-1234567",
    contact_email="zhang@example.cn",
)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _user(engine: sa.Engine, name: str, role: Role, enterprise_id: int | None = None) -> core.User:
    with engine.begin() as conn:
        return core.create_user(
            conn,
            username=name,
            password="a-long-password",
            role=role,
            actor="test",
            enterprise_id=enterprise_id,
        )


def _file(engine: sa.Engine, form: ComplaintForm = FORM, at: datetime = T0) -> cp.Complaint:
    with engine.begin() as conn:
        return cp.file(conn, form, source="203.0.113.5", now=at)


def test_a_filed_complaint_is_received_due_in_fifteen_days_and_audited(engine: sa.Engine) -> None:
    filed = _file(engine)
    assert filed.state == "received"
    assert filed.due_at - filed.filed_at == timedelta(days=cp.DEADLINE_DAYS) == timedelta(days=15)
    assert len(filed.reference) == 12 and filed.reference.startswith("TS-")
    with engine.connect() as conn:
        entries, _ = core.audit.find(conn, core.audit.AuditFilter(action="complaint."))
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("complaint.file", "source:203.0.113.5", f"complaint:{filed.reference}")
    ]
    assert entries[0].enterprise_id is None  # operators' business, no tenant's


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"subject_kind": "device"}, "complaint_subject_kind"),
        ({"text": "  "}, "complaint_field_length"),
        ({"text": "x" * (cp.MAX_TEXT + 1)}, "complaint_field_length"),
        ({"subject": "x" * (cp.MAX_SUBJECT + 1)}, "complaint_field_length"),
        ({"subject": ""}, "complaint_field_length"),  # an identifier complaint names it
        ({"text": "bell\x07"}, "complaint_field_control"),
        ({"contact": ""}, "application_field_length"),
        ({"contact_phone": "", "contact_email": ""}, "contact_needed"),
        ({"contact_email": "not-an-address"}, "contact_email_invalid"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(
    engine: sa.Engine, change: dict[str, str], reason: str
) -> None:
    form = _replace(change)
    with pytest.raises(InvalidInput) as err, engine.begin() as conn:
        cp.file(conn, form, source="s")
    assert err.value.reason == reason
    with engine.connect() as conn:
        assert cp.open_count(conn) == 0


def _replace(change: dict[str, str]) -> ComplaintForm:
    fields = {
        "subject_kind": FORM.subject_kind,
        "subject": FORM.subject,
        "text": FORM.text,
        "contact": FORM.contact,
        "contact_phone": FORM.contact_phone,
        "contact_email": FORM.contact_email,
    }
    fields.update(change)
    return ComplaintForm(**fields)


def test_a_service_complaint_needs_no_subject(engine: sa.Engine) -> None:
    filed = _file(engine, _replace({"subject_kind": "service", "subject": ""}))
    assert (filed.subject_kind, filed.subject) == ("service", "")


def test_the_workflow_goes_received_in_progress_resolved_with_a_reply(engine: sa.Engine) -> None:
    admin = _user(engine, "op", Role.PLATFORM_ADMIN)
    filed = _file(engine)
    with engine.begin() as conn:
        started = cp.step(conn, admin, filed.id, "start", now=T0 + timedelta(days=1))
    assert (started.state, started.handler, started.closed_at) == ("in_progress", "op", None)
    with pytest.raises(InvalidInput) as err, engine.begin() as conn:
        cp.step(conn, admin, filed.id, "resolve", "  ")
    assert err.value.reason == "complaint_field_length"
    with engine.begin() as conn:
        done = cp.step(conn, admin, filed.id, "resolve", "已修正网址。", now=T0 + timedelta(days=2))
    assert (done.state, done.reply) == ("resolved", "已修正网址。")
    assert done.closed_at == T0 + timedelta(days=2)
    with pytest.raises(Conflict) as clash, engine.begin() as conn:
        cp.step(conn, admin, filed.id, "reject", "late")
    assert clash.value.reason == "complaint_state"
    with engine.connect() as conn:
        entries, _ = core.audit.find(conn, core.audit.AuditFilter(action="complaint."))
    assert [e.action for e in entries] == ["complaint.resolve", "complaint.start", "complaint.file"]


def test_a_received_complaint_can_be_rejected_at_once_but_not_started_twice(
    engine: sa.Engine,
) -> None:
    admin = _user(engine, "op", Role.PLATFORM_ADMIN)
    first, second = _file(engine), _file(engine)
    with engine.begin() as conn:
        assert cp.step(conn, admin, first.id, "reject", "不属于本节点").state == "rejected"
        cp.step(conn, admin, second.id, "start")
    with pytest.raises(Conflict), engine.begin() as conn:
        cp.step(conn, admin, second.id, "start")
    with pytest.raises(InvalidInput) as err, engine.begin() as conn:
        cp.step(conn, admin, second.id, "reopen")
    assert err.value.reason == "complaint_step"


def test_overseers_see_complaints_regulators_only_read_others_see_nothing(
    engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    filed = _file(engine)
    regulator = _user(engine, "reg", Role.REGULATOR)
    ent_admin = _user(engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    with engine.connect() as conn:
        assert cp.get(conn, regulator, filed.id).reference == filed.reference
        assert cp.find(conn, regulator, ComplaintQuery())[1] == 1
        with pytest.raises(NotFound):
            cp.get(conn, ent_admin, filed.id)
        assert cp.find(conn, ent_admin, ComplaintQuery()) == ([], 0)
        assert cp.counts(conn, ent_admin).total == 0
    with pytest.raises(PermissionDenied), engine.begin() as conn:
        cp.step(conn, regulator, filed.id, "start")
    with pytest.raises(NotFound), engine.begin() as conn:
        cp.step(conn, ent_admin, filed.id, "start")


def test_overdue_counts_open_complaints_past_their_deadline_only(engine: sa.Engine) -> None:
    admin = _user(engine, "op", Role.PLATFORM_ADMIN)
    old_open = _file(engine, at=T0 - timedelta(days=20))
    old_closed = _file(engine, at=T0 - timedelta(days=30))
    _file(engine, at=T0 - timedelta(days=3))
    with engine.begin() as conn:
        cp.step(conn, admin, old_closed.id, "resolve", "done")
    with engine.connect() as conn:
        counts = cp.counts(conn, admin, now=T0)
        late, total = cp.find(conn, admin, ComplaintQuery(overdue=True), now=T0)
    assert counts.by_state == {"received": 2, "in_progress": 0, "resolved": 1, "rejected": 0}
    assert (counts.total, counts.open, counts.overdue) == (3, 2, 1)
    assert [c.reference for c in late] == [old_open.reference] and total == 1
    assert late[0].overdue(T0) and not late[0].overdue(T0 - timedelta(days=10))


def test_the_list_searches_filters_sorts_and_pages_in_the_database(engine: sa.Engine) -> None:
    admin = _user(engine, "op", Role.PLATFORM_ADMIN)
    for i in range(25):
        _file(engine, _replace({"subject": f"88.100.1/item-{i:02d}"}), at=T0 + timedelta(hours=i))
    slow = _replace({"subject_kind": "service", "subject": "", "text": "解析很慢 100%"})
    _file(engine, slow, at=T0 + timedelta(days=2))
    with engine.connect() as conn:
        page, total = cp.find(conn, admin, ComplaintQuery(), offset=0, limit=10)
        assert total == 26 and len(page) == 10
        assert page[0].text == "解析很慢 100%"  # newest first
        found, n = cp.find(conn, admin, ComplaintQuery(like="%item-1%"))
        assert n == 10 and all("item-1" in c.subject for c in found)
        found, n = cp.find(conn, admin, ComplaintQuery(like="%100\\%%"))
        assert n == 1  # % is searched as itself
        oldest, _ = cp.find(conn, admin, ComplaintQuery(sort="filed_at", desc=False), limit=1)
        assert oldest[0].subject == "88.100.1/item-00"
        _, n = cp.find(conn, admin, ComplaintQuery(state="resolved"))
        assert n == 0


def test_the_status_lookup_needs_the_reference_and_the_phone_or_email(engine: sa.Engine) -> None:
    admin = _user(engine, "op", Role.PLATFORM_ADMIN)
    filed = _file(engine)
    with engine.connect() as conn:
        by_mail = cp.lookup(conn, filed.reference.lower(), " ZHANG@example.cn ")
        by_phone = cp.lookup(conn, filed.reference, "0592 1234567")
        assert by_mail.state == by_phone.state == "received"
        assert by_mail.reply == ""
        for ref, contact in [
            (filed.reference, "other@example.cn"),
            (filed.reference, "0592-7654321"),
            (filed.reference, ""),
            ("TS-2222-2222", "zhang@example.cn"),
            ("not a reference", "zhang@example.cn"),
        ]:
            with pytest.raises(NotFound) as err:
                cp.lookup(conn, ref, contact)
            assert err.value.reason == "complaint_not_found"
    with engine.begin() as conn:
        cp.step(conn, admin, filed.id, "reject", "与本节点无关")
    with engine.connect() as conn:
        closed = cp.lookup(conn, filed.reference, "zhang@example.cn")
    assert (closed.state, closed.reply) == ("rejected", "与本节点无关")


def test_the_door_throttles_each_address_and_caps_open_complaints(engine: sa.Engine) -> None:
    door = cp.Complaints()
    for _ in range(cp.PER_SOURCE):
        door.file(engine, FORM, source="198.51.100.7")
    with pytest.raises(cp.TooManyComplaints) as err:
        door.file(engine, FORM, source="198.51.100.7")
    assert err.value.status == 429 and int(err.value.headers()["Retry-After"]) > 3000
    door.file(engine, FORM, source="198.51.100.8")  # another address is not held up
    full = cp.Complaints(max_open=6)
    with pytest.raises(cp.ComplaintsFull) as capped:
        full.file(engine, FORM, source="198.51.100.9")
    assert capped.value.status == 503


def test_failed_lookups_are_throttled_per_address(engine: sa.Engine) -> None:
    door = cp.Complaints()
    filed = door.file(engine, FORM, source="a")
    for _ in range(11):
        with pytest.raises(NotFound):
            door.lookup(engine, filed.reference, "wrong@example.cn", source="b")
    with pytest.raises(cp.TooManyLookups) as err:
        door.lookup(engine, filed.reference, "zhang@example.cn", source="b")
    assert err.value.reason == "too_many_lookups"
    assert door.lookup(engine, filed.reference, "zhang@example.cn", source="c").state == "received"
