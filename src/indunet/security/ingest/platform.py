"""The platform's own security-relevant events, read from its audit log.

Every change on the platform is audited in the writer's transaction, and so is every failed
login (console, API, Handle authentication — ``core.logins``). Following the audit log gives
the security platform those events without another subsystem changing: each new entry
becomes a ``SecurityEvent`` of source ``platform`` (id ``audit-<n>``, so an entry read twice
is stored once), in the entry's enterprise:

- ``login.failed`` → ``auth.failure`` (outcome failure, severity 5; ``src_ip`` the source
  address, ``user`` the account named, ``protocol`` the way in: console, token, handle…;
  ``fields.target`` the service, ``console`` or ``handle``, as the auth rules read it, and
  ``fields.account`` the audit target); ``login.succeeded`` (a password login) →
  ``auth.success`` the same way (severity 1); ``login.locked`` (the throttle locked the
  account or the source) → ``auth.lockout`` the same way (outcome failure, severity 6;
  ``fields.locked`` account or source, ``fields.seconds``);
- ``device.write`` / ``device.invoke`` (command writes to equipment) → ``ot.command``
  (severity 4);
- ``user.*``, ``token.*``, ``session.*``, ``prefix.rotate_key``, ``device.rotate_secret``
  (accounts and credentials) → ``config.change`` with severity 3;
- any other entry → ``config.change`` (severity 1).

The follower starts at the newest entry (history is not replayed) and polls every
``POLL_S`` seconds, ``BATCH`` entries at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from indunet.core import audit

from ..events import SecurityEvent
from ..hub import Hub
from .common import bounded_fields, name
from .gate import Gate, SourceStats
from .tail import hand_on

log = logging.getLogger(__name__)
POLL_S = 5.0
BATCH = 500
_CREDENTIALS = ("user.", "token.", "session.", "prefix.rotate_key", "device.rotate_secret")
# audit action → kind, severity, outcome, action of the event
_LOGINS = {
    "login.failed": ("auth.failure", 5, "failure", "login"),
    "login.succeeded": ("auth.success", 1, "success", "login"),
    "login.locked": ("auth.lockout", 6, "failure", "lockout"),
}


def to_event(entry: audit.AuditEntry) -> SecurityEvent:
    """The security event of one audit entry."""
    actor_kind, _, actor = entry.actor.partition(":")
    target_kind, _, target = entry.target.partition(":")
    src_ip = None
    if actor_kind == "source":
        with contextlib.suppress(ValueError):
            src_ip = str(
                ipaddress.ip_address(actor.rsplit(":", 1)[0] if actor.count(":") == 1 else actor)
            )
    user = actor if actor_kind == "user" else None
    kind, severity, outcome, did = "config.change", 1, "success", entry.action
    protocol = None
    service = None
    if entry.action in _LOGINS:
        kind, severity, outcome, did = _LOGINS[entry.action]
        user = target if target_kind == "user" else entry.target
        protocol = name(entry.detail.get("via"))
        service = "handle" if (protocol or "").startswith("handle") else "console"
    elif entry.action in ("device.write", "device.invoke"):
        kind, severity = "ot.command", 4
    elif entry.action.startswith(_CREDENTIALS):
        severity = 3
    fields: dict[str, Any] = {
        "audit_id": entry.id,
        "actor": entry.actor,
        "target": entry.target,
        "detail": entry.detail,
    }
    if service is not None:  # a login: ``target`` is the service logged in to, as the
        fields["target"], fields["account"] = service, entry.target  # auth rules read it
        if entry.action == "login.locked":
            fields["locked"] = name(entry.detail.get("locked"))
            seconds = entry.detail.get("seconds")
            if isinstance(seconds, int) and not isinstance(seconds, bool):
                fields["seconds"] = seconds
    return SecurityEvent(
        ts=entry.at.timestamp(),
        source="platform",
        kind=kind,
        enterprise_id=entry.enterprise_id,
        observer="audit",
        protocol=protocol,
        action=name(did),
        outcome=outcome,
        src_ip=src_ip,
        user=name(user),
        severity=severity,
        message=f"{entry.actor} {entry.action} {entry.target}"[:2000],
        fields=bounded_fields(fields),
        id=f"audit-{entry.id}",
    )


class AuditFollower:
    """Turns new audit entries into events on the hub."""

    def __init__(
        self, engine: sa.Engine, hub: Hub, stats: SourceStats, poll_s: float = POLL_S
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.stats = stats
        self.gate = Gate(stats)
        self.poll_s = poll_s
        self.last_id: int | None = None
        self._since: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            if self.last_id is None:
                await asyncio.to_thread(self._newest)
            self._task = asyncio.create_task(self._run(), name="security-audit-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _newest(self) -> None:
        with self.engine.connect() as conn:
            newest = audit.entries(conn, limit=1)
        self.last_id = newest[0].id if newest else 0
        self._since = newest[0].at if newest else None

    def _new_entries(self) -> list[audit.AuditEntry]:
        """Entries after ``last_id`` (read by time, from the last one seen, oldest first)."""
        since = self._since - timedelta(seconds=1) if self._since is not None else None
        out: list[audit.AuditEntry] = []
        offset = 0
        with self.engine.connect() as conn:
            while len(out) < BATCH:
                page, _ = audit.find(
                    conn,
                    audit.AuditFilter(since=since),
                    offset=offset,
                    limit=BATCH,
                    oldest_first=True,
                )
                out.extend(e for e in page if e.id > (self.last_id or 0))
                if len(page) < BATCH:
                    break
                offset += BATCH
        return sorted(out, key=lambda e: e.id)[:BATCH]

    async def poll(self) -> int:
        """Hand on the entries written since the last poll; how many."""
        if self.last_id is None:
            await asyncio.to_thread(self._newest)
        entries = await asyncio.to_thread(self._new_entries)
        if not entries:
            return 0
        events = [to_event(e) for e in entries]
        self.stats.read += len(entries)
        self.stats.parsed += len(events)
        await hand_on(self.hub, self.gate, events)
        self.last_id = entries[-1].id
        self._since = entries[-1].at
        return len(entries)

    async def _run(self) -> None:
        while True:
            try:
                got = await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("following the audit log failed")
                self.stats.last_error = str(exc)[:300]
                got = 0
            if got < BATCH:
                await asyncio.sleep(self.poll_s)
