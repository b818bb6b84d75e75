"""ATT&CK for ICS, read from the vendored STIX bundle (``security/data/ics-attack.json``):
tactics in matrix order, techniques, assets, mitigations, the v18 detection model, and the
Navigator layer export. docs/security/attack.md."""

from .index import (
    Analytic,
    Asset,
    AttackIndex,
    DetectionStrategy,
    Mitigation,
    Tactic,
    Technique,
    index,
)
from .navigator import navigator_layer

__all__ = [
    "Analytic",
    "Asset",
    "AttackIndex",
    "DetectionStrategy",
    "Mitigation",
    "Tactic",
    "Technique",
    "index",
    "navigator_layer",
]
