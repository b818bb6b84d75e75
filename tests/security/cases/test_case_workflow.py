"""The case workflow: SLA states at fixed clocks, the disposition a resolution needs, who may
change what, assignees checked, tasks and notes, and a history that holds every change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.security.cases.helpers import T0, Clock, alert

from indunet import core
from indunet.core import User
from indunet.security.cases import AlertStore, CaseFilter, add_note, add_task, set_task_done
from indunet.security.cases.model import sla_state


@pytest.mark.parametrize(
    ("severity", "hours", "state"),
    [
        ("critical", 2, "on_time"),
        ("critical", 3.5, "due_soon"),
        ("critical", 4, "overdue"),
        ("high", 17, "on_time"),
        ("high", 19, "due_soon"),
        ("high", 25, "overdue"),
        ("medium", 50, "on_time"),
        ("medium", 72, "overdue"),
        ("low", 24 * 6.9, "due_soon"),
    ],
)
def test_the_acknowledge_timer_by_severity(
    store: AlertStore, clock: Clock, users: dict[str, User], severity: str, hours: float, state: str
) -> None:
    case_id = store.cases.create(users["ea"], title="x", severity=severity)
    clock.advance(hours=hours)
    assert store.cases.get(users["eu"], case_id).sla == state


def test_the_resolve_timer_runs_once_acknowledged_and_met_or_missed_after(
    store: AlertStore, clock: Clock, users: dict[str, User]
) -> None:
    case_id = store.cases.create(users["ea"], title="x", severity="critical")
    clock.advance(hours=1)
    store.cases.set_status(users["eu"], case_id, "in_progress")
    clock.advance(hours=10)  # 11 h of 24: on time although the 4 h acknowledge mark passed
    assert store.cases.get(users["eu"], case_id).sla == "on_time"
    clock.advance(hours=8)  # 19 h: under a quarter left
    assert store.cases.get(users["eu"], case_id).sla == "due_soon"
    clock.advance(hours=6)
    assert store.cases.get(users["eu"], case_id).sla == "overdue"
    listed, total = store.cases.find(users["eu"], CaseFilter(overdue=True))
    assert total == 1 and listed[0].id == case_id
    store.cases.set_status(users["eu"], case_id, "resolved", "true_positive")
    assert store.cases.get(users["eu"], case_id).sla == "missed"
    assert store.cases.find(users["eu"], CaseFilter(overdue=True))[1] == 0
    assert sla_state("resolved", T0, T0, T0 + timedelta(hours=1), T0, T0) == "met"


def test_a_severity_change_moves_the_due_times(
    store: AlertStore, clock: Clock, users: dict[str, User]
) -> None:
    case_id = store.cases.create(users["ea"], title="x", severity="low")
    clock.advance(hours=5)
    assert store.cases.get(users["eu"], case_id).sla == "on_time"
    case = store.cases.update(users["ea"], case_id, severity="critical")
    assert case.sla == "overdue" and case.ack_due == T0 + timedelta(hours=4)


def test_resolving_needs_a_disposition(store: AlertStore, users: dict[str, User]) -> None:
    case_id = store.cases.create(users["ea"], title="x")
    with pytest.raises(core.InvalidInput) as err:
        store.cases.set_status(users["eu"], case_id, "resolved")
    assert err.value.reason == "case_disposition_required"
    with pytest.raises(core.InvalidInput):
        store.cases.set_status(users["eu"], case_id, "resolved", "maybe")
    case = store.cases.set_status(users["eu"], case_id, "resolved", "authorised_activity")
    assert (case.status, case.disposition) == ("resolved", "authorised_activity")
    assert case.resolved_at is not None and case.acknowledged_at is not None


def test_who_may_do_what(store: AlertStore, users: dict[str, User]) -> None:
    case_id = store.cases.create(users["ea"], title="x")
    with pytest.raises(core.PermissionDenied):
        store.cases.create(users["eu"], title="y")
    with pytest.raises(core.PermissionDenied):
        store.cases.update(users["eu"], case_id, severity="high")
    with pytest.raises(core.PermissionDenied):
        add_note(store.cases, users["reg"], case_id, "regulators read")
    for outsider in ("ob",):
        with pytest.raises(core.NotFound):
            store.cases.get(users[outsider], case_id)
        with pytest.raises(core.NotFound):
            add_note(store.cases, users[outsider], case_id, "no")
    assert store.cases.get(users["reg"], case_id).title == "x"
    add_note(store.cases, users["eu"], case_id, "users work on their cases")
    store.cases.set_status(users["eu"], case_id, "resolved", "test")
    with pytest.raises(core.PermissionDenied):
        store.cases.set_status(users["eu"], case_id, "closed")
    store.cases.set_status(users["ea"], case_id, "closed")
    with pytest.raises(core.PermissionDenied):
        store.cases.set_status(users["eu"], case_id, "in_progress")
    assert store.cases.set_status(users["ea"], case_id, "in_progress").resolved_at is None
    with pytest.raises(core.Conflict):
        store.cases.set_status(users["ea"], case_id, "in_progress")


def test_assignees_are_users_of_the_enterprise_or_platform_admins(
    store: AlertStore, users: dict[str, User]
) -> None:
    case_id = store.cases.create(users["ea"], title="x")
    assert store.cases.update(users["ea"], case_id, assignee="eu").assignee == "eu"
    assert store.cases.update(users["ea"], case_id, assignee="pa").assignee == "pa"
    for wrong in ("ob", "reg", "nobody"):
        with pytest.raises(core.InvalidInput) as err:
            store.cases.update(users["ea"], case_id, assignee=wrong)
        assert err.value.reason == "case_assignee"
    with pytest.raises(core.InvalidInput):
        add_task(store.cases, users["eu"], case_id, "look", assignee="ob")
    assert store.cases.find(users["eu"], CaseFilter(assignee="pa"))[1] == 1


async def test_the_history_holds_every_change(
    store: AlertStore, clock: Clock, enterprise: core.Enterprise, users: dict[str, User]
) -> None:
    await store.raise_alerts([alert(enterprise.id)])
    await store.raise_alerts([alert(enterprise.id, at=T0 + timedelta(hours=1))])
    (case,), _ = store.cases.find(users["eu"], CaseFilter())
    clock.advance(minutes=5)
    store.cases.update(
        users["ea"], case.id, assignee="eu", tlp="RED", pap="GREEN", severity="critical"
    )
    store.cases.update(users["ea"], case.id, title="Rogue writes to PLC-7", description="d")
    task = add_task(store.cases, users["eu"], case.id, "Pull the switch port log", assignee="eu2")
    set_task_done(store.cases, users["eu2"], case.id, task, True)
    add_note(store.cases, users["eu"], case.id, "The host is the vendor's laptop.")
    store.cases.set_status(users["eu"], case.id, "in_progress")
    store.cases.set_status(users["eu"], case.id, "resolved", "authorised_activity")
    store.cases.set_status(users["ea"], case.id, "closed")
    lines = store.cases.history(users["reg"], case.id)
    got = [(h.actor, h.what, h.old, h.new) for h in lines]
    assert got[0][:2] == ("system:security", "created")
    assert got[1][:2] == ("system:security", "merged")
    assert got[2:] == [
        ("user:ea", "severity", "high", "critical"),
        ("user:ea", "tlp", "AMBER", "RED"),
        ("user:ea", "pap", "AMBER", "GREEN"),
        ("user:ea", "assignee", None, "eu"),
        ("user:ea", "title", "Modbus write from a new host", "Rogue writes to PLC-7"),
        ("user:ea", "description", "", "d"),
        ("user:eu", "task", None, "Pull the switch port log"),
        ("user:eu2", "task_done", "False", "True"),
        ("user:eu", "note", None, "The host is the vendor's laptop."),
        ("user:eu", "status", "new", "in_progress"),
        ("user:eu", "disposition", None, "authorised_activity"),
        ("user:eu", "status", "in_progress", "resolved"),
        ("user:ea", "status", "resolved", "closed"),
    ]
    assert all(h.at >= T0 for h in lines)
    with store.engine.connect() as conn:
        actions = {e.action for e in core.audit.entries(conn, limit=50)}
    assert {
        "security.case.create",
        "security.case.merge",
        "security.case.update",
        "security.case.task.add",
        "security.case.task.update",
        "security.case.note.add",
        "security.case.status",
    } <= actions
