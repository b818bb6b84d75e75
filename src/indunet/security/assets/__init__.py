"""The asset inventory (资产台账): every OT asset of an enterprise with CISA's attributes, from
the platform's device registry, passive discovery and identification, CSV files and people,
merged with the reasons kept; zones and conduits (IEC 62443). docs/security/assets.md."""

from .attributes import ASSET_TYPES, CRITICALITIES, PRECEDENCE, check_spec
from .devicesync import DeviceSync, device_values
from .discovery import Discovery
from .identify import ODVA_VENDORS, identify
from .observe import Observation
from .store import Asset, Assets, Detail, Merge
from .zones import Conduit, Zone, Zones

__all__ = [
    "ASSET_TYPES",
    "CRITICALITIES",
    "ODVA_VENDORS",
    "PRECEDENCE",
    "Asset",
    "Assets",
    "Conduit",
    "Detail",
    "DeviceSync",
    "Discovery",
    "Merge",
    "Observation",
    "Zone",
    "Zones",
    "check_spec",
    "device_values",
    "identify",
]
