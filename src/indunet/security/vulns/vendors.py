"""Vendor names as advisories and inventories write them, reduced to one canonical vendor.

`normalise` folds width and case (NFKC + casefold), turns punctuation into spaces and drops legal
suffixes (AG, GmbH, Inc., Co., Ltd., Corporation, SE, 有限公司, 股份有限公司…). `canonical` then
looks the result up in the alias table (data/vendors.json: 西门子 / Siemens AG / SIEMENS → siemens);
a vendor not in the table is its own canonical name, so two spellings that normalise alike still
meet.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

ALIASES_FILE = Path(__file__).parent / "data" / "vendors.json"

_LEGAL_ZH = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团|公司)$")
_LEGAL = {
    "ag", "gmbh", "inc", "incorporated", "co", "company", "ltd", "limited", "llc", "corp",
    "corporation", "se", "sa", "s a", "spa", "bv", "nv", "plc", "kg", "kgaa", "oy", "ab", "as",
    "pty", "pte", "srl", "sas", "group", "holding", "holdings", "international", "technologies",
    "technology", "tech", "electric", "electronics", "automation", "&",
}  # fmt: skip
_KEEP_WORDS = {"electric", "electronics", "automation", "technology", "technologies"}
_PUNCT = re.compile(r"[^\w&]+")


@lru_cache(maxsize=8192)
def normalise(name: str) -> str:
    """A vendor name folded for comparison: 'SIEMENS AG' → 'siemens', '西门子有限公司' → '西门子'."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = _LEGAL_ZH.sub("", text)
    text = re.sub(r"[（(][^）)]*[）)]", " ", text)  # a bracketed country or division
    words = [w for w in _PUNCT.sub(" ", text).replace("_", " ").split() if w]
    while len(words) > 1 and words[-1] in _LEGAL and words[-1] not in _KEEP_WORDS:
        words.pop()
    while len(words) > 1 and words[-1] == "&":
        words.pop()
    return " ".join(words)


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    raw = json.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for canon, aliases in raw.items():
        if canon.startswith("_"):
            continue
        for alias in [canon, *aliases]:
            table.setdefault(normalise(alias), canon)
            table.setdefault(_strip_all(normalise(alias)), canon)
    return table


def _strip_all(norm: str) -> str:
    words = norm.split()
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    return " ".join(words)


@lru_cache(maxsize=8192)
def canonical(name: str | None) -> str | None:
    """The canonical vendor of a name (None for an empty name)."""
    if not name or not name.strip():
        return None
    norm = normalise(name)
    table = _table()
    return table.get(norm) or table.get(_strip_all(norm)) or _strip_all(norm) or None
