"""Comments on alarms (``tel_alarm_comments``): their bounds and their storage.

A comment is 1 to ``MAX_COMMENT`` characters (after trimming) and an alarm takes at most
``MAX_COMMENTS``; who may write one is ``Alarms.comment``'s business (``core.access``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput
from indunet.telemetry.alarmstate import Alarm, Comment, aware
from indunet.telemetry.alarmtables import alarm_comments as table

MAX_COMMENT = 1000
"""Longest comment, in characters."""
MAX_COMMENTS = 200
"""Most comments one alarm takes."""


def checked(text: str) -> str:
    """``text`` trimmed, or ``InvalidInput`` when it is empty or longer than ``MAX_COMMENT``."""
    text = text.strip()
    if not 1 <= len(text) <= MAX_COMMENT:
        raise InvalidInput(
            f"a comment has 1 to {MAX_COMMENT} characters, not {len(text)}",
            reason="alarm_comment_length",
            params={"max": MAX_COMMENT, "length": len(text)},
        )
    return text


def add(conn: sa.Connection, alarm: Alarm, author: str, text: str, at: datetime) -> Comment:
    """Store a comment on ``alarm``; ``Conflict`` once it has ``MAX_COMMENTS``."""
    count = conn.execute(
        sa.select(sa.func.count()).where(table.c.alarm_id == alarm.id)
    ).scalar_one()
    if count >= MAX_COMMENTS:
        raise Conflict(
            f"alarm {alarm.id} already has {MAX_COMMENTS} comments",
            reason="alarm_comments_full",
            params={"alarm": alarm.id, "max": MAX_COMMENTS},
        )
    new_id = conn.execute(
        table.insert()
        .values(
            alarm_id=alarm.id,
            enterprise_id=alarm.enterprise_id,
            author=author,
            created_at=at,
            text=text,
        )
        .returning(table.c.id)
    ).scalar_one()
    return Comment(int(new_id), alarm.id, author, at, text)


def of_alarm(conn: sa.Connection, alarm_id: int) -> list[Comment]:
    """The comments of an alarm, oldest first."""
    rows = conn.execute(sa.select(table).where(table.c.alarm_id == alarm_id).order_by(table.c.id))
    return [
        Comment(r.id, r.alarm_id, r.author, aware(r.created_at) or r.created_at, r.text)
        for r in rows
    ]
