"""Work on a case: tasks and notes. Users of the case's enterprise may add and tick tasks and
add notes (admins and platform admins too); regulators read. Each change is in the case's
history and the audit log."""

from __future__ import annotations

import sqlalchemy as sa

from indunet.core import NotFound, User, access, audit
from indunet.security.casetables import notes, tasks

from .model import Note, Task
from .rows import changed, note_of, task_of
from .store import Cases, check_assignee, text

MAX_NOTE = 20_000
MAX_TASK = 200
MAX_ITEMS = 500
"""Tasks, and notes, one case may hold."""


def _full(conn: sa.Connection, table: sa.Table, case_id: int, what: str) -> None:
    n = conn.execute(
        sa.select(sa.func.count()).select_from(table).where(table.c.case_id == case_id)
    ).scalar_one()
    if n >= MAX_ITEMS:
        from indunet.core import Conflict

        raise Conflict(
            f"case {case_id} has {MAX_ITEMS} {what} already",
            reason="case_full",
            params={"what": what, "limit": str(MAX_ITEMS)},
        )


def tasks_of(cs: Cases, user: User, case_id: int) -> list[Task]:
    """The case's tasks, in the order they were added."""
    with cs.engine.connect() as conn:
        cs.row(conn, user, case_id)
        q = sa.select(tasks).where(tasks.c.case_id == case_id).order_by(tasks.c.id)
        return [task_of(r) for r in conn.execute(q)]


def notes_of(cs: Cases, user: User, case_id: int) -> list[Note]:
    """The case's notes, oldest first."""
    with cs.engine.connect() as conn:
        cs.row(conn, user, case_id)
        q = sa.select(notes).where(notes.c.case_id == case_id).order_by(notes.c.id)
        return [note_of(r) for r in conn.execute(q)]


def add_task(cs: Cases, user: User, case_id: int, title: str, assignee: str | None = None) -> int:
    """A new task on the case; its id."""
    title = text("title", title, MAX_TASK)
    actor = f"user:{user.username}"
    now = cs.clock()
    with cs.engine.begin() as conn:
        case = cs.row(conn, user, case_id)
        access.check_change(user, case.enterprise_id, f"case {case_id}", users_too=True)
        _full(conn, tasks, case_id, "tasks")
        who = check_assignee(conn, case.enterprise_id, assignee)
        task_id = int(
            conn.execute(
                tasks.insert()
                .values(
                    case_id=case_id,
                    title=title,
                    assignee=who,
                    done=False,
                    created_by=actor,
                    created_at=now,
                )
                .returning(tasks.c.id)
            ).scalar_one()
        )
        changed(conn, case_id, actor, "task", None, title, now, task=task_id, assignee=who)
        audit.record(
            conn,
            actor,
            "security.case.task.add",
            f"case {case_id}",
            {"task": task_id, "title": title},
            enterprise_id=case.enterprise_id,
        )
    return task_id


def set_task_done(cs: Cases, user: User, case_id: int, task_id: int, done: bool) -> Task:
    """Tick a task done (or not)."""
    actor = f"user:{user.username}"
    now = cs.clock()
    with cs.engine.begin() as conn:
        case = cs.row(conn, user, case_id)
        access.check_change(user, case.enterprise_id, f"case {case_id}", users_too=True)
        row = conn.execute(
            sa.select(tasks).where(tasks.c.id == task_id, tasks.c.case_id == case_id)
        ).first()
        if row is None:
            raise NotFound(f"no task {task_id} in case {case_id}")
        task = task_of(row)
        if task.done != done:
            conn.execute(tasks.update().where(tasks.c.id == task_id).values(done=done))
            changed(
                conn,
                case_id,
                actor,
                "task_done",
                task.done,
                done,
                now,
                task=task_id,
                title=task.title,
            )
            audit.record(
                conn,
                actor,
                "security.case.task.update",
                f"case {case_id}",
                {"task": task_id, "done": done},
                enterprise_id=case.enterprise_id,
            )
        return task_of(conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).one())


def add_note(cs: Cases, user: User, case_id: int, body: str) -> int:
    """A note on the case; its id."""
    body = text("note", body, MAX_NOTE)
    actor = f"user:{user.username}"
    now = cs.clock()
    with cs.engine.begin() as conn:
        case = cs.row(conn, user, case_id)
        access.check_change(user, case.enterprise_id, f"case {case_id}", users_too=True)
        _full(conn, notes, case_id, "notes")
        note_id = int(
            conn.execute(
                notes.insert()
                .values(case_id=case_id, text=body, author=actor, at=now)
                .returning(notes.c.id)
            ).scalar_one()
        )
        changed(conn, case_id, actor, "note", None, body, now, note=note_id)
        audit.record(
            conn,
            actor,
            "security.case.note.add",
            f"case {case_id}",
            {"note": note_id},
            enterprise_id=case.enterprise_id,
        )
    return note_id
