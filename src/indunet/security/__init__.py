"""The security situational awareness platform (安全态势感知平台), enterprise and platform level.

Events from every source (``events.SecurityEvent``) pass through one ``Hub`` to detection,
asset discovery and storage; detection raises ``Alert``s into cases. docs/security/.
"""

from .alerts import Alert, AlertSink
from .events import SOURCES, SecurityEvent, event_from_dict
from .hub import Hub, HubFull, Receipt
from .service import Security
from .vulns.matcher import AssetFacts, MatchableAsset
from .vulns.service import ImportReport, Vulnerabilities

__all__ = [
    "SOURCES",
    "Alert",
    "AlertSink",
    "AssetFacts",
    "Hub",
    "HubFull",
    "ImportReport",
    "MatchableAsset",
    "Receipt",
    "Security",
    "SecurityEvent",
    "Vulnerabilities",
    "event_from_dict",
]
