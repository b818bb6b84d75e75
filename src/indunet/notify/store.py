"""Channels, subscription rules and the delivery log in the database, behind the access rule.

Channels and rules belong to an enterprise (or, made by a platform admin naming none, to the
platform: those see every enterprise's events). Another tenant's channel or rule is not found
(``core.access``). Channels and enterprise rules are changed by administrators; a personal
rule (``user_id`` set) by its owner as well, so an enterprise user can subscribe themself to
their enterprise's channels. Every change is audited. Secrets (SMTP password, signing keys,
bot URLs) are sealed at rest (``core.sealed``) and never returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import (
    Conflict,
    InvalidInput,
    NotFound,
    User,
    access,
    audit,
    get_enterprise_by_id,
    sealed,
)
from indunet.notify.channels import KINDS, Channel, SendContext
from indunet.notify.rules import Rule, rule_fields
from indunet.notify.tables import channels, deliveries, rules

MAX_CHANNEL_NAME = 100
#: Delivery states in the log.
STATUSES = ("pending", "retrying", "sent", "failed", "quiet")
#: Rows the delivery log keeps; older ones are pruned by the dispatcher (about hourly).
MAX_LOG_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A channel as it may be shown: no secrets."""

    id: int
    enterprise_id: int | None
    name: str
    kind: str
    config: dict[str, Any]
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the delivery log: a message (a digest of ``events``) to one channel."""

    id: int
    enterprise_id: int | None
    rule_id: int
    channel_id: int
    channel_name: str
    kind: str
    device_id: str | None
    subject: str
    events: int
    attempts: int
    status: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    reason: str | None = None  # why it failed, stably (``error.<reason>``); None before n0002
    params: dict[str, str] | None = None


def _aware(v: datetime | None) -> datetime | None:
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def _channel(row: sa.Row[Any]) -> ChannelInfo:
    m = row._mapping
    return ChannelInfo(
        m["id"],
        m["enterprise_id"],
        m["name"],
        m["kind"],
        dict(m["config"]),
        m["created_by"],
        _aware(m["created_at"]) or datetime.now(UTC),
    )


def _rule(row: sa.Row[Any]) -> Rule:
    m = row._mapping
    return Rule(
        m["id"],
        m["enterprise_id"],
        m["user_id"],
        m["name"],
        m["channel_id"],
        tuple(m["kinds"]),
        m["devices_mode"],
        tuple(m["devices"]),
        m["min_severity"],
        m["quiet_start"],
        m["quiet_end"],
        m["zone"],
        m["lang"],
        bool(m["enabled"]),
    )


def _delivery(row: sa.Row[Any]) -> Delivery:
    m = dict(row._mapping)
    m["created_at"] = _aware(m["created_at"])
    m["finished_at"] = _aware(m["finished_at"])
    del m["search"]
    return Delivery(**m)


def _owned(table: sa.Table, eid: int | None) -> sa.ColumnElement[bool]:
    return table.c.enterprise_id.is_(None) if eid is None else table.c.enterprise_id == eid


def _like(q: str) -> str:
    text = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{text}%"


class Notifications:
    """Channels, rules and the delivery log; database work is synchronous (call it from a
    worker thread), ``test_channel`` is async."""

    def __init__(
        self, engine: sa.Engine, ctx: SendContext | None = None, sealer: sealed.Sealer | None = None
    ) -> None:
        self.engine = engine
        self.ctx = ctx or SendContext()
        self.sealer = sealer or sealed.for_engine(engine)
        #: Moves on every change of a channel or rule, so the dispatcher knows to reload.
        self.version = 0

    # --- channels -------------------------------------------------------------------------

    def create_channel(
        self, user: User, enterprise_id: int | None, name: str, kind: str, form: dict[str, str]
    ) -> ChannelInfo:
        """Check and store a channel; its secrets sealed."""
        eid = access.change_scope(user, enterprise_id, "add notification channels")
        name = name.strip()
        if not name or len(name) > MAX_CHANNEL_NAME:
            raise InvalidInput(
                f"a channel's name has 1 to {MAX_CHANNEL_NAME} characters",
                reason="notify_channel_name",
                params={"max": MAX_CHANNEL_NAME},
            )
        spec = KINDS.get(kind)
        if spec is None:
            raise InvalidInput(
                f"kind must be one of {', '.join(KINDS)}",
                reason="notify_field_choice",
                params={"field": "kind", "choices": ", ".join(KINDS)},
            )
        config, secrets = spec.parse(form, self.ctx)
        sealed_text = self.sealer.seal(orjson.dumps(secrets).decode())
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if eid is not None:
                get_enterprise_by_id(conn, eid)  # NotFound naming it, not a foreign-key error
            clash = conn.execute(
                sa.select(channels.c.id).where(_owned(channels, eid), channels.c.name == name)
            ).first()
            if clash is not None:
                raise Conflict(
                    f"a channel named {name!r} exists",
                    reason="notify_channel_exists",
                    params={"name": name},
                )
            cid = conn.execute(
                channels.insert()
                .values(
                    enterprise_id=eid,
                    name=name,
                    kind=kind,
                    config=config,
                    secret=sealed_text,
                    created_by=user.username,
                    created_at=now,
                )
                .returning(channels.c.id)
            ).scalar_one()
            audit.record(
                conn,
                user.actor,
                "notify.channel.create",
                f"channel:{cid}",
                {"name": name, "kind": kind, "enterprise": eid},
            )
        self.version += 1
        return ChannelInfo(int(cid), eid, name, kind, config, user.username, now)

    def channel(self, user: User, channel_id: int) -> ChannelInfo:
        """A channel ``user`` may see, else ``NotFound``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(channels).where(channels.c.id == channel_id)).first()
        if row is None:
            raise NotFound(f"no channel {channel_id}", reason="notify_no_channel", params={})
        info = _channel(row)
        if not access.can_see(user, info.enterprise_id):
            raise NotFound(f"no channel {channel_id}", reason="notify_no_channel", params={})
        return info

    def channels(
        self, user: User, *, q: str = "", kind: str = "", offset: int = 0, limit: int = 20
    ) -> tuple[list[ChannelInfo], int]:
        """One page of the channels ``user`` may see, by name, and how many match."""
        where = self._scope(user, channels)
        if q:
            where.append(channels.c.name.ilike(_like(q), escape="\\"))
        if kind:
            where.append(channels.c.kind == kind)
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).where(*where).select_from(channels))
            rows = conn.execute(
                sa.select(channels)
                .where(*where)
                .order_by(channels.c.name, channels.c.id)
                .offset(offset)
                .limit(limit)
            )
            return [_channel(r) for r in rows], int(total.scalar_one())

    def changeable_channel(self, user: User, channel_id: int) -> ChannelInfo:
        """A channel ``user`` may change (and test-send to): ``NotFound``, ``PermissionDenied``."""
        info = self.channel(user, channel_id)
        access.check_change(user, info.enterprise_id, f"channel {channel_id}")
        return info

    def delete_channel(self, user: User, channel_id: int) -> None:
        """Delete a channel and its rules (its log stays)."""
        info = self.changeable_channel(user, channel_id)
        with self.engine.begin() as conn:
            conn.execute(rules.delete().where(rules.c.channel_id == channel_id))
            conn.execute(channels.delete().where(channels.c.id == channel_id))
            audit.record(
                conn,
                user.actor,
                "notify.channel.delete",
                f"channel:{channel_id}",
                {"name": info.name},
            )
        self.version += 1

    def open_channel(self, channel_id: int) -> tuple[ChannelInfo, Channel]:
        """A channel ready to send (for the dispatcher: no user)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(channels).where(channels.c.id == channel_id)).first()
        if row is None:
            raise NotFound(f"no channel {channel_id}")
        info = _channel(row)
        secret = row._mapping["secret"]
        secrets = orjson.loads(self.sealer.open(secret)) if secret else {}
        return info, KINDS[info.kind].make(info.config, secrets, self.ctx)

    # --- rules ----------------------------------------------------------------------------

    def create_rule(
        self, user: User, channel_id: int, form: dict[str, object], *, personal: bool = False
    ) -> Rule:
        """Store a rule sending to a channel ``user`` may see (in the channel's enterprise)."""
        info = self.channel(user, channel_id)
        self._check_rule_change(user, info.enterprise_id, user.id if personal else None)
        fields = rule_fields(form)
        with self.engine.begin() as conn:
            rid = conn.execute(
                rules.insert()
                .values(
                    enterprise_id=info.enterprise_id,
                    user_id=user.id if personal else None,
                    channel_id=channel_id,
                    created_by=user.username,
                    updated_at=datetime.now(UTC),
                    **fields,
                )
                .returning(rules.c.id)
            ).scalar_one()
            audit.record(
                conn,
                user.actor,
                "notify.rule.create",
                f"notify-rule:{rid}",
                {"name": fields["name"], "channel": channel_id},
            )
        self.version += 1
        return self.rule(user, int(rid))

    def update_rule(
        self, user: User, rule_id: int, channel_id: int, form: dict[str, object]
    ) -> Rule:
        """Change a rule (its channel may change within the same enterprise)."""
        old = self.rule(user, rule_id)
        self._check_rule_change(user, old.enterprise_id, old.user_id)
        info = self.channel(user, channel_id)
        if info.enterprise_id != old.enterprise_id:
            raise NotFound(f"no channel {channel_id}", reason="notify_no_channel", params={})
        fields = rule_fields(form)
        with self.engine.begin() as conn:
            conn.execute(
                rules.update()
                .where(rules.c.id == rule_id)
                .values(channel_id=channel_id, updated_at=datetime.now(UTC), **fields)
            )
            audit.record(
                conn,
                user.actor,
                "notify.rule.update",
                f"notify-rule:{rule_id}",
                {"name": fields["name"], "channel": channel_id},
            )
        self.version += 1
        return self.rule(user, rule_id)

    def delete_rule(self, user: User, rule_id: int) -> None:
        """Delete a rule."""
        old = self.rule(user, rule_id)
        self._check_rule_change(user, old.enterprise_id, old.user_id)
        with self.engine.begin() as conn:
            conn.execute(rules.delete().where(rules.c.id == rule_id))
            audit.record(
                conn,
                user.actor,
                "notify.rule.delete",
                f"notify-rule:{rule_id}",
                {"name": old.name},
            )
        self.version += 1

    def rule(self, user: User, rule_id: int) -> Rule:
        """A rule ``user`` may see, else ``NotFound``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(rules).where(rules.c.id == rule_id)).first()
        if row is None or not access.can_see(user, row._mapping["enterprise_id"]):
            raise NotFound(f"no rule {rule_id}", reason="notify_no_rule", params={})
        return _rule(row)

    def rules(
        self, user: User, *, q: str = "", offset: int = 0, limit: int = 20
    ) -> tuple[list[tuple[Rule, str]], int]:
        """One page of the rules ``user`` may see with their channel's name, and the count."""
        where = self._scope(user, rules)
        if q:
            where.append(rules.c.name.ilike(_like(q), escape="\\"))
        joined = rules.join(channels, channels.c.id == rules.c.channel_id)
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(rules).where(*where))
            rows = conn.execute(
                sa.select(rules, channels.c.name.label("channel_name"))
                .select_from(joined)
                .where(*where)
                .order_by(rules.c.name, rules.c.id)
                .offset(offset)
                .limit(limit)
            ).all()
            return [(_rule(r), r._mapping["channel_name"]) for r in rows], int(total.scalar_one())

    def all_rules(self) -> list[Rule]:
        """Every enabled rule (for the dispatcher)."""
        with self.engine.connect() as conn:
            return [_rule(r) for r in conn.execute(sa.select(rules).where(rules.c.enabled))]

    @staticmethod
    def _check_rule_change(user: User, eid: int | None, owner: int | None) -> None:
        access.check_change(user, eid, "notification rules", users_too=owner == user.id)

    @staticmethod
    def _scope(user: User, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        if access.sees_all(user):
            return []
        eid = access.scope(user)
        return [table.c.enterprise_id == eid]

    # --- delivery log ---------------------------------------------------------------------

    def log(
        self,
        rule: Rule | None,
        info: ChannelInfo,
        kind: str,
        device: str | None,
        subject: str,
        events: int,
        status: str = "pending",
    ) -> int:
        """Start a delivery log row; its id."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    deliveries.insert()
                    .values(
                        enterprise_id=info.enterprise_id,
                        rule_id=rule.id if rule else 0,
                        channel_id=info.id,
                        channel_name=info.name,
                        kind=kind[:32],
                        device_id=device,
                        subject=subject[:300],
                        search=" ".join((subject[:300], device or "", info.name)).lower()[:400],
                        events=events,
                        attempts=0,
                        status=status,
                        created_at=datetime.now(UTC),
                        finished_at=datetime.now(UTC) if status == "quiet" else None,
                    )
                    .returning(deliveries.c.id)
                ).scalar_one()
            )

    def logged(
        self,
        delivery_id: int,
        status: str,
        attempts: int,
        error: str | None,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        """Record an attempt's outcome: ``error`` in English, ``reason`` and ``params`` for
        the console's catalogue."""
        done = status in ("sent", "failed")
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=status,
                    attempts=attempts,
                    error=(error or None) and error[:500],
                    reason=reason,
                    params={k: str(v)[:200] for k, v in params.items()} if params else None,
                    finished_at=datetime.now(UTC) if done else None,
                )
            )

    def prune(self, keep: int = MAX_LOG_ROWS) -> int:
        """Delete all but the newest ``keep`` rows of the delivery log; how many went."""
        with self.engine.begin() as conn:
            edge = conn.execute(
                sa.select(deliveries.c.id).order_by(deliveries.c.id.desc()).offset(keep).limit(1)
            ).scalar()
            if edge is None:
                return 0
            return int(conn.execute(deliveries.delete().where(deliveries.c.id <= edge)).rowcount)

    def delivery(self, user: User, delivery_id: int) -> Delivery | None:
        """One row of the delivery log if ``user`` may see it."""
        where = [*self._scope(user, deliveries), deliveries.c.id == delivery_id]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(*where)).first()
        return _delivery(row) if row is not None else None

    def deliveries(
        self,
        user: User,
        *,
        q: str = "",
        status: str = "",
        kind: str = "",
        channel_id: int | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[Delivery], int]:
        """One page of the delivery log ``user`` may see, newest first, and the count."""
        where = self._scope(user, deliveries)
        if q:
            # one column, lower-cased when written: a plain LIKE, fast on every backend
            where.append(deliveries.c.search.like(_like(q.lower()), escape="\\"))
        if status:
            where.append(deliveries.c.status == status)
        if kind:
            where.append(deliveries.c.kind == kind)
        if channel_id is not None:
            where.append(deliveries.c.channel_id == channel_id)
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(deliveries).where(*where))
            rows = conn.execute(
                sa.select(deliveries)
                .where(*where)
                .order_by(deliveries.c.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [_delivery(r) for r in rows], int(total.scalar_one())
