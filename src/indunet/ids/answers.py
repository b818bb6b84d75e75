"""What a node says about an identifier: a record, a referral, or an error, in REST JSON shape."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from indunet.ids.errors import RC, HandleError
from indunet.ids.values import SITE_TYPE, HandleValue

#: Bounds of an answer's reason as read from another node.
REASON = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_PARAMS = 8
MAX_PARAM_TEXT = 400


@dataclass(frozen=True, slots=True)
class Site:
    """A server of a prefix (an HS_SITE value): primary or mirror."""

    url: str
    primary: bool = False
    name: str = ""


@dataclass(frozen=True, slots=True)
class Referral:
    """'Ask these sites': the delegation of ``prefix``, valid for ``ttl`` seconds."""

    prefix: str
    sites: tuple[Site, ...]
    ttl: int

    def to_json(self) -> dict[str, Any]:
        """REST shape."""
        return {
            "prefix": self.prefix,
            "ttl": self.ttl,
            "sites": [{"url": s.url, "primary": s.primary, "name": s.name} for s in self.sites],
        }

    @classmethod
    def from_values(cls, prefix: str, values: list[HandleValue]) -> Referral | None:
        """Build the referral held in a prefix handle's HS_SITE values (primary first)."""
        sites = [v for v in values if v.type == SITE_TYPE and isinstance(v.value, dict)]
        if not sites:
            return None
        sites.sort(key=lambda v: (not v.value.get("primary", False), v.index))
        return cls(
            prefix=prefix,
            sites=tuple(
                Site(v.value["url"], bool(v.value.get("primary")), v.value.get("name", ""))
                for v in sites
            ),
            ttl=min(v.seconds_to_live() for v in sites),
        )


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a resolution: which site was asked and what it said."""

    site: str
    rc: int
    ms: float
    prefix: str = ""
    failed: tuple[tuple[str, str], ...] = ()
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        """REST shape."""
        out: dict[str, Any] = {"site": self.site, "responseCode": self.rc, "ms": round(self.ms, 3)}
        if self.prefix:
            out["prefix"] = self.prefix
        if self.failed:
            out["failed"] = [{"site": s, "error": e} for s, e in self.failed]
        if self.cached:
            out["cached"] = True
        return out


@dataclass(slots=True)
class Answer:
    """A node's answer about one identifier."""

    rc: int
    handle: str
    values: list[HandleValue] | None = None
    referral: Referral | None = None
    message: str = ""
    path: list[Hop] = field(default_factory=list)
    #: Why, as a stable code with parameters (``prefix_revoked``, {"prefix": …}), so a console
    #: says it in its reader's language; an extra field of the REST body, absent from nodes of
    #: other software (then only ``message`` is known).
    reason: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def public_values(self) -> list[HandleValue]:
        """Values anyone may read (secret keys are never shown)."""
        return [v for v in self.values or () if v.public_read]

    def to_json(self, *, with_path: bool = False) -> dict[str, Any]:
        """The Handle.Net REST API body."""
        out: dict[str, Any] = {"responseCode": self.rc, "handle": self.handle}
        if self.values is not None:
            out["values"] = [v.to_json() for v in self.public_values()]
        if self.referral is not None:
            out["referral"] = self.referral.to_json()
        if self.message:
            out["message"] = self.message
        if self.reason:
            out["reason"] = self.reason
            out["params"] = self.params
        if with_path:
            out["path"] = [h.to_json() for h in self.path]
        return out

    def body(self) -> bytes:
        """Serialised REST body."""
        return orjson.dumps(self.to_json())

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Answer:
        """Parse a REST body from another node; a malformed body raises ``HandleError``."""
        try:
            return cls._from_json(d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise HandleError(
                f"malformed answer from another node: {type(exc).__name__}: {exc}"
            ) from None

    @classmethod
    def _from_json(cls, d: dict[str, Any]) -> Answer:
        rc = int(d.get("responseCode", RC.ERROR))
        values = None
        if "values" in d:
            values = [HandleValue.from_stored(v) for v in d["values"]]
        referral = None
        if isinstance(d.get("referral"), dict):
            r = d["referral"]
            referral = Referral(
                prefix=str(r.get("prefix", "")),
                sites=tuple(
                    Site(s["url"], bool(s.get("primary")), s.get("name", ""))
                    for s in r.get("sites", ())
                ),
                ttl=int(r.get("ttl", 0)),
            )
        answer = cls(rc, str(d.get("handle", "")), values, referral, str(d.get("message", "")))
        reason, params = d.get("reason"), d.get("params")
        if isinstance(reason, str) and REASON.fullmatch(reason):
            answer.reason = reason
            if isinstance(params, dict) and len(params) <= MAX_PARAMS:
                answer.params = {
                    str(k)[:64]: str(v)[:MAX_PARAM_TEXT]
                    for k, v in params.items()
                    if isinstance(v, str | int)
                }
        return answer

    @property
    def min_ttl(self) -> int:
        """Shortest TTL among the values (how long the answer may be cached)."""
        return min((v.seconds_to_live() for v in self.values or ()), default=0)
