"""What a signed announcement costs over the same write without a signature.

    python bench/active_announce.py [N]

An embedded hierarchy on SQLite in a temporary directory; one active identifier per
algorithm. Each round writes ``ROUND`` announcements (status and firmware) through
``ids.active.announce`` — clock, signature, nonce recorded in the write's transaction,
``Node.put`` — signed beforehand, so the device's signing is not counted; and, as the
baseline, the same values with ``Node.put`` as the operator (no signature, no nonce).
Rounds alternate so all three see the same machine load. Prints the median per write, the
ratio to the baseline and the load average.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from indunet import core, ids
from indunet.core import Settings
from indunet.ids import active
from indunet.ids.values import now_timestamp
from indunet.web import build_state
from indunet.web.app import open_database
from indunet_device import DeviceKey, generate, sign_request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
ROUND = 100
PATH = "/api/v1/active/announce"


def signed(key: DeviceKey, handle: str, i: int) -> active.Request:
    raw = orjson.dumps({"handle": handle, "status": "running", "firmware": f"v{i}"})
    headers = sign_request(key, "POST", PATH, handle, raw)
    return active.Request("POST", PATH, {k.lower(): v for k, v in headers.items()}, raw)


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="active-bench-"))
    settings = Settings(data_dir=data, port=8000)
    engine = open_database(settings)
    state = build_state(settings, engine=engine, platform=False)
    node = state.hierarchy.front
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3K7LL1"), name="bench", actor="b", verified=True
        )
    ids.allocate(node, "88.100.1", ent, actor="b", secret="bench-secret-123")
    keys = {"ed25519": generate("ed25519"), "sm2": generate("sm2")}
    handles = {alg: f"88.100.1/ai-{alg}" for alg in keys}
    for alg, key in keys.items():
        active.enrol(node, ids.OPERATOR, handles[alg], key.hs_pubkey())
    base_handle = "88.100.1/ai-base"
    active.enrol(node, ids.OPERATOR, base_handle, generate("ed25519").hs_pubkey())
    # every signed request made before timing (the device's cost, not the node's)
    todo = {alg: [signed(k, handles[alg], i) for i in range(N)] for alg, k in keys.items()}
    times: dict[str, list[float]] = {"plain put": [], "ed25519": [], "sm2": []}

    def plain(i: int) -> None:
        values = [
            {"index": 2101, "type": "status", "data": "running"},
            {"index": 2102, "type": "firmware", "data": f"v{i}"},
            {"index": 2106, "type": "announced_at", "data": now_timestamp()},
        ]
        node.put(base_handle, values, ids.OPERATOR, indices=[2101, 2102, 2106])

    for r in range(N // ROUND):
        for name in times:
            for j in range(ROUND):
                i = r * ROUND + j
                t0 = time.perf_counter()
                if name == "plain put":
                    plain(i)
                else:
                    active.announce(node, todo[name][i])
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    base = med["plain put"]
    print(f"{N} writes each, SQLite, median per write (ms), load average {os.getloadavg()[0]:.2f}")
    for k, v in med.items():
        print(
            f"  {k:10s} {v:6.3f} ms   {1000 / v:8.0f} writes/s   ratio to plain put {v / base:.2f}"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
