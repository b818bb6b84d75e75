"""Event ingest from the tools plants already run: Zeek (TSV and JSON, with CISA's ICSNPP
logs), Suricata EVE and syslog, by file tail, syslog listeners and HTTP; docs/security/ingest.md.
"""

from .common import FORMATS, MAX_LINE, BadLine, LineError
from .reader import LineBroken, Reader, read_text

__all__ = ["FORMATS", "MAX_LINE", "BadLine", "LineBroken", "LineError", "Reader", "read_text"]
