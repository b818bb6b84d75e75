"""Terms of prefix allocations: when an allocation lapses, and what a lapsed prefix may do.

A prefix allocated on an approved application (``ids.applications``) is held for a term,
``Settings.prefix_term_days`` (365 days unless configured); an approved renewal extends it by
another term counted from its end, or from the approval if it had lapsed already. An
allocation an operator makes directly (``POST /api/v1/prefixes``) has no term.

A prefix whose term has ended is *lapsed*. As a domain registry keeps a lapsed name in its
zone through a grace period, a lapsed prefix keeps **resolving** (an identifier printed on a
product must not break on a date) and keeps its key (which may be rotated), but **nothing is
written under it**: registrations, changes and deletions of its identifiers (and those of the
prefixes below it) are refused with 403 ``prefix_lapsed`` through every path that writes
(``Node.put``, ``Node.delete``: the Handle API, the console, bulk imports, active
identifiers) until a renewal is approved. Revocation (``ids.prefixes.revoke``) is what takes
a prefix out of resolution.

Each node keeps the terms of the prefixes it holds in ``Node.terms``, refreshed with the
revocations (``ids.prefixes.load_revoked``), so another process's renewal is seen within the
upkeep's period and this process's at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from indunet.ids.errors import NotAuthorized
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import prefixes

if TYPE_CHECKING:
    from indunet.ids.node import Node

#: How many levels up a write's prefix is walked to find a term (prefixes nest at most so).
_MAX_DEPTH = 32


def utc(at: datetime | None) -> datetime | None:
    """``at`` as an aware UTC time (SQLite gives naive ones back)."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def lapsed(until: datetime | None, now: datetime | None = None) -> bool:
    """Whether a term ending at ``until`` has ended (``None``: no term, never)."""
    end = utc(until)
    return end is not None and end <= (now or datetime.now(UTC))


def lapse_of(
    terms: Mapping[str, datetime], routing_prefix: str, now: datetime | None = None
) -> tuple[str, datetime] | None:
    """The lapsed prefix ``routing_prefix`` is (or is under) and when it lapsed, or ``None``."""
    if not terms:
        return None
    at = now or datetime.now(UTC)
    prefix = hdl.normalise_prefix(routing_prefix) if routing_prefix else ""
    for _ in range(_MAX_DEPTH):
        if not prefix:
            return None
        until = terms.get(prefix)
        if until is not None and lapsed(until, at):
            return prefix, until
        prefix = hdl.parent_prefix(prefix)
    return None


def check_writable(terms: Mapping[str, datetime], routing_prefix: str) -> None:
    """Refuse a write under a lapsed prefix (403 ``prefix_lapsed``)."""
    found = lapse_of(terms, routing_prefix)
    if found is not None:
        prefix, until = found
        raise NotAuthorized(
            f"prefix {prefix}'s term ended on {until.date().isoformat()}; its identifiers "
            "still resolve but take no writes until it is renewed",
            reason="prefix_lapsed",
            params={"prefix": prefix, "expired": until.isoformat()},
        )


def new_term_end(until: datetime | None, days: int, now: datetime | None = None) -> datetime:
    """The end of a term of ``days`` following one that ends at ``until`` (or now, if it has
    ended or there was none)."""
    at = now or datetime.now(UTC)
    end = utc(until)
    start = end if end is not None and end > at else at
    return start + timedelta(days=days)


def load_terms(conn: sa.Connection, nodes: Iterable[Node]) -> None:
    """Give ``nodes`` the terms of the prefixes in service (revoked ones are out anyway)."""
    rows = conn.execute(
        sa.select(prefixes.c.prefix, prefixes.c.expires_at).where(
            prefixes.c.revoked_at.is_(None), prefixes.c.expires_at.is_not(None)
        )
    )
    found = {str(p): utc(e) for p, e in rows}
    terms = {p: e for p, e in found.items() if e is not None}
    for n in nodes:
        n.terms = terms
