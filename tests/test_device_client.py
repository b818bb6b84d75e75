"""The device client stands alone: it imports no platform code, only the standard library,
cryptography and (for SM2 keys) gmalglib."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from indunet_device import generate, sign_request
for alg in ("ed25519", "sm2"):
    key = generate(alg)
    headers = sign_request(key, "POST", "/api/v1/active/announce", "88.100.1/ai-1", b"{}")
    assert len(headers) == 4 and key.hs_pubkey()
loaded = sorted(m for m in sys.modules if m == "indunet" or m.startswith("indunet."))
third = sorted({m.split(".")[0] for m in sys.modules} & {"httpx", "sqlalchemy", "fastapi", "orjson"})
print(loaded, third)
"""


def test_the_device_client_imports_no_platform_code() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[] []", out.stdout + out.stderr
