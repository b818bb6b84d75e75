"""The operator's identifier resolution service licence (标识解析服务许可), as configured.

A licensed secondary node shows its licence on its public page: the number, the holder, the
licensed scope and the validity dates, from the ``INDUNET_LICENCE_*`` settings. Without a
number nothing is shown. Whether it is in force is judged by the date in China Standard Time
(``LICENCE_ZONE``), the zone the licensing authority dates its licences in, whatever zone a
reader's page shows times in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from indunet.core import Settings

LICENCE_ZONE = ZoneInfo("Asia/Shanghai")
#: A licence ending within this many days is shown as expiring soon.
EXPIRING_DAYS = 30
VALID, EXPIRING, EXPIRED, NOT_YET = "valid", "expiring", "expired", "not_yet"


@dataclass(frozen=True, slots=True)
class Licence:
    """What the node shows of its operator's licence."""

    number: str
    holder: str
    scope: str
    valid_from: date | None
    valid_until: date | None

    def status(self, today: date) -> str:
        """``not_yet`` before its first day, ``expired`` after its last, ``expiring`` in its
        last ``EXPIRING_DAYS`` days, else ``valid`` (open-ended dates never end)."""
        if self.valid_from is not None and today < self.valid_from:
            return NOT_YET
        if self.valid_until is not None:
            if today > self.valid_until:
                return EXPIRED
            if (self.valid_until - today).days < EXPIRING_DAYS:
                return EXPIRING
        return VALID

    def days_left(self, today: date) -> int | None:
        """Days until the last day of validity (0 on it), or None when it has no end."""
        return None if self.valid_until is None else (self.valid_until - today).days


def today(now: datetime | None = None) -> date:
    """Today's date in ``LICENCE_ZONE``."""
    return (now or datetime.now(LICENCE_ZONE)).astimezone(LICENCE_ZONE).date()


def licence_of(settings: Settings) -> Licence | None:
    """The configured licence, or None when no number is set."""
    number = settings.licence_number.strip()
    if not number:
        return None
    return Licence(
        number=number,
        holder=settings.licence_holder.strip(),
        scope=settings.licence_scope.strip(),
        valid_from=settings.licence_valid_from,
        valid_until=settings.licence_valid_until,
    )
