"""TAXII feeds this installation pulls from: configured by platform admins, read by overseers.

A feed names another TAXII 2.1 server's API root (``https://host/api1/``), a collection
there, the user name and password to send (the password sealed with ``core.sealed``, never
shown back), how often to pull, and remembers the server's last ``X-TAXII-Date-Added-Last``
so the next pull asks only for what was added since. Objects land in the installation's
collection. Every change is audited; the puller (``puller``) records each run's outcome.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput, NotFound, User, access, audit
from indunet.core.sealed import for_engine
from indunet.security.sharingtables import feeds

from .destinations import FeedPolicy
from .rights import own_collection

MIN_INTERVAL = 60
MAX_INTERVAL = 7 * 86_400
_COLLECTION_RE = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as shown (never its password)."""

    id: int
    name: str
    api_root: str
    remote_collection: str
    collection_id: str
    username: str
    has_secret: bool
    interval_s: int
    enabled: bool
    added_last: str | None
    next_run: float
    last_run_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    failures: int
    objects_total: int


@dataclass(frozen=True, slots=True)
class FeedForm:
    """What an admin types for a feed (``password`` empty on edit: keep the stored one)."""

    name: str
    api_root: str
    remote_collection: str
    username: str = ""
    password: str = ""
    interval_s: int = 3600
    enabled: bool = True


def _bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {why}", reason="sharing_feed_field", params={"field": field, "why": why}
    )


def _checked(form: FeedForm, policy: FeedPolicy) -> FeedForm:
    name = form.name.strip()
    if not 1 <= len(name) <= 100:
        raise _bad("name", "give 1 to 100 characters")
    api_root = form.api_root.strip()
    policy.check_url(api_root)
    if not api_root.endswith("/"):
        api_root += "/"
    if not _COLLECTION_RE.match(form.remote_collection.strip()):
        raise _bad("remote_collection", "give the collection's id (letters, digits, - . _ ~)")
    if len(form.username) > 200 or len(form.password) > 2000:
        raise _bad("username", "the user name or password is too long")
    if not MIN_INTERVAL <= form.interval_s <= MAX_INTERVAL:
        raise _bad("interval_s", f"give {MIN_INTERVAL} to {MAX_INTERVAL} seconds")
    return FeedForm(
        name,
        api_root,
        form.remote_collection.strip(),
        form.username.strip(),
        form.password,
        form.interval_s,
        form.enabled,
    )


def _feed(row: Any) -> Feed:
    def aware(v: datetime | None) -> datetime | None:
        return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v

    return Feed(
        row.id,
        row.name,
        row.api_root,
        row.remote_collection,
        row.collection_id,
        row.username,
        bool(row.secret),
        row.interval_s,
        row.enabled,
        row.added_last,
        row.next_run,
        aware(row.last_run_at),
        aware(row.last_ok_at),
        row.last_error,
        row.failures,
        row.objects_total,
    )


def list_feeds(engine: sa.Engine, user: User) -> list[Feed]:
    """Every feed (overseers only; others: 404, as the installation's things are)."""
    access.check_see(user, None, "feeds")
    with engine.connect() as conn:
        return [_feed(r) for r in conn.execute(sa.select(feeds).order_by(feeds.c.id))]


def get_feed(engine: sa.Engine, user: User, feed_id: int) -> Feed:
    """One feed (404 if there is none or ``user`` may not see feeds)."""
    access.check_see(user, None, f"feed {feed_id}")
    with engine.connect() as conn:
        row = conn.execute(sa.select(feeds).where(feeds.c.id == feed_id)).first()
    if row is None:
        raise NotFound(f"no feed {feed_id}")
    return _feed(row)


def create_feed(engine: sa.Engine, user: User, form: FeedForm, policy: FeedPolicy) -> Feed:
    """Add a feed (platform admins); its first pull is due at once."""
    access.check_change(user, None, "feeds")
    ok = _checked(form, policy)
    secret = for_engine(engine).seal(ok.password) if ok.password else None
    with engine.begin() as conn:
        col = own_collection(conn, None)
        made = conn.execute(
            feeds.insert().values(
                name=ok.name,
                api_root=ok.api_root,
                remote_collection=ok.remote_collection,
                collection_id=col.id,
                username=ok.username,
                secret=secret,
                interval_s=ok.interval_s,
                enabled=ok.enabled,
                added_last=None,
                next_run=0.0,
                failures=0,
                objects_total=0,
                created_by=user.actor,
                created_at=datetime.now(UTC),
            )
        )
        fid = made.inserted_primary_key[0] if made.inserted_primary_key else 0
        audit.record(
            conn,
            user.actor,
            "sharing.feed_created",
            f"feed {ok.name}",
            {"api_root": ok.api_root, "collection": ok.remote_collection},
            enterprise_id=None,
        )
    return get_feed(engine, user, int(fid))


def update_feed(
    engine: sa.Engine, user: User, feed_id: int, form: FeedForm, policy: FeedPolicy
) -> Feed:
    """Change a feed (platform admins); a new server or collection starts over."""
    old = get_feed(engine, user, feed_id)
    access.check_change(user, None, f"feed {feed_id}")
    ok = _checked(form, policy)
    values: dict[str, Any] = {
        "name": ok.name,
        "api_root": ok.api_root,
        "remote_collection": ok.remote_collection,
        "username": ok.username,
        "interval_s": ok.interval_s,
        "enabled": ok.enabled,
        "next_run": 0.0,
    }
    if ok.password:
        values["secret"] = for_engine(engine).seal(ok.password)
    if (ok.api_root, ok.remote_collection) != (old.api_root, old.remote_collection):
        values["added_last"] = None
    with engine.begin() as conn:
        conn.execute(feeds.update().where(feeds.c.id == feed_id).values(**values))
        audit.record(
            conn,
            user.actor,
            "sharing.feed_changed",
            f"feed {ok.name}",
            {"api_root": ok.api_root, "collection": ok.remote_collection},
            enterprise_id=None,
        )
    return get_feed(engine, user, feed_id)


def delete_feed(engine: sa.Engine, user: User, feed_id: int) -> None:
    """Remove a feed (platform admins); what it brought stays in the collection."""
    old = get_feed(engine, user, feed_id)
    access.check_change(user, None, f"feed {feed_id}")
    with engine.begin() as conn:
        conn.execute(feeds.delete().where(feeds.c.id == feed_id))
        audit.record(
            conn,
            user.actor,
            "sharing.feed_deleted",
            f"feed {old.name}",
            {"api_root": old.api_root},
            enterprise_id=None,
        )


# -- for the puller (no user: the service itself) ----------------------------------------


def due(engine: sa.Engine, now: float | None = None, limit: int = 20) -> list[Feed]:
    """Enabled feeds whose next pull is due, the longest waiting first."""
    moment = time.time() if now is None else now
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(feeds)
            .where(feeds.c.enabled.is_(True), feeds.c.next_run <= moment)
            .order_by(feeds.c.next_run)
            .limit(limit)
        )
        return [_feed(r) for r in rows]


def password_of(engine: sa.Engine, feed_id: int) -> str:
    """The feed's password, opened (empty if none)."""
    with engine.connect() as conn:
        secret = conn.execute(sa.select(feeds.c.secret).where(feeds.c.id == feed_id)).scalar()
    return for_engine(engine).open(secret) if secret else ""


def record_run(
    engine: sa.Engine,
    feed: Feed,
    *,
    error: str | None,
    added_last: str | None = None,
    objects: int = 0,
    now: float | None = None,
) -> None:
    """Note a pull: success (the new ``added_last``, objects kept) or its error; schedule the
    next (after a failure sooner than the interval at first, then backing off)."""
    moment = time.time() if now is None else now
    failures = 0 if error is None else feed.failures + 1
    wait = feed.interval_s if error is None else min(feed.interval_s, 30 * 2 ** min(failures, 8))
    values: dict[str, Any] = {
        "next_run": moment + wait,
        "last_run_at": datetime.fromtimestamp(moment, UTC),
        "failures": failures,
        "last_error": None if error is None else error[:500],
    }
    if error is None:
        values["last_ok_at"] = values["last_run_at"]
        values["objects_total"] = feeds.c.objects_total + objects
        if added_last is not None:
            values["added_last"] = added_last[:40]
    with engine.begin() as conn:
        conn.execute(feeds.update().where(feeds.c.id == feed.id).values(**values))
