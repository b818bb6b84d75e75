"""Apps that misbehave, for the sandbox's tests (imported only inside worker processes)."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any


def scale(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    print("an app's print goes to stderr, not into the answer")
    return {"y": [x * parameters.get("k", 1) for x in inputs["x"]]}


def raises(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("bad reading")


def loops(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    n = 0
    while True:
        n += 1


def sleeps(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    import time

    time.sleep(3600)
    return {}


def hoards(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    blocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]  # 4 GiB
    return {"n": len(blocks)}


def dials(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", 5432), timeout=1):
        return {"connected": True}


def writes(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    with open(inputs["path"], "w") as f:
        f.write("x")
    return {"written": True}


def spawns(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    subprocess.run(["/bin/true"], check=True)
    return {"spawned": True}


def exits(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    os._exit(3)


def answers_nothing(inputs: dict[str, Any], parameters: dict[str, Any]) -> Any:
    return [1, 2, 3]


def deletes(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    os.unlink(inputs["path"])
    return {"deleted": True}


def renames(inputs: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    os.rename(inputs["path"], inputs["path"] + ".moved")
    return {"renamed": True}
