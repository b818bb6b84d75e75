"""A secondary node's link to its parent: the daily report and the registry, pushed.

Every ``every`` seconds (off the event loop) the link asks the parent what it holds of this
node (``GET /api/v1/children/self``: the last day reported and the digest of the registry),
then sends what the parent lacks:

* the counts of every completed day after that one (``ids.daily``'s hourly rows summed per
  day of China Standard Time and prefix, only prefixes at or under this node's), oldest
  first, in reports of at most ``children.MAX_REPORT_ROWS`` rows. A day is complete
  ``SETTLE`` after its midnight (the upkeep stores counts every few seconds). A parent that
  was down is caught up on the next pass, back to ``CATCH_UP_DAYS`` days; the parent's
  upserts make a report sent twice harmless, so a pass cut short is simply done again.
* the registry (every enterprise registered here: USCC, name, verified; every prefix in
  service allocated here: to which USCC), when its digest differs from the parent's. A
  registry over ``children.MAX_REGISTRY_ROWS`` is not pushed (logged): half a snapshot
  would replace the whole one at the parent.

The parent's state is the cursor: nothing is kept here, so a restored parent (or a new one)
is brought up to date by the same passes. The link authenticates as the prefix's admin
(``300:0.NA/<prefix>``) with the secret of that handle at the parent, as ``ids.announce``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from indunet.core import enterprises as core_enterprises
from indunet.ids import children
from indunet.ids.children import REPORT_ZONE, ChildAllocation, ChildEnterprise
from indunet.ids.prefixes import admin_username
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import daily_stats, prefixes

log = logging.getLogger(__name__)
#: How long after midnight (China Standard Time) a day counts as complete.
SETTLE = timedelta(minutes=10)
#: How many days back a first report, or a catch-up, goes.
CATCH_UP_DAYS = 90
EVERY = 300.0
TIMEOUT = 15.0
#: The longest answer read from the parent (its answers are a few hundred bytes).
MAX_ANSWER = 64 * 1024


@dataclass
class Pushed:
    """What one pass sent: the days reported and whether the registry was pushed."""

    days: list[date] = field(default_factory=list)
    rows: int = 0
    registry: bool = False


def completed_through(now: datetime | None = None) -> date:
    """The last day (China Standard Time) that is over and settled."""
    at = (now or datetime.now(UTC)).astimezone(REPORT_ZONE) - SETTLE
    return at.date() - timedelta(days=1)


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time(), REPORT_ZONE).astimezone(UTC)


def day_rows(engine: sa.Engine, own: str, first: date, last: date) -> dict[date, list[list[Any]]]:
    """Counts per day (China Standard Time) and prefix under ``own``, ``first`` to ``last``."""
    found: dict[date, dict[str, list[int]]] = {}
    query = (
        sa.select(
            daily_stats.c.hour,
            daily_stats.c.prefix,
            daily_stats.c.registrations,
            daily_stats.c.resolutions,
        )
        .where(daily_stats.c.hour >= _utc_start(first))
        .where(daily_stats.c.hour < _utc_start(last + timedelta(days=1)))
    )
    with engine.connect() as conn:
        for hour, prefix, reg, res in conn.execute(query):
            if not hdl.is_under(prefix, own):
                continue
            when = hour if hour.tzinfo else hour.replace(tzinfo=UTC)
            slot = found.setdefault(when.astimezone(REPORT_ZONE).date(), {})
            counts = slot.setdefault(prefix, [0, 0])
            counts[0] += int(reg or 0)
            counts[1] += int(res or 0)
    return {
        d: [[d.isoformat(), p, g, s] for p, (g, s) in sorted(found.get(d, {}).items())]
        for d in _days(first, last)
    }


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def registry(engine: sa.Engine, own: str) -> tuple[list[ChildEnterprise], list[ChildAllocation]]:
    """This node's enterprises and the prefixes in service it allocated below ``own``."""
    with engine.connect() as conn:
        found = core_enterprises.list_enterprises(conn)
        rows = conn.execute(
            sa.select(prefixes.c.prefix, prefixes.c.enterprise_id, prefixes.c.created_at).where(
                prefixes.c.revoked_at.is_(None)
            )
        ).all()
    uscc = {e.id: e.uscc for e in found}
    allocations = [
        ChildAllocation(p, uscc.get(e) if e is not None else None, _utc(at))
        for p, e, at in rows
        if p != own and hdl.is_under(p, own)
    ]
    return [ChildEnterprise(e.uscc, e.name, e.verified) for e in found], allocations


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


class ParentLink:
    """Reports this node's days and pushes its registry to ``parent`` as ``prefix``."""

    def __init__(
        self,
        engine: sa.Engine,
        parent: str,
        prefix: str,
        secret: str | Callable[[], str],
        *,
        every: float = EVERY,
        client: httpx.Client | None = None,
    ) -> None:
        self.engine = engine
        self.parent = parent.rstrip("/")
        self.prefix = hdl.normalise_prefix(prefix)
        self.every = every
        self._user = admin_username(self.prefix).replace(":", "%3A", 1)
        #: the prefix key, read again for each pass when a callable (the key file, so that a
        #: rotated key reaches the link as it reaches ``ids.enrolment``)
        self._secret = secret
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self.last_error = ""
        self.last_pass_at: datetime | None = None  # the last pass that ended well
        self.reported_through: date | None = None  # the last day the parent holds

    def _auth(self) -> tuple[str, str]:
        secret = self._secret() if callable(self._secret) else self._secret
        return (self._user, secret)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=TIMEOUT)
        return self._client

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One request; the answer is read up to ``MAX_ANSWER`` bytes and must be an object."""
        with self._http().stream(
            method, self.parent + path, json=body, auth=self._auth(), follow_redirects=False
        ) as resp:
            raw = b""
            for chunk in resp.iter_bytes():
                raw += chunk
                if len(raw) > MAX_ANSWER:
                    raise RuntimeError(f"{method} {path} at {self.parent}: answer too long")
        if resp.status_code != 200:
            text = raw[:300].decode(errors="replace")
            raise RuntimeError(f"{method} {path} at {self.parent}: HTTP {resp.status_code} {text}")
        answer = orjson.loads(raw)
        if not isinstance(answer, dict):
            raise RuntimeError(f"{method} {path} at {self.parent}: not a JSON object")
        return answer

    def run_once(self, now: datetime | None = None) -> Pushed:
        """One pass (blocking): report the missing days, push the registry if it changed."""
        held = self._call("GET", "/api/v1/children/self")
        pushed = Pushed()
        self._report(held.get("last_report_day"), now, pushed)
        if pushed.days:
            self.reported_through = completed_through(now)
        elif held.get("last_report_day"):
            self.reported_through = date.fromisoformat(held["last_report_day"])
        enterprises, allocations = registry(self.engine, self.prefix)
        if max(len(enterprises), len(allocations)) > children.MAX_REGISTRY_ROWS:
            log.error(
                "the registry (%s enterprises, %s allocations) is over the %s rows a push takes; "
                "not pushed",
                len(enterprises),
                len(allocations),
                children.MAX_REGISTRY_ROWS,
            )
        elif children.registry_digest(enterprises, allocations) != held.get("registry_digest"):
            self._call("PUT", "/api/v1/children/registry", _registry_body(enterprises, allocations))
            pushed.registry = True
        return pushed

    def _report(self, held: str | None, now: datetime | None, pushed: Pushed) -> None:
        last = completed_through(now)
        floor = last - timedelta(days=CATCH_UP_DAYS - 1)
        first = max(date.fromisoformat(held) + timedelta(days=1), floor) if held else floor
        if first > last:
            return
        if not held:  # a first report starts at the first day with counts (or at the last)
            first = max(first, min(self._first_day() or last, last))
        batch: list[list[Any]] = []
        for day, rows in day_rows(self.engine, self.prefix, first, last).items():
            if batch and len(batch) + len(rows) > children.MAX_REPORT_ROWS:
                self._send(batch, day - timedelta(days=1), pushed)
                batch = []
            while len(rows) > children.MAX_REPORT_ROWS:  # one day over a report: in parts,
                part, rows = rows[: children.MAX_REPORT_ROWS], rows[children.MAX_REPORT_ROWS :]
                self._send(part, day - timedelta(days=1), pushed)  # the day done at the end
            batch.extend(rows)
            pushed.days.append(day)
        self._send(batch, last, pushed)

    def _send(self, rows: list[list[Any]], through: date, pushed: Pushed) -> None:
        body = {
            "through": through.isoformat(),
            "rows": [
                {"day": d, "prefix": p, "registrations": g, "resolutions": s} for d, p, g, s in rows
            ],
        }
        self._call("PUT", "/api/v1/children/reports", body)
        pushed.rows += len(rows)

    def _first_day(self) -> date | None:
        with self.engine.connect() as conn:
            first = conn.execute(sa.select(sa.func.min(daily_stats.c.hour))).scalar()
        if first is None:
            return None
        return _utc(first).astimezone(REPORT_ZONE).date()  # type: ignore[union-attr]

    def status(self) -> dict[str, Any]:
        """What the node's status page shows: where it reports, how far, the last error."""
        return {
            "parent": self.parent,
            "prefix": self.prefix,
            "every": self.every,
            "reported_through": self.reported_through,
            "last_pass_at": self.last_pass_at,
            "last_error": self.last_error,
        }

    async def start(self) -> None:
        """Keep going in the background (the first pass at once)."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop; a pass under way is left to finish in its thread."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                pushed = await asyncio.to_thread(self.run_once)
                self.last_error = ""
                self.last_pass_at = datetime.now(UTC)
                if pushed.days or pushed.registry:
                    log.info(
                        "reported %s day(s) (%s rows)%s to %s",
                        len(pushed.days),
                        pushed.rows,
                        " and the registry" if pushed.registry else "",
                        self.parent,
                    )
            except (httpx.HTTPError, RuntimeError, ValueError, TypeError) as exc:  # bad answers too
                self.last_error = str(exc) or type(exc).__name__
                log.warning(
                    "reporting to %s failed; trying again in %s s: %s",
                    self.parent,
                    self.every,
                    self.last_error,
                )
            await asyncio.sleep(self.every)


def _registry_body(
    enterprises: list[ChildEnterprise], allocations: list[ChildAllocation]
) -> dict[str, Any]:
    return {
        "enterprises": [
            {"uscc": e.uscc, "name": e.name, "verified": e.verified} for e in enterprises
        ],
        "allocations": [
            {
                "prefix": a.prefix,
                "uscc": a.uscc,
                "allocated_at": a.allocated_at.isoformat() if a.allocated_at else None,
            }
            for a in allocations
        ],
    }


__all__ = ["CATCH_UP_DAYS", "SETTLE", "ParentLink", "Pushed", "completed_through", "registry"]
