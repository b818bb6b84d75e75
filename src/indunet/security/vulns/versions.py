"""OT firmware and software version strings, and the ranges advisories state them in.

Vendors of industrial equipment write versions in many ways: ``V4.1.4``, ``v2.9 SP2``,
``V3.2 HF3``, ``V16 Update 6``, ``4.1.4.0``, ``R2.3.1``, ``FW 1.02``, ``3.4.4 Build 161024``,
``02.07.07(10)``. `parse_version` reads them into a `Version` whose key orders them:

- a prefix (``V``, ``v.``, ``R``, ``FW``, ``firmware``, ``version``) is dropped;
- the release is the dotted numbers, each with an optional letter suffix (``1.04E``, ``R16A``);
  trailing ``.0`` segments do not count (``4.1.4 == 4.1.4.0``);
- then service-pack, update, hotfix/patch and build numbers, compared in that order
  (``V2.9 < V2.9 SP1 < V2.9 SP1 HF1 < V2.9 SP2``; ``V16 Update 6 < V16 SP1``).

`parse_range` reads what an advisory says is affected: ``All versions``, ``< V4.1.4``,
``>= V3.0 < V3.2``, ``All versions < V5.0``, ``V2.0 and prior``, ``prior to V3.1``,
``versions 1.0 through 2.3``, ``8.1.x``, ``9.6 | 9.8`` and ``vers:`` URIs (the purl-spec
version range specifier: ``vers:<scheme>/<constraint>|<constraint>…``, comparators
``= != < <= > >=`` and ``*``; CISA writes ``vers:all/…``, sometimes without ``|`` between two
constraints). Containment follows vers: equality constraints first, then the comparators
sorted by version and paired into intervals.

Anything not understood is never dropped: `parse_version` returns None, `parse_range` returns a
`VersionRange` with ``understood=False`` and the raw text, and `affects` answers `Verdict.UNKNOWN`,
which a match records as "needs review".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

MAX_TEXT = 200  # longer version strings are not parsed (kept verbatim, needs review)

Segment = tuple[int, str]
"""One release segment: its number and a lower-case letter suffix ('' when none)."""


class Verdict(enum.Enum):
    """Whether a version lies in an affected range."""

    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    UNKNOWN = "unknown"  # a string was not understood, or the two cannot be compared


@dataclass(frozen=True, order=False)
class Version:
    """A parsed version: `key` orders versions of one `kind` ('release' or 'date')."""

    raw: str
    kind: str
    key: tuple[object, ...]

    def compare(self, other: Version) -> int | None:
        """-1, 0 or 1; None when the two kinds cannot be compared."""
        if self.kind != other.kind:
            return None
        a, b = self.key, other.key
        return (a > b) - (a < b)


_PREFIX = re.compile(r"^(?:firmware|version|fw|ver\.?|rev\.?|v\.?|r)\s*(?=\d)", re.I)
_SEGMENT = re.compile(r"(\d{1,12})([a-z]{0,2})$")
# suffix words and the slot each fills (sp, update, hotfix/patch, build)
_SLOTS = {
    "sp": 0,
    "servicepack": 0,
    "update": 1,
    "upd": 1,
    "u": 1,
    "hf": 2,
    "hotfix": 2,
    "hotfixrev": 2,
    "patch": 2,
    "p": 2,
    "build": 3,
    "b": 3,
}
_SUFFIX = re.compile(
    r"[\s_]*(service\s*pack|hotfixrev|hotfix|update|upd|build|patch|sp|hf|u|p|b)[\s_.]*(\d{1,12}(?:\.\d{1,12})*)",
    re.I,
)
_PAREN_BUILD = re.compile(r"\((\d{1,12})\)$")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TEXT_DATE = re.compile(r"^([a-z]{3})[a-z]*[\s/.]+(\d{1,2})(?:st|nd|rd|th)?[\s/,.]+(\d{4})$", re.I)


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """Parse one version string; None when it is not understood (never guessed)."""
    raw = text.strip()
    if not raw or len(raw) > MAX_TEXT:
        return None
    date = _parse_date(raw)
    if date is not None:
        return Version(raw, "date", date)
    rest = _PREFIX.sub("", raw).strip()
    slots: list[tuple[int, ...]] = [(), (), (), ()]
    paren = _PAREN_BUILD.search(rest)
    if paren:
        slots[3] = (int(paren.group(1)),)
        rest = rest[: paren.start()]
    first = _SUFFIX.search(rest)
    release_text = rest if first is None else rest[: first.start()]
    tail = "" if first is None else rest[first.start() :]
    pos = 0
    while pos < len(tail):
        m = _SUFFIX.match(tail, pos)
        if m is None:
            return None
        word = re.sub(r"\s+", "", m.group(1).lower())
        slots[_SLOTS[word]] = _numbers(m.group(2))
        pos = m.end()
    release = _release(release_text.strip()) if release_text.strip() or not tail else ()
    if release is None:
        return None
    return Version(raw, "release", (release, tuple(slots)))


def _numbers(text: str) -> tuple[int, ...]:
    """'3.5' → (3, 5), trailing zeros dropped ('0' → ()): SP0 is no service pack."""
    values = [int(p) for p in text.split(".")]
    while values and values[-1] == 0:
        values.pop()
    return tuple(values)


def _release(text: str) -> tuple[Segment, ...] | None:
    if not text:
        return None
    parts = re.split(r"[.\-_]", text.lower())
    segments: list[Segment] = []
    for part in parts:
        m = _SEGMENT.fullmatch(part)
        if m is None:
            return None
        segments.append((int(m.group(1)), m.group(2)))
    while len(segments) > 1 and segments[-1] == (0, ""):
        segments.pop()
    return tuple(segments)


def _parse_date(text: str) -> tuple[int, int, int] | None:
    m = _ISO_DATE.match(text)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    m = _TEXT_DATE.match(text)
    if m and m.group(1).lower() in _MONTHS:
        return int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2))
    return None


@dataclass(frozen=True)
class Constraint:
    """One signpost of a range: a comparator ('=', '!=', '<', '<=', '>', '>=', '*') and a version."""

    op: str
    version: Version | None  # None only for '*'


@dataclass(frozen=True)
class VersionRange:
    """What an advisory says is affected; `understood` False keeps `raw` for a person to read."""

    raw: str
    understood: bool
    constraints: tuple[Constraint, ...] = ()
    prefix: tuple[Segment, ...] | None = None  # '8.1.x': every release starting 8.1

    def affects(self, version: Version | None) -> Verdict:
        """Whether `version` is in this range (UNKNOWN when either side is not understood)."""
        if not self.understood:
            return Verdict.UNKNOWN
        if any(c.op == "*" for c in self.constraints):
            return Verdict.AFFECTED
        if version is None:
            return Verdict.UNKNOWN
        if self.prefix is not None:
            return _prefix_verdict(self.prefix, version)
        return _vers_contains(self.constraints, version)


def _prefix_verdict(prefix: tuple[Segment, ...], version: Version) -> Verdict:
    if version.kind != "release":
        return Verdict.UNKNOWN
    release = version.key[0]
    assert isinstance(release, tuple)
    padded = tuple(release) + ((0, ""),) * len(prefix)
    return Verdict.AFFECTED if padded[: len(prefix)] == prefix else Verdict.NOT_AFFECTED


def _vers_contains(constraints: tuple[Constraint, ...], version: Version) -> Verdict:
    comparisons: list[tuple[str, int]] = []
    for c in constraints:
        assert c.version is not None
        order = version.compare(c.version)
        if order is None:
            return Verdict.UNKNOWN
        comparisons.append((c.op, order))
    for op, order in comparisons:
        if op == "=" and order == 0:
            return Verdict.AFFECTED
        if op == "!=" and order == 0:
            return Verdict.NOT_AFFECTED
    bounds = sorted(
        (c for c in constraints if c.op in ("<", "<=", ">", ">=")),
        key=lambda c: c.version.key if c.version else (),  # one kind: checked above
    )
    i = 0
    while i < len(bounds):
        low = bounds[i]
        if low.op in ("<", "<="):
            if _within(version, None, low):
                return Verdict.AFFECTED
            i += 1
            continue
        high = bounds[i + 1] if i + 1 < len(bounds) and bounds[i + 1].op in ("<", "<=") else None
        if _within(version, low, high):
            return Verdict.AFFECTED
        i += 2 if high is not None else 1
    if (
        any(op == "!=" for op, _ in comparisons)
        and not bounds
        and not any(op == "=" for op, _ in comparisons)
    ):
        return Verdict.AFFECTED  # only exclusions: everything else is in
    return Verdict.NOT_AFFECTED


def _within(version: Version, low: Constraint | None, high: Constraint | None) -> bool:
    if low is not None and low.version is not None:
        order = version.compare(low.version)
        if order is None or order < 0 or (order == 0 and low.op == ">"):
            return False
    if high is not None and high.version is not None:
        order = version.compare(high.version)
        if order is None or order > 0 or (order == 0 and high.op == "<"):
            return False
    return True


_ALL = re.compile(r"^(?:all|any)\s+versions?\b[\s,:]*", re.I)
_OP = re.compile(r"(<=|>=|!=|==|=|<|>)")
_AND = re.compile(r"\s*(?:\band\b|,|&&)\s*", re.I)
_PRIOR = re.compile(r"^(?:prior\s+to|before|earlier\s+than|older\s+than|below)\s+(.+)$", re.I)
_AND_PRIOR = re.compile(r"^(.+?)\s+(?:and|or)\s+(?:prior|earlier|before|older|below)$", re.I)
_AND_LATER = re.compile(r"^(.+?)\s+(?:and|or)\s+(?:later|newer|above|higher)$", re.I)
_UP_TO = re.compile(r"^up\s+to\s+(?:and\s+including\s+)?(.+)$", re.I)
_THROUGH = re.compile(r"^(?:versions?\s+)?(.+?)\s+(?:through|thru|to)\s+(.+)$", re.I)
_WILDCARD = re.compile(r"^(?:v\.?\s*)?((?:\d{1,12}\.)+)[x*]$", re.I)


@lru_cache(maxsize=65536)
def parse_range(text: str) -> VersionRange:
    """Parse an affected-versions expression; not understood is kept verbatim (needs review)."""
    raw = text.strip()
    if len(raw) > MAX_TEXT:
        return VersionRange(raw, False)
    if raw.lower().startswith("vers:"):
        return _parse_vers(raw)
    body = _ALL.sub("", raw).strip()
    if not body:
        if raw and _ALL.match(raw):
            return VersionRange(raw, True, (Constraint("*", None),))
        return VersionRange(raw, False)
    return _parse_words(raw, body)


def _parse_vers(raw: str) -> VersionRange:
    scheme, sep, body = raw[5:].partition("/")
    if not sep or not scheme:
        return VersionRange(raw, False)
    body = body.strip()
    if body == "*":
        return VersionRange(raw, True, (Constraint("*", None),))
    constraints = _constraints(body.replace("|", " "))
    if constraints is None:
        return VersionRange(raw, False)
    return VersionRange(raw, True, constraints)


def _parse_words(raw: str, body: str) -> VersionRange:
    for pattern, op in ((_PRIOR, "<"), (_AND_PRIOR, "<="), (_AND_LATER, ">="), (_UP_TO, "<=")):
        m = pattern.match(body)
        if m:
            v = parse_version(m.group(1))
            return VersionRange(raw, True, (Constraint(op, v),)) if v else VersionRange(raw, False)
    m = _WILDCARD.match(body)
    if m:
        release = _release(m.group(1).rstrip("."))
        if release is None:
            return VersionRange(raw, False)
        return VersionRange(raw, True, prefix=tuple(release))
    if not _OP.search(body):
        m = _THROUGH.match(body)
        if m:
            low, high = parse_version(m.group(1)), parse_version(m.group(2))
            if low and high:
                return VersionRange(raw, True, (Constraint(">=", low), Constraint("<=", high)))
            return VersionRange(raw, False)
        items = [p.strip() for p in body.split("|")]
        versions = [parse_version(p) for p in items]
        if all(versions):
            return VersionRange(raw, True, tuple(Constraint("=", v) for v in versions))
        return VersionRange(raw, False)
    constraints = _constraints(_AND.sub(" ", body.replace("|", " ")))
    if constraints is None:
        return VersionRange(raw, False)
    return VersionRange(raw, True, constraints)


def _constraints(body: str) -> tuple[Constraint, ...] | None:
    """'>= V3.0 < V3.2' → two constraints; None when any piece is not a version."""
    pieces = _OP.split(body)
    head = pieces[0].strip()
    out: list[Constraint] = []
    if head:  # a bare version before the first comparator: an equality
        v = parse_version(head)
        if v is None:
            return None
        out.append(Constraint("=", v))
    for i in range(1, len(pieces), 2):
        op = "=" if pieces[i] == "==" else pieces[i]
        text = pieces[i + 1].strip()
        v = parse_version(text)
        if v is None:
            return None
        out.append(Constraint(op, v))
    if not out:
        return None
    kinds = {c.version.kind for c in out if c.version}
    if len(kinds) > 1:
        return None
    return tuple(out)
