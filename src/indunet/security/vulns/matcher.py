"""Matching assets against advisories: vendor, then product, then version.

Assets come from the asset inventory through the small `MatchableAsset` protocol below, so this
module does not depend on how the inventory stores them; whoever wires the two passes a callable
that lists assets.

Steps, for each asset:

1. **Vendor**: the asset's vendor and the advisory's vendor branch are reduced by
   `vendors.canonical` (alias table, case, punctuation, legal suffixes). Only products of the same
   canonical vendor are compared by name. A product without a vendor (a bare
   ``full_product_names`` entry) can still match by an identifier (step 2).
2. **Product identity**, strongest first: a model number equal to one of the product's
   ``model_numbers`` (after folding case and spaces; an ``X`` in a Siemens-style order number
   such as ``6ES7518-4AX00-1AB0`` stands for any one character), the same CPE vendor:product, the
   same purl without version, else the product name compared with rapidfuzz ``token_set_ratio``
   on folded text (vendor words removed). ``≥ STRONG_NAME`` (90) counts as the same product;
   ``≥ PROBABLE_NAME`` (75) as probably the same. The numbers in the names must not disagree:
   when both names hold numbers (``1500`` and ``1516`` in ``S7-1500 CPU 1516-3``), one name's
   numbers must all be in the other's (``CP 400-1`` is not ``CP 443-1``, however alike the
   letters); when one holds none, the two must be nearly equal whole
   (``token_sort_ratio ≥ STRONG_NAME``). token_set_ratio scores 100 whenever one name's words
   are a subset of the other's, so "SIMATIC" alone would otherwise match every SIMATIC product.
3. **Version**: the asset's firmware against the product's version or range
   (`versions.parse_range`).

State: **confirmed** when identity is strong, the version is in the range and the product is
``known_affected`` (or first/last_affected); **probable** when identity is only probable or the
advisory states no version; **needs_review** when a version string was not understood, the asset
has no version, or the product is ``under_investigation``. Not in range: no match. A product the
advisory lists as fixed / known_not_affected whose range holds the asset's version clears it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from rapidfuzz import fuzz, process

from indunet.security.vulns.document import CLEAR_STATUSES, Advisory, Product, Vulnerability
from indunet.security.vulns.vendors import canonical
from indunet.security.vulns.versions import Verdict, parse_range, parse_version

STRONG_NAME = 90.0
PROBABLE_NAME = 75.0
STATES = ("confirmed", "probable", "needs_review", "dismissed")
_STATE_RANK = {"confirmed": 0, "probable": 1, "needs_review": 2}


@runtime_checkable
class MatchableAsset(Protocol):
    """What matching reads of an asset (the inventory's asset satisfies it, or an adapter does).

    - ``id``: the asset's id (stable; matches are keyed by it).
    - ``enterprise_id``: the enterprise the asset belongs to; its matches belong there too.
    - ``vendor``: the manufacturer as the inventory knows it (any spelling: aliases are folded).
    - ``product``: the product or model name ("SIMATIC S7-1500 CPU 1516-3 PN/DP"), may be None.
    - ``version``: the firmware/software version as read ("V2.9 SP2"), may be None.
    - ``cpe`` / ``purl``: identifiers if the inventory has them.
    - ``model_numbers``: order numbers (MLFB, catalogue numbers), exact strings.
    - ``serial`` / ``sku``: kept for display and exact identity, may be None.
    """

    @property
    def id(self) -> int: ...
    @property
    def enterprise_id(self) -> int: ...
    @property
    def vendor(self) -> str | None: ...
    @property
    def product(self) -> str | None: ...
    @property
    def version(self) -> str | None: ...
    @property
    def cpe(self) -> str | None: ...
    @property
    def purl(self) -> str | None: ...
    @property
    def model_numbers(self) -> Sequence[str]: ...
    @property
    def serial(self) -> str | None: ...
    @property
    def sku(self) -> str | None: ...


@dataclass(frozen=True)
class AssetFacts:
    """A plain `MatchableAsset` (tests, benches, and adapters use it)."""

    id: int
    enterprise_id: int
    vendor: str | None
    product: str | None
    version: str | None
    cpe: str | None = None
    purl: str | None = None
    model_numbers: Sequence[str] = ()
    serial: str | None = None
    sku: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One asset affected (or maybe affected) by one vulnerability of one advisory."""

    asset_id: int
    enterprise_id: int
    advisory_id: int
    cve: str  # the CVE, or the vulnerability's title/position when it has none
    product_id: str
    state: str
    why: dict[str, Any]
    score: float | None
    vector: str | None
    severity: str | None
    remediation_category: str | None
    remediation_text: str | None
    remediation_url: str | None


@dataclass
class _Entry:
    advisory_id: int
    advisory: Advisory
    product: Product


@dataclass
class AdvisoryIndex:
    """Affected products of many advisories, indexed by vendor, name and identifiers."""

    by_vendor: dict[str, dict[str, list[_Entry]]] = field(default_factory=lambda: defaultdict(dict))
    by_model: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    model_patterns: dict[str, list[tuple[re.Pattern[str], _Entry]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_cpe: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    by_purl: dict[str, list[_Entry]] = field(default_factory=lambda: defaultdict(list))
    advisories: dict[int, Advisory] = field(default_factory=dict)
    _choices: dict[str, list[str]] = field(default_factory=dict)

    def choices(self, vendor: str) -> list[str]:
        """The folded product names of a vendor (a list kept between calls for rapidfuzz)."""
        found = self._choices.get(vendor)
        if found is None:
            found = self._choices[vendor] = list(self.by_vendor.get(vendor, {}))
        return found

    def add(self, advisory_id: int, advisory: Advisory) -> None:
        """Index the products of one advisory that some vulnerability names (replacing it)."""
        if advisory_id in self.advisories:
            self.remove({advisory_id})
        self.advisories[advisory_id] = advisory
        self._choices.clear()
        named = {p for v in advisory.vulnerabilities for p in v.affected_ids()}
        for product in advisory.products:
            if product.product_id not in named:
                continue
            entry = _Entry(advisory_id, advisory, product)
            vendor = canonical(product.vendor)
            if vendor:
                text = fold_product(product.product or product.name, vendor)
                if text:
                    self.by_vendor[vendor].setdefault(text, []).append(entry)
            for model in product.model_numbers:
                key = fold_model(model)
                if _MLFB.match(key) and "X" in key[4:]:
                    pattern = re.compile(
                        re.escape(key[:4]) + key[4:].replace("X", "[A-Z0-9]") + "$"
                    )
                    self.model_patterns[key[:4]].append((pattern, entry))
                elif key:
                    self.by_model[key].append(entry)
            cpe = cpe_key(product.cpe) if product.cpe else None
            if cpe:
                self.by_cpe[cpe].append(entry)
            if product.purl:
                self.by_purl[purl_key(product.purl)].append(entry)

    def remove(self, advisory_ids: set[int]) -> None:
        """Forget advisories (before re-adding a new revision)."""
        self._choices.clear()
        for ident in advisory_ids:
            self.advisories.pop(ident, None)

        def keep(entries: list[_Entry]) -> list[_Entry]:
            return [e for e in entries if e.advisory_id not in advisory_ids]

        for names in self.by_vendor.values():
            for text in list(names):
                names[text] = keep(names[text])
                if not names[text]:
                    del names[text]
        for table in (self.by_model, self.by_cpe, self.by_purl):
            for key in list(table):
                table[key] = keep(table[key])
        for key, patterns in list(self.model_patterns.items()):
            self.model_patterns[key] = [
                (p, e) for p, e in patterns if e.advisory_id not in advisory_ids
            ]


_MLFB = re.compile(r"^\d[A-Z]{2}\d")
_SPLIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_NON_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=65536)
def fold_product(name: str, vendor: str | None) -> str:
    """Product text for comparison: folded, punctuation removed, vendor words dropped."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    drop = set((vendor or "").split())
    words = [w for w in text.split() if w not in drop]
    return " ".join(words)


def fold_model(model: str) -> str:
    """A model/order number folded for exact comparison (case and spaces)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", model)).upper()


def cpe_key(cpe: str) -> str | None:
    """'cpe:2.3:h:siemens:s7-1500:…' → 'h:siemens:s7-1500' (part, vendor, product)."""
    parts = cpe.lower().split(":")
    if cpe.lower().startswith("cpe:2.3:") and len(parts) >= 5:
        return ":".join(parts[2:5])
    if cpe.lower().startswith("cpe:/") and len(parts) >= 4:
        return ":".join([parts[1].lstrip("/"), parts[2], parts[3]])
    return None


def cpe_version(cpe: str) -> str | None:
    """The version field of a CPE, when it names one."""
    parts = cpe.split(":")
    index = 5 if cpe.lower().startswith("cpe:2.3:") else 4
    value = parts[index] if len(parts) > index else ""
    return None if value in ("", "*", "-") else value.replace("\\", "")


def purl_key(purl: str) -> str:
    """A purl without its version, qualifiers and subpath."""
    base = purl.split("#", 1)[0].split("?", 1)[0]
    return base.rsplit("@", 1)[0].lower()


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def name_score(asset_text: str, product_text: str) -> float:
    """The name similarity used for identity (0–100; see the module docstring)."""
    score = fuzz.token_set_ratio(asset_text, product_text)
    return _guarded(asset_text, product_text, score)


def _guarded(asset_text: str, product_text: str, score: float) -> float:
    """Lower a name score that the numbers in the two names contradict (see the module doc)."""
    if score < PROBABLE_NAME:
        return score
    a = {t for t in _SPLIT.sub(" ", asset_text).split() if _has_digit(t)}
    b = {t for t in _SPLIT.sub(" ", product_text).split() if _has_digit(t)}
    if a and b:
        return score if a <= b or b <= a else min(score, PROBABLE_NAME - 1)
    if fuzz.token_sort_ratio(asset_text, product_text) >= STRONG_NAME:
        return score
    return min(score, PROBABLE_NAME - 1)


def match(index: AdvisoryIndex, assets: Iterable[MatchableAsset]) -> list[Candidate]:
    """Every candidate match of these assets against the index (best per asset/advisory/CVE)."""
    best: dict[tuple[int, int, str], Candidate] = {}
    for asset in assets:
        for candidate in _match_one(index, asset):
            key = (candidate.asset_id, candidate.advisory_id, candidate.cve)
            old = best.get(key)
            if old is None or _better(candidate, old):
                best[key] = candidate
    return list(best.values())


def _better(a: Candidate, b: Candidate) -> bool:
    ra, rb = _STATE_RANK[a.state], _STATE_RANK[b.state]
    if ra != rb:
        return ra < rb
    return float(a.why["identity"]["score"]) > float(b.why["identity"]["score"])


def _identities(
    index: AdvisoryIndex, asset: MatchableAsset
) -> list[tuple[_Entry, str, float, str]]:
    """(entry, how, score, compared text) for every product the asset may be."""
    found: list[tuple[_Entry, str, float, str]] = []
    models = [fold_model(m) for m in asset.model_numbers if m]
    for model in models:
        for entry in index.by_model.get(model, ()):
            found.append((entry, "model_number", 100.0, model))
        for pattern, entry in index.model_patterns.get(model[:4], ()):
            if pattern.match(model):
                found.append((entry, "model_number", 100.0, model))
    if asset.cpe and (key := cpe_key(asset.cpe)):
        for entry in index.by_cpe.get(key, ()):
            found.append((entry, "cpe", 100.0, asset.cpe))
    if asset.purl:
        for entry in index.by_purl.get(purl_key(asset.purl), ()):
            found.append((entry, "purl", 100.0, asset.purl))
    vendor = canonical(asset.vendor)
    names = index.by_vendor.get(vendor) if vendor else None
    if names and vendor and asset.product:
        text = fold_product(asset.product, vendor)
        if text:
            hits = process.extract(
                text,
                index.choices(vendor),
                scorer=fuzz.token_set_ratio,
                score_cutoff=PROBABLE_NAME,
                limit=None,
            )
            for product_text, raw_score, _ in hits:
                score = _guarded(text, product_text, raw_score)
                if score >= PROBABLE_NAME:
                    for entry in names[product_text]:
                        found.append((entry, "name", float(score), text))
    return found


def _match_one(index: AdvisoryIndex, asset: MatchableAsset) -> Iterable[Candidate]:
    version = parse_version(asset.version) if asset.version else None
    for entry, how, score, text in _identities(index, asset):
        product = entry.product
        range_ = parse_range(product.version) if product.version else None
        verdict = Verdict.AFFECTED if range_ is None else range_.affects(version)
        if verdict is Verdict.NOT_AFFECTED:
            continue
        strong = how != "name" or score >= STRONG_NAME
        understood = bool(range_ is None or range_.understood) and (
            version is not None or not asset.version
        )
        base_why = {
            "vendor": {
                "asset": asset.vendor,
                "advisory": product.vendor,
                "canonical": canonical(asset.vendor),
            },
            "identity": {
                "by": how,
                "score": round(score, 1),
                "asset": text,
                "product": product.name,
            },
            "version": {
                "asset": asset.version,
                "range": product.version,
                "understood": understood,
                "verdict": verdict.value,
            },
            "relationship": product.relationship,
        }
        for position, vuln in enumerate(entry.advisory.vulnerabilities):
            status = vuln.status_of.get(product.product_id)
            if status is None or status in CLEAR_STATUSES or status == "recommended":
                continue
            if verdict is Verdict.AFFECTED and _cleared(entry, vuln, version):
                continue
            if verdict is Verdict.UNKNOWN or status == "under_investigation":
                state = "needs_review"
            elif strong and range_ is not None:
                state = "confirmed"
            else:
                state = "probable"
            yield _candidate(entry, vuln, position, asset, state, dict(base_why, status=status))


def _candidate(
    entry: _Entry,
    vuln: Vulnerability,
    position: int,
    asset: MatchableAsset,
    state: str,
    why: dict[str, Any],
) -> Candidate:
    pid = entry.product.product_id
    remediation = vuln.remediation_for(pid)
    return Candidate(
        asset_id=int(asset.id),
        enterprise_id=int(asset.enterprise_id),
        advisory_id=entry.advisory_id,
        cve=vuln.cve or f"#{position + 1}",
        product_id=pid,
        state=state,
        why=why,
        score=vuln.score,
        vector=vuln.vector,
        severity=vuln.severity,
        remediation_category=remediation.category if remediation else None,
        remediation_text=remediation.details if remediation else None,
        remediation_url=remediation.url if remediation else None,
    )


def _cleared(entry: _Entry, vuln: Vulnerability, version: Any) -> bool:
    """True when a fixed / not-affected product of the same name holds the asset's version."""
    if version is None or not any(vuln.status.get(s) for s in CLEAR_STATUSES):
        return False
    for status in CLEAR_STATUSES:
        for pid in vuln.status.get(status, ()):
            other = entry.advisory.product(pid)
            if other is None or other.product != entry.product.product or not other.version:
                continue
            if parse_range(other.version).affects(version) is Verdict.AFFECTED:
                return True
    return False
