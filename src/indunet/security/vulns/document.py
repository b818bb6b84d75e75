"""A CSAF 2.0 document read into what matching needs: products and vulnerabilities.

The product tree is walked once (`products`): each leaf of ``branches`` (vendor → product_family
→ product_name → product_version / product_version_range) becomes a `Product` carrying the
vendor, name and version text of its ancestors; ``full_product_names`` become products with only
a name (and helpers); each ``relationships`` entry becomes a product that takes its vendor and name
from ``relates_to_product_reference`` (the device) and its version from ``product_reference`` (the
firmware installed on it). Identification helpers kept: cpe, purl, model_numbers, skus,
serial_numbers (hashes and x_generic_uris are ignored).

The document is expected to have passed the schema (`vulns.schema`); this module still reads it
defensively (a missing field is an empty one), so a bug upstream cannot raise here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

AFFECTED_STATUSES = ("known_affected", "first_affected", "last_affected", "under_investigation")
CLEAR_STATUSES = ("fixed", "first_fixed", "known_not_affected")
REMEDIATION_ORDER = ("vendor_fix", "workaround", "mitigation", "no_fix_planned", "none_available")
MAX_TEXT = 4000  # remediation and note text kept per item


@dataclass(frozen=True)
class Product:
    """One product of the tree, with its ancestors' vendor, name and version text."""

    product_id: str
    name: str  # the full product name
    vendor: str | None = None
    product: str | None = None  # the product_name branch, else the full name
    family: str | None = None
    version: str | None = None  # product_version or product_version_range text
    version_is_range: bool = False
    cpe: str | None = None
    purl: str | None = None
    model_numbers: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    serial_numbers: tuple[str, ...] = ()
    relationship: str | None = None  # e.g. 'installed_on' for a relationship product

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (stored with the advisory)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Product:
        """The inverse of `to_json`."""
        values = dict(data)
        for name in ("model_numbers", "skus", "serial_numbers"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


@dataclass(frozen=True)
class Remediation:
    """What the advisory says to do, for some of its products."""

    category: str
    details: str
    url: str | None
    product_ids: tuple[str, ...]


@dataclass(frozen=True)
class Vulnerability:
    """One entry of the document's ``vulnerabilities``."""

    cve: str | None
    title: str
    cwe: str | None
    score: float | None  # CVSS v3 base score, else v2
    vector: str | None
    severity: str | None  # none / low / medium / high / critical
    status: Mapping[str, tuple[str, ...]]
    remediations: tuple[Remediation, ...]
    notes: tuple[str, ...] = field(default=())

    def affected_ids(self) -> set[str]:
        """Product ids listed as affected (or under investigation)."""
        return {p for s in AFFECTED_STATUSES for p in self.status.get(s, ())}

    @cached_property
    def status_of(self) -> dict[str, str]:
        """Each listed product id's status (the first list naming it)."""
        out: dict[str, str] = {}
        for status, ids in self.status.items():
            for pid in ids:
                out.setdefault(pid, status)
        return out

    @cached_property
    def _best_remediation(self) -> dict[str, Remediation]:
        out: dict[str, Remediation] = {}
        for r in sorted(self.remediations, key=lambda r: _rank(r.category)):
            for pid in r.product_ids:
                out.setdefault(pid, r)
        return out

    def remediation_for(self, product_id: str) -> Remediation | None:
        """The most useful remediation naming `product_id` (a vendor fix before a workaround…)."""
        return self._best_remediation.get(product_id)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (stored with the advisory)."""
        return {
            "cve": self.cve,
            "title": self.title,
            "cwe": self.cwe,
            "score": self.score,
            "vector": self.vector,
            "severity": self.severity,
            "status": {k: list(v) for k, v in self.status.items()},
            "remediations": [
                {
                    "category": r.category,
                    "details": r.details,
                    "url": r.url,
                    "product_ids": list(r.product_ids),
                }
                for r in self.remediations
            ],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Vulnerability:
        """The inverse of `to_json`."""
        return cls(
            cve=d.get("cve"),
            title=d.get("title") or "",
            cwe=d.get("cwe"),
            score=d.get("score"),
            vector=d.get("vector"),
            severity=d.get("severity"),
            status={k: tuple(v) for k, v in (d.get("status") or {}).items()},
            remediations=tuple(
                Remediation(
                    r["category"],
                    r.get("details") or "",
                    r.get("url"),
                    tuple(r.get("product_ids") or ()),
                )
                for r in d.get("remediations") or ()
            ),
            notes=tuple(d.get("notes") or ()),
        )


def _rank(category: str) -> int:
    return (
        REMEDIATION_ORDER.index(category)
        if category in REMEDIATION_ORDER
        else len(REMEDIATION_ORDER)
    )


@dataclass(frozen=True)
class Advisory:
    """A CSAF document as matching needs it."""

    tracking_id: str
    title: str
    publisher: str
    tlp: str | None
    version: str
    initial_release: str
    current_release: str
    products: tuple[Product, ...]
    vulnerabilities: tuple[Vulnerability, ...]

    def product(self, product_id: str) -> Product | None:
        """The product of that id, if the tree has it."""
        for p in self.products:
            if p.product_id == product_id:
                return p
        return None


def read_advisory(doc: Mapping[str, Any]) -> Advisory:
    """Read a (schema-valid) CSAF document."""
    meta = _map(doc.get("document"))
    tracking = _map(meta.get("tracking"))
    tlp = _map(_map(meta.get("distribution")).get("tlp")).get("label")
    return Advisory(
        tracking_id=str(tracking.get("id") or ""),
        title=str(meta.get("title") or ""),
        publisher=str(_map(meta.get("publisher")).get("name") or ""),
        tlp=str(tlp) if tlp else None,
        version=str(tracking.get("version") or ""),
        initial_release=str(tracking.get("initial_release_date") or ""),
        current_release=str(tracking.get("current_release_date") or ""),
        products=tuple(products(_map(doc.get("product_tree")))),
        vulnerabilities=tuple(_vulnerability(v) for v in _list(doc.get("vulnerabilities"))),
    )


def products(tree: Mapping[str, Any]) -> Iterator[Product]:
    """Every product of a product tree: branch leaves, full product names, relationships."""
    seen: dict[str, Product] = {}
    for product in _branches(_list(tree.get("branches")), {}):
        seen.setdefault(product.product_id, product)
    for fpn in _list(tree.get("full_product_names")):
        named = _leaf(_map(fpn), {})
        if named is not None:
            seen.setdefault(named.product_id, named)
    for rel in _list(tree.get("relationships")):
        rel = _map(rel)
        fpn = _map(rel.get("full_product_name"))
        pid = fpn.get("product_id")
        device = seen.get(str(rel.get("relates_to_product_reference")))
        part = seen.get(str(rel.get("product_reference")))
        if not pid or device is None:
            continue
        seen.setdefault(
            str(pid),
            Product(
                product_id=str(pid),
                name=str(fpn.get("name") or device.name),
                vendor=device.vendor,
                product=device.product,
                family=device.family,
                version=part.version if part else None,
                version_is_range=part.version_is_range if part else False,
                cpe=device.cpe,
                purl=device.purl,
                model_numbers=device.model_numbers,
                skus=device.skus,
                serial_numbers=device.serial_numbers,
                relationship=str(rel.get("category") or ""),
            ),
        )
    yield from seen.values()


_CONTEXT = {
    "vendor": "vendor",
    "product_family": "family",
    "product_name": "product",
    "product_version": "version",
    "product_version_range": "version",
}


def _branches(branches: Sequence[Any], context: dict[str, Any]) -> Iterator[Product]:
    for branch in branches:
        branch = _map(branch)
        category = str(branch.get("category") or "")
        here = dict(context)
        key = _CONTEXT.get(category)
        if key:
            here[key] = str(branch.get("name") or "")
            if category.startswith("product_version"):
                here["version_is_range"] = category == "product_version_range"
        if "product" in branch:
            product = _leaf(_map(branch["product"]), here)
            if product is not None:
                yield product
        yield from _branches(_list(branch.get("branches")), here)


def _leaf(product: Mapping[str, Any], context: Mapping[str, Any]) -> Product | None:
    pid = product.get("product_id")
    if not pid:
        return None
    helper = _map(product.get("product_identification_helper"))
    name = str(product.get("name") or "")
    return Product(
        product_id=str(pid),
        name=name,
        vendor=context.get("vendor"),
        product=context.get("product") or name,
        family=context.get("family"),
        version=context.get("version"),
        version_is_range=bool(context.get("version_is_range")),
        cpe=_str(helper.get("cpe")),
        purl=_str(helper.get("purl")),
        model_numbers=tuple(str(m) for m in _list(helper.get("model_numbers"))),
        skus=tuple(str(m) for m in _list(helper.get("skus"))),
        serial_numbers=tuple(str(m) for m in _list(helper.get("serial_numbers"))),
    )


def _vulnerability(v: Any) -> Vulnerability:
    v = _map(v)
    score, vector, severity = _best_score(_list(v.get("scores")))
    cwe = _map(v.get("cwe"))
    status = {
        k: tuple(str(p) for p in _list(ids)) for k, ids in _map(v.get("product_status")).items()
    }
    remediations = tuple(
        Remediation(
            category=str(r.get("category") or ""),
            details=str(r.get("details") or "")[:MAX_TEXT],
            url=_str(r.get("url")),
            product_ids=tuple(str(p) for p in _list(r.get("product_ids"))),
        )
        for r in map(_map, _list(v.get("remediations")))
    )
    notes = tuple(str(_map(n).get("text") or "")[:MAX_TEXT] for n in _list(v.get("notes")))
    return Vulnerability(
        cve=_str(v.get("cve")),
        title=str(v.get("title") or "")[:500],
        cwe=_str(cwe.get("id")),
        score=score,
        vector=vector,
        severity=severity,
        status=status,
        remediations=remediations,
        notes=notes,
    )


def _best_score(scores: Sequence[Any]) -> tuple[float | None, str | None, str | None]:
    """The highest CVSS v3 base score (else v2), its vector and severity."""
    best: tuple[float | None, str | None, str | None] = (None, None, None)
    for s in map(_map, scores):
        for key in ("cvss_v3", "cvss_v2"):
            cvss = _map(s.get(key))
            base = cvss.get("baseScore")
            if isinstance(base, (int, float)) and (best[0] is None or base > best[0]):
                sev = cvss.get("baseSeverity")
                best = (
                    float(base),
                    _str(cvss.get("vectorString")),
                    str(sev).lower() if sev else severity_of(base),
                )
            if base is not None and key == "cvss_v3":
                break
    return best


def severity_of(score: float) -> str:
    """The CVSS v3 qualitative rating of a base score."""
    if score == 0:
        return "none"
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    if score < 9.0:
        return "high"
    return "critical"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


def _str(value: Any) -> str | None:
    if isinstance(value, dict):
        return None
    return str(value) if value else None
