"""Shared helpers for the vulnerability tests: the vendored real CISA advisories."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

CSAF = Path(__file__).parent / "csaf"


def real(name: str) -> dict[str, Any]:
    """A vendored CISA advisory by its ``YYYY/name`` (without .json)."""
    return dict(orjson.loads((CSAF / f"{name}.json").read_bytes()))


def small_doc(tracking_id: str = "TEST-0001", **tree: Any) -> dict[str, Any]:
    """A minimal valid CSAF 2.0 security advisory built from a real one's document part."""
    doc = real("2021/icsa-21-068-05")
    out = copy.deepcopy(doc)
    out["document"]["tracking"]["id"] = tracking_id
    out["product_tree"] = tree.pop("product_tree")
    out["vulnerabilities"] = tree.pop("vulnerabilities")
    return out
