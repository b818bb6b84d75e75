"""The model library: Thing Models shipped with Indunet (``library/*.tm.json``)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from indunet.devices.models import ThingModel
from indunet.devices.thingmodel import parse_model

LIBRARY_DIR = Path(__file__).parent / "library"


@functools.cache
def _documents() -> tuple[dict[str, Any], ...]:
    return tuple(
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(LIBRARY_DIR.glob("*.tm.json"))
    )


@functools.cache
def _models() -> tuple[ThingModel, ...]:
    return tuple(parse_model(doc) for doc in _documents())


def library_documents() -> list[dict[str, Any]]:
    """The library's Thing Model documents as JSON objects (copies: change them freely)."""
    return [copy.deepcopy(d) for d in _documents()]


def library_models() -> list[ThingModel]:
    """The library's models, parsed (air compressor, CNC machine, env sensor, excavator, meter)."""
    return list(_models())
