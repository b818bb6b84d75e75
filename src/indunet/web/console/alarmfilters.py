"""The alarm list's filters as the query string carries them, read into an ``AlarmFilter``.

Times are typed in the page's zone (``<input type="datetime-local">``: ``2026-12-06T13:50``)
or chosen as a preset (the last hour, day, week or month). Like paging, reading never fails:
a value that cannot be read is left out and named in ``problems`` (catalogue keys), so the
page answers 200 with what it could read and says what it ignored. Only naming another
enterprise's device or model is an error (``NotFound``), as everywhere in the console.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from indunet.core import User, access
from indunet.telemetry.alarms import STATE_FILTERS, AlarmFilter
from indunet.web.console.fleet import SEVERITIES
from indunet.web.console.i18n import N_
from indunet.web.console.zones import Zone
from indunet.web.platform import Platform

ALL = "all"
#: Presets of the time range: value, span and catalogue key.
PRESETS = {
    "1h": (timedelta(hours=1), N_("alarms.preset.1h")),
    "24h": (timedelta(days=1), N_("alarms.preset.24h")),
    "7d": (timedelta(days=7), N_("alarms.preset.7d")),
    "30d": (timedelta(days=30), N_("alarms.preset.30d")),
}
#: Query parameters of the filters (the paging's own are ``paging.OWN``).
NAMES = ("state", "severity", "device", "model", "rule", "from", "to", "range")
MAX_ID = 200


def local_time(text: str, zone: Zone) -> datetime | None:
    """A ``datetime-local`` value (or ``YYYY-MM-DD HH:MM[:SS]``) in ``zone``, as an aware
    datetime; ``None`` when it cannot be read."""
    text = text.strip().replace(" ", "T")[:19]
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    if naive.tzinfo is not None or not 1970 <= naive.year <= 9999:
        return None
    return naive.replace(tzinfo=zone.info)


@dataclass
class Filters:
    """The filters of one request: as typed (for the form) and as the service takes them."""

    state: str = "open"
    severity: str = ""
    device: str = ""
    model: str = ""
    rule: int | None = None
    since_text: str = ""
    until_text: str = ""
    preset: str = ""
    q: str = ""
    since: datetime | None = None
    until: datetime | None = None
    problems: list[str] = field(default_factory=list)

    def query(self, enterprise_id: int | None = None) -> AlarmFilter:
        """The service's filter."""
        return AlarmFilter(
            state=None if self.state == ALL else self.state,
            enterprise_id=enterprise_id,
            device_id=self.device or None,
            model_id=self.model or None,
            severity=self.severity or None,
            rule_id=self.rule,
            since=self.since,
            until=self.until,
            text=self.q,
        )

    def params(self, **changes: str) -> dict[str, str]:
        """The query parameters that make these filters (with ``changes``), empty ones left out."""
        out = {
            "state": self.state,
            "severity": self.severity,
            "device": self.device,
            "model": self.model,
            "rule": str(self.rule or ""),
            "from": self.since_text,
            "to": self.until_text,
            "range": self.preset,
            "q": self.q,
        }
        out.update(changes)
        return {k: v for k, v in out.items() if v}

    def encoded(self, **changes: str) -> str:
        """``params`` as a query string."""
        return urlencode(self.params(**changes))

    def context(self) -> dict[str, Any]:
        """What the filter form shows."""
        return {"filters": self, "presets": PRESETS}


def read(params: QueryParams, zone: Zone, now: datetime) -> Filters:
    """The filters of a query string (hostile values are dropped and named in ``problems``)."""
    f = Filters()
    state = params.get("state", "open")
    if state in STATE_FILTERS or state == ALL:
        f.state = state
    else:
        f.problems.append(N_("alarms.problem.state"))
    severity = params.get("severity", "")
    if severity in SEVERITIES:
        f.severity = severity
    elif severity:
        f.problems.append(N_("alarms.problem.severity"))
    f.device = params.get("device", "").strip()[:MAX_ID]
    f.model = params.get("model", "").strip()[:MAX_ID]
    f.q = params.get("q", "").strip()[:100]
    rule = params.get("rule", "").strip()
    if rule.isdigit() and 0 < int(rule) < 2**63:
        f.rule = int(rule)
    elif rule:
        f.problems.append(N_("alarms.problem.rule"))
    preset = params.get("range", "")
    for name, attr in (("from", "since"), ("to", "until")):
        text = params.get(name, "").strip()[:40]
        if not text:
            continue
        when = local_time(text, zone)
        if when is None:
            f.problems.append(N_("alarms.problem.time"))
            continue
        setattr(f, f"{attr}_text", text)
        setattr(f, attr, when)
    if f.since is None and f.until is None and preset in PRESETS:
        f.preset = preset
        f.since = now - PRESETS[preset][0]
    elif preset and preset not in PRESETS:
        f.problems.append(N_("alarms.problem.range"))
    if f.since and f.until and f.since >= f.until:
        f.problems.append(N_("alarms.problem.reversed"))
        f.until, f.until_text = None, ""
    return f


def check_visible(platform: Platform, user: User, f: Filters) -> None:
    """``NotFound`` when the filters name another enterprise's device, model or rule
    (overseers may filter by anything, including devices and rules that are gone)."""
    if access.sees_all(user):
        return
    if f.device:
        platform.devices.visible(user, f.device)
    if f.model:
        platform.models.visible(user, f.model)
    if f.rule is not None and platform.rules is not None:
        platform.rules.get(user, f.rule)
