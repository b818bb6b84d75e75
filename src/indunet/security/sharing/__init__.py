"""Threat-information sharing: STIX 2.1 bundles out of our records and into our collections,
served over TAXII 2.1 (``indunet.web.api.taxii``) and pulled from other TAXII servers
(``feeds``). docs/security/stix.md, docs/security/taxii.md.
"""

from .export import Producer, VulnerabilityMatch, bundle, bundle_bytes, export_objects
from .importing import Imported, import_bundle, import_objects, order, parse
from .publish import collection_bundle, publish
from .stixids import record_id, sco_id, stamp
from .store import Collection, Outcome

__all__ = [
    "Collection",
    "Imported",
    "Outcome",
    "Producer",
    "VulnerabilityMatch",
    "bundle",
    "bundle_bytes",
    "collection_bundle",
    "export_objects",
    "import_bundle",
    "import_objects",
    "order",
    "parse",
    "publish",
    "record_id",
    "sco_id",
    "stamp",
]
