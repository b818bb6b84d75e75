"""Checking CSAF 2.0 documents against the vendored OASIS schema (see README.md here).

The validator is built once (`validator()`, cached): the CSAF schema (draft 2020-12) and the three
FIRST CVSS schemas it references are loaded from this folder into a `referencing.Registry`, so a
``$ref`` to ``https://www.first.org/cvss/cvss-v3.1.json`` resolves locally and no request leaves the
machine; an unknown reference fails instead of being fetched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4, DRAFT7, DRAFT202012

HERE = Path(__file__).parent
MAX_PROBLEMS = 5  # problems named per document
_CVSS = {
    "https://www.first.org/cvss/cvss-v2.0.json": ("cvss-v2.0.json", DRAFT4),
    "https://www.first.org/cvss/cvss-v3.0.json": ("cvss-v3.0.json", DRAFT7),
    "https://www.first.org/cvss/cvss-v3.1.json": ("cvss-v3.1.json", DRAFT7),
}


@dataclass(frozen=True)
class Problem:
    """One schema violation: where in the document (a JSON path) and what is wrong."""

    path: str
    message: str


def _no_fetch(uri: str) -> Resource[Any]:
    raise NoSuchResource(uri)


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    """The compiled CSAF 2.0 validator (built once per process)."""
    csaf = json.loads((HERE / "csaf_json_schema.json").read_text(encoding="utf-8"))
    resources: list[tuple[str, Resource[Any]]] = [(csaf["$id"], DRAFT202012.create_resource(csaf))]
    for uri, (name, spec) in _CVSS.items():
        schema = json.loads((HERE / name).read_text(encoding="utf-8"))
        resources.append((uri, spec.create_resource(schema)))
    registry: Registry[Any] = Registry(retrieve=_no_fetch).with_resources(resources)  # type: ignore[call-arg]
    return Draft202012Validator(csaf, registry=registry)


def problems(document: Mapping[str, Any], limit: int = MAX_PROBLEMS) -> list[Problem]:
    """The first `limit` schema problems of a document (empty when it is valid)."""
    found: list[Problem] = []
    for error in validator().iter_errors(document):
        found.append(Problem(error.json_path, _short(error.message)))
        if len(found) >= limit:
            break
    return found


def _short(message: str) -> str:
    return message if len(message) <= 300 else message[:297] + "..."
