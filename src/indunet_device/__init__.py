"""The device side of Indunet's active identifiers (主动标识), usable without the platform.

A device (or the gateway it sits behind) keeps its private key, and with it announces its
status, firmware, location and links to its identifier's record, or rotates its key. It
needs the standard library, ``cryptography`` for Ed25519 and SM3, and ``gmalglib`` for SM2
keys only (imported when an SM2 key is used). The wire format is docs/ids/active.md's.
"""

from indunet_device.client import ActiveClient, ActiveError
from indunet_device.keys import DeviceKey, generate, load_key
from indunet_device.signing import sign_request

__all__ = ["ActiveClient", "ActiveError", "DeviceKey", "generate", "load_key", "sign_request"]
