"""The receiving side: each message checked, then applied exactly once, in its sender's order.

A delivery is a batch of messages from one sender. Each is checked in turn (shape and size,
addressed to this instance, from a peer enrolled here and not removed, signed by that
peer's key, of a kind this instance applies); the first that fails stops the batch, is
counted by reason and logged, and what came before it stays applied. Then its number:

- at or below the last applied from that sender: a resend, answered as done (counted);
- the next one: applied by its kind's handler in the same database transaction that records
  it and moves the sender's number, so a crash anywhere applies it once or not at all;
- beyond the next: a gap (an earlier message is missing), refused with the number expected,
  from which the sender sends again.

A handler refusing a message's body (``BodyRefused``) does not stop its sender's stream: the
message is recorded as refused, with the reason, and counted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from indunet.core.signing import PublicKey, parse_public

from .envelope import MAX_BATCH, Envelope, Refused, parse, verified
from .tables import inbox, peers, received

log = logging.getLogger(__name__)
_RECORD = received.insert()  # built once: reused for every delivery
# One savepoint around each message's handler, in plain SQL (the same in SQLite and
# PostgreSQL) under a fixed name: SQLAlchemy's ``begin_nested`` names each savepoint anew and
# compiles its statements every time, a fifth of the cost of applying a message. A handler
# may still open savepoints of its own inside it.
_SAVEPOINT = "SAVEPOINT fed_message"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT fed_message"
_RELEASE = "RELEASE SAVEPOINT fed_message"
_CONTACT = (
    peers.update()
    .where(peers.c.name == sa.bindparam("sender"))
    .values(last_contact=sa.bindparam("now"))
)

Handler = Callable[[sa.Connection, Envelope], None]
"""Applies one message's body in the receiver's transaction (raise ``BodyRefused`` to refuse
the body: recorded, counted, the stream goes on)."""


class BodyRefused(ValueError):
    """A message whose body its handler will not apply (``reason``: a catalogue code)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Gap(Refused):
    """A message beyond the next expected from its sender."""

    def __init__(self, message: str, expected: int) -> None:
        super().__init__(message, "federation_sequence_gap")
        self.expected = expected


@dataclass
class Receipt:
    """What a delivery did: the sender's last applied number after it, and the counts."""

    sender: str
    through: int
    applied: int = 0
    duplicates: int = 0
    bodies_refused: int = 0


@dataclass
class InboxStats:
    applied: int = 0
    duplicates: int = 0
    bodies_refused: int = 0
    refused: Counter[str] = field(default_factory=Counter)


class Inbox:
    """Messages addressed to instance ``me``, applied by ``handlers`` (by kind)."""

    def __init__(self, engine: sa.Engine, me: str, handlers: Mapping[str, Handler]) -> None:
        self.engine = engine
        self.me = me
        self.handlers = dict(handlers)
        self.stats = InboxStats()

    def receive(self, messages: Sequence[Any]) -> Receipt:
        """Check and apply a delivery; ``Refused`` (``Gap``) at the first message refused,
        after what came before it was applied."""
        if not isinstance(messages, list) or not messages:
            raise self._count(Refused("messages must be a non-empty list", "federation_batch"))
        if len(messages) > MAX_BATCH:
            raise self._count(
                Refused(f"at most {MAX_BATCH} messages a delivery", "federation_batch")
            )
        first = self._checked(messages[0], 1, None)
        sender, key = first[0].sender, first[2]
        checked = [first] + [
            self._checked(m, i, (sender, key)) for i, m in enumerate(messages[1:], 2)
        ]
        try:
            return self._apply(sender, checked)
        except sa.exc.IntegrityError:
            # the same sender's delivery applied concurrently (a retry racing the first try):
            # read the number again, and what was applied meanwhile counts as a resend
            return self._apply(sender, checked)

    def _checked(
        self, data: Any, n: int, known: tuple[str, PublicKey] | None
    ) -> tuple[Envelope, bytes, PublicKey]:
        where = f"message {n}"
        try:
            env, sig = parse(data, where)
            if env.recipient != self.me:
                raise Refused(
                    f"{where}: addressed to {env.recipient!r}, not to this instance",
                    "federation_recipient",
                )
            if known is not None and env.sender != known[0]:
                raise Refused(f"{where}: a delivery comes from one sender", "federation_batch")
            key = known[1] if known is not None else self._key_of(env.sender, where)
            if not verified(env, sig, key):
                raise Refused(
                    f"{where}: the signature is not {env.sender}'s", "federation_signature"
                )
            if env.kind not in self.handlers:
                raise Refused(
                    f"{where}: kind {env.kind!r} is not one this instance applies",
                    "federation_kind",
                )
        except Refused as exc:
            raise self._count(exc) from None
        return env, sig, key

    def _key_of(self, sender: str, where: str) -> PublicKey:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(peers.c.public_key, peers.c.status).where(peers.c.name == sender)
            ).first()
        if row is None:
            raise Refused(f"{where}: {sender!r} is not enrolled here", "federation_sender_unknown")
        if row.status != "active":
            raise Refused(f"{where}: {sender!r} was removed", "federation_sender_removed")
        return parse_public(bytes(row.public_key))

    def _apply(self, sender: str, checked: list[tuple[Envelope, bytes, PublicKey]]) -> Receipt:
        now = time.time()
        receipt = Receipt(sender, 0)
        records: list[dict[str, Any]] = []
        gap: Gap | None = None
        with self.engine.begin() as conn:
            # A write first: it opens the transaction for real (pysqlite begins one only at
            # the first write, so a handler's savepoint would otherwise be the outermost
            # transaction and its release a commit) and locks the sender's row, so a copy of
            # this delivery applied at the same time waits, then reads the number moved.
            conn.execute(_CONTACT, {"sender": sender, "now": now})
            last = conn.execute(
                sa.select(inbox.c.last_seq).where(inbox.c.sender == sender).with_for_update()
            ).scalar()
            fresh = last is None
            last = last or 0
            for env, _sig, _key in checked:
                if env.seq <= last:
                    receipt.duplicates += 1
                    continue
                if env.seq > last + 1:
                    gap = Gap(
                        f"message {env.seq} from {sender!r} before {last + 1}: send from {last + 1}",
                        last + 1,
                    )
                    break
                outcome = "applied"
                conn.exec_driver_sql(_SAVEPOINT)  # a refused body's changes are rolled back
                try:
                    self.handlers[env.kind](conn, env)
                except BodyRefused as exc:
                    conn.exec_driver_sql(_ROLLBACK_TO)
                    outcome = f"refused: {exc.reason}"[:80]
                    receipt.bodies_refused += 1
                    log.warning("message %s/%d refused by its handler: %s", sender, env.seq, exc)
                conn.exec_driver_sql(_RELEASE)
                records.append(
                    {
                        "sender": sender,
                        "seq": env.seq,
                        "id": env.id,
                        "kind": env.kind,
                        "ts": env.ts,
                        "applied": now,
                        "outcome": outcome,
                    }
                )
                last = env.seq
                if outcome == "applied":
                    receipt.applied += 1
            if records:  # the record of each, in the same transaction (one statement)
                conn.execute(_RECORD, records)
            if fresh:
                conn.execute(inbox.insert().values(sender=sender, last_seq=last))
            else:
                conn.execute(inbox.update().where(inbox.c.sender == sender).values(last_seq=last))
        receipt.through = last
        self.stats.applied += receipt.applied
        self.stats.duplicates += receipt.duplicates
        self.stats.bodies_refused += receipt.bodies_refused
        if gap is not None:
            raise self._count(gap)
        return receipt

    def _count(self, exc: Refused) -> Refused:
        self.stats.refused[exc.reason] += 1
        log.warning("federation message refused (%s): %s", exc.reason, exc)
        return exc
