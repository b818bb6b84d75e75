"""A blocking client for a node's active-identifier API, on the standard library's urllib."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any

from indunet_device.keys import DeviceKey
from indunet_device.signing import KEY_INDEX, rotation_proof, sign_request

ANNOUNCE = "/api/v1/active/announce"
ROTATE = "/api/v1/active/rotate"


class ActiveError(Exception):
    """The node refused a request: its HTTP status, reason code and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class ActiveClient:
    """One device's identifier at one node (``base_url`` such as ``https://idnode:8000``)."""

    def __init__(
        self, base_url: str, handle: str, key: DeviceKey, *, timeout: float = 10.0
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, not {base_url[:80]!r}")
        self.base_url = base_url.rstrip("/")
        self.handle, self.key, self.timeout = handle, key, timeout
        self.key_index = KEY_INDEX

    def _post(self, path: str, doc: dict[str, Any], nonce: str | None = None) -> dict[str, Any]:
        body = json.dumps(doc, ensure_ascii=False).encode()
        headers = sign_request(
            self.key, "POST", path, self.handle, body, key_index=self.key_index, nonce=nonce
        )
        headers["Content-Type"] = "application/json"
        url = self.base_url + path  # http(s) only: checked in __init__
        req = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                out: dict[str, Any] = json.loads(resp.read())
                return out
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())
            except ValueError:
                err = {}
            raise ActiveError(
                exc.code, str(err.get("reason", err.get("code", ""))), str(err.get("message", ""))
            ) from None

    def announce(self, *, device: str | None = None, **fields: Any) -> dict[str, Any]:
        """Set ``status``, ``firmware``, ``location`` and/or ``links``; ``device`` names the
        device record of the platform this identifier belongs to (linked by the platform)."""
        doc: dict[str, Any] = {"handle": self.handle, **fields}
        if device is not None:
            doc["device"] = device
        return self._post(ANNOUNCE, doc)

    def rotate(self, new_key: DeviceKey) -> dict[str, Any]:
        """Replace the key in the record by ``new_key``; from then on sign with it."""
        nonce = secrets.token_urlsafe(18)
        doc = {
            "handle": self.handle,
            "key": new_key.hs_pubkey(),
            "proof": rotation_proof(new_key, self.handle, nonce),
        }
        out = self._post(ROTATE, doc, nonce=nonce)
        self.key = new_key
        return out
